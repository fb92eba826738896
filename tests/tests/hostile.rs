//! Reliability, round two: desyncs and hangs a hostile server can cause, each refused. Scripted
//! peers on loopback and real redis-servers under faults; blocking and tokio alike.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use redpipe::core::VecPipeline;
use redpipe::error::{DecodeError, Failure};
use redpipe::prelude::*;
use redpipe::tokio::AsyncConnection;
use redpipe::{Connection, ConnectionInfo, Connections, Error, Handle};
use redpipe_tests::peer::{Commands, fake_server, finishes_within, read_commands};
use redpipe_tests::{Options, RedisServer};

/// A client-tracking invalidation, as Redis 7 pushes it: 48 bytes.
const PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$10\r\nsome:key:1\r\n";

/// A server that answers `ECHO one`, then sends `between` while no command is waiting, then
/// answers the next pipeline's commands with `answers`.
fn after_one(between: Vec<u8>, answers: &'static [u8]) -> ConnectionInfo {
    fake_server(move |mut s: TcpStream| {
        read_commands(&mut s, 1);
        s.write_all(b"$3\r\none\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(&between).unwrap();
        read_commands(&mut s, 1);
        let _ = s.write_all(answers);
        std::thread::sleep(Duration::from_millis(500));
    })
}

fn echo(p: &mut VecPipeline, text: &str) -> Deferred<String> {
    p.echo::<String>(text).unwrap()
}

/// 84 kB of pushes (more than the 64 KiB a read buffer starts with), then a stray reply.
fn pushes_then_stray() -> Vec<u8> {
    let mut bytes = PUSH.repeat(84_000 / PUSH.len());
    bytes.extend_from_slice(b"$5\r\nSTRAY\r\n");
    bytes
}

#[test]
fn a_stray_reply_behind_more_than_a_buffer_of_pushes_is_refused() {
    let mut conn = Connection::open(&after_one(pushes_then_stray(), b"$3\r\ntwo\r\n")).unwrap();
    let mut p = VecPipeline::new();
    let one = echo(&mut p, "one");
    conn.execute(&mut p).unwrap();
    assert_eq!(one.read(&p).unwrap(), "one");
    std::thread::sleep(Duration::from_millis(300));
    let mut p = VecPipeline::new();
    let two = echo(&mut p, "two");
    let err = conn.execute(&mut p).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert!(two.read(&p).is_err(), "{:?}", two.read(&p));
    // The pushes before it were read and set aside, not taken as replies.
    assert_eq!(p.pushes_seen(), (84_000 / PUSH.len()) as u64);
}

#[tokio::test]
async fn a_stray_reply_behind_more_than_a_buffer_of_pushes_is_refused_async() {
    let info = after_one(pushes_then_stray(), b"$3\r\ntwo\r\n");
    let mut conn = AsyncConnection::open(&info).await.unwrap();
    let mut p = VecPipeline::new();
    let one = echo(&mut p, "one");
    conn.execute(&mut p).await.unwrap();
    assert_eq!(one.read(&p).unwrap(), "one");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut p = VecPipeline::new();
    let two = echo(&mut p, "two");
    let err = conn.execute(&mut p).await.unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert!(two.read(&p).is_err());
}

#[test]
fn a_partial_push_or_attribute_header_between_pipelines_shifts_no_reply() {
    for header in [&b">2\r\n"[..], b"|1\r\n"] {
        let info = after_one(header.to_vec(), b"$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
        let mut conn = Connection::open(&info).unwrap();
        let mut p = VecPipeline::new();
        let one = echo(&mut p, "one");
        conn.execute(&mut p).unwrap();
        assert_eq!(one.read(&p).unwrap(), "one");
        std::thread::sleep(Duration::from_millis(200));
        // The header never completes: the pipeline is not sent on a stream whose position is
        // unknown, and no handle reads another command's reply.
        let mut p = VecPipeline::new();
        let hs = [echo(&mut p, "a"), echo(&mut p, "b"), echo(&mut p, "c")];
        let err = conn.execute(&mut p).unwrap_err();
        assert!(err.is_timeout(), "{header:?}: {err:?}");
        for h in hs {
            assert!(
                matches!(h.read(&p), Err(SlotError::Failed(_))),
                "{header:?}: {:?}",
                h.read(&p)
            );
        }
        assert!(conn.is_broken());
    }
}

#[tokio::test]
async fn a_reply_written_on_accept_is_refused_before_the_reactor_saw_it() {
    let info = fake_server(|mut s: TcpStream| {
        s.write_all(b"$5\r\nstray\r\n").unwrap();
        read_commands(&mut s, 1);
        let _ = s.write_all(b"$4\r\nmine\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let mut conn = AsyncConnection::open(&info).await.unwrap();
    // Work that does not yield: the reactor has not polled the socket yet.
    std::thread::sleep(Duration::from_millis(100));
    let mut p = VecPipeline::new();
    let mine = echo(&mut p, "mine");
    let err = conn.execute(&mut p).await.unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert!(mine.read(&p).is_err());
}

/// A server that answers a `GET` by trickling: a bulk header, then one byte (or one push) every
/// `every`, forever. Each read is in time; the pipeline never completes.
fn trickling(pushes: bool, every: Duration) -> ConnectionInfo {
    let mut info = fake_server(move |mut s: TcpStream| {
        read_commands(&mut s, 1);
        if !pushes {
            s.write_all(b"$1000000\r\n").unwrap();
        }
        loop {
            std::thread::sleep(every);
            let chunk = if pushes { PUSH } else { b"x" };
            if s.write_all(chunk).is_err() {
                return;
            }
        }
    });
    info.pipeline_timeout = Some(Duration::from_secs(3));
    info
}

#[test]
fn a_trickling_server_cannot_hold_a_pipeline_past_its_deadline() {
    for (pushes, every) in [(false, 50), (true, 100)] {
        let info = trickling(pushes, Duration::from_millis(every));
        let (err, slot) = finishes_within(Duration::from_secs(20), move || {
            let mut conn = Connection::open(&info).unwrap();
            let mut p = VecPipeline::new();
            let v = p.get::<Option<String>>("k").unwrap();
            let err = conn.execute(&mut p).unwrap_err();
            (err, v.read(&p).map(|_| ()).map_err(|e| e.to_string()))
        });
        assert!(err.is_timeout(), "pushes: {pushes}: {err:?}");
        assert!(slot.is_err());
    }
}

#[test]
fn a_trickling_server_cannot_hold_an_async_pipeline_past_its_deadline() {
    for (pushes, every) in [(false, 50), (true, 100)] {
        let info = trickling(pushes, Duration::from_millis(every));
        let err = finishes_within(Duration::from_secs(20), move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = AsyncConnection::open(&info).await.unwrap();
                let mut p = VecPipeline::new();
                let _ = p.get::<Option<String>>("k").unwrap();
                conn.execute(&mut p).await.unwrap_err()
            })
        });
        assert!(err.is_timeout(), "pushes: {pushes}: {err:?}");
    }
}

#[tokio::test]
async fn a_cancelled_async_execute_fails_every_handle_and_pools_nothing() {
    // Answers the first of two commands, then stalls. On a connection of its own (a shared
    // connection keeps going after a cancelled run: see `tests/shared.rs`).
    let info = fake_server(|mut s: TcpStream| {
        read_commands(&mut s, 2);
        s.write_all(b":1\r\n").unwrap();
        std::thread::sleep(Duration::from_secs(3));
    })
    .multiplexed(0);
    let r = Connections::new();
    r.register(redpipe::DEFAULT, info).unwrap();
    let mut p = r.pipe();
    let first = p.incr("a");
    let second = p.incr("b");
    let sum = p.on_execute({
        let (a, b) = (first.clone(), second.clone());
        move |_| a.result().unwrap() + b.result().unwrap()
    });
    let run = tokio::time::timeout(Duration::from_millis(300), p.execute_async()).await;
    assert!(run.is_err(), "the run was cut short");
    // No handle is left pending: the answer that came is kept, the rest is cancelled, and the
    // callback did not run.
    assert_eq!(first.result().unwrap(), 1);
    assert!(matches!(
        second.result(),
        Err(Error::Failed(Failure::Cancelled))
    ));
    assert!(matches!(
        sum.result(),
        Err(Error::Failed(Failure::Cancelled))
    ));
    // The connection was in the middle of a reply: not pooled. The next run opens another
    // (which the one-connection fake refuses).
    let mut p = r.pipe();
    let again: Handle<i64> = p.incr("a");
    assert!(p.execute_async().await.is_err());
    assert!(again.result().is_err());
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
}

#[test]
fn a_connection_closed_between_pipelines_is_replaced_without_opting_in_to_retries() {
    let mut server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    let run = |r: &Connections| {
        let mut p = r.pipe();
        let n = p.incr("n");
        p.execute().map(|()| n.result().unwrap())
    };
    assert_eq!(run(&r).unwrap(), 1);
    // The server closes the idle connection (CLIENT KILL, an idle `timeout`).
    server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(run(&r).unwrap(), 2);
    // The server restarts (its data with it).
    server.restart();
    assert_eq!(run(&r).unwrap(), 1);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 3);
}

#[test]
fn a_tls_connection_closed_between_pipelines_is_replaced() {
    let server = RedisServer::start_tls();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, &server.tls_url()).unwrap();
    for expected in 1..=2 {
        let mut p = r.pipe();
        let n = p.incr("n");
        p.execute().unwrap();
        assert_eq!(n.result().unwrap(), expected);
        server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn a_connection_closed_between_async_pipelines_is_replaced() {
    let mut server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    for expected in 1..=2 {
        let mut p = r.pipe();
        let n = p.incr("n");
        p.execute_async().await.unwrap();
        assert_eq!(n.result().unwrap(), expected);
        server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // After a restart the next pipeline connects again.
    server.restart();
    let mut p = r.pipe();
    let n = p.incr("n");
    p.execute_async().await.unwrap();
    assert_eq!(n.result().unwrap(), 1);
}

#[test]
fn replies_that_arrived_before_a_failed_write_are_kept() {
    // A 2 MB argument over `proto-max-bulk-len`: Redis answers the commands before it, refuses
    // the rest with its own error and closes while the client is still writing.
    let server = RedisServer::with(Options {
        extra: vec!["--proto-max-bulk-len".into(), "1mb".into()],
        ..Options::default()
    });
    let mut conn = Connection::open(&server.info()).unwrap();
    let mut p = VecPipeline::new();
    let first = p.incr("n").unwrap();
    let big = p
        .query::<()>(cmd("SET").arg("big").arg("x".repeat(20_000_000)))
        .unwrap();
    let after = p.incr("n").unwrap();
    let err = conn.execute(&mut p).unwrap_err();
    assert!(matches!(err, Error::Io(_) | Error::Closed), "{err:?}");
    assert_eq!(first.read(&p), Ok(1));
    match big.read(&p) {
        Err(SlotError::Server(e)) => assert!(e.to_string().contains("Protocol error"), "{e}"),
        other => panic!("Redis's own error is lost: {other:?}"),
    }
    assert!(matches!(after.read(&p), Err(SlotError::Failed(_))));
}

#[test]
fn maxclients_without_setup_shows_the_servers_message() {
    let server = RedisServer::with(Options {
        extra: vec!["--maxclients".into(), "1".into()],
        ..Options::default()
    });
    let mut holder = Connection::open(&server.info()).unwrap();
    let mut p = VecPipeline::new();
    let _ = p.ping().unwrap();
    holder.execute(&mut p).unwrap();

    let mut refused = Connection::open(&server.info()).unwrap(); // no setup: no round trip
    std::thread::sleep(Duration::from_millis(100));
    let mut p = VecPipeline::new();
    let ping = p.ping().unwrap();
    match refused.execute(&mut p) {
        Err(Error::Unsolicited(e)) => {
            assert!(e.to_string().contains("max number of clients"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(ping.read(&p).is_err());
}

#[test]
fn hello_must_answer_with_a_map() {
    let mut info = fake_server(|mut s: TcpStream| {
        read_commands(&mut s, 1);
        s.write_all(b"+OK\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    info.resp3 = true;
    let err = Connection::open(&info).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
}

#[test]
fn large_replies_stay_within_the_servers_output_buffer_limit() {
    // Redis drops a client whose unread replies pass 1 MB.
    let server = RedisServer::with(Options {
        extra: vec![
            "--client-output-buffer-limit".into(),
            "normal 1mb 0 0".into(),
        ],
        ..Options::default()
    });
    server.cli(&["SET", "big", &"v".repeat(100_000)]);
    let run = |window_bytes: usize| {
        let mut info = server.info();
        info.window_bytes = window_bytes;
        let mut conn = Connection::open(&info).unwrap();
        let mut p = VecPipeline::new();
        let gets: Vec<_> = (0..1000)
            .map(|_| p.get::<Vec<u8>>("big").unwrap())
            .collect();
        let result = conn.execute(&mut p);
        let ok = gets
            .iter()
            .filter(|h| matches!(h.read(&p), Ok(v) if v.len() == 100_000))
            .count();
        (result, ok)
    };
    // Without a byte window the whole command window goes out at once, and Redis drops the
    // connection.
    let (result, _) = run(0);
    assert!(result.is_err(), "expected Redis to drop the client");
    // With the default one, every reply arrives.
    let (result, ok) = run(redpipe::core::DEFAULT_WINDOW_BYTES);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(ok, 1000);
}

/// A server with TCP back-pressure: it answers each command with its argument, and while a
/// reply cannot be written it reads nothing.
fn echoing_with_backpressure() -> ConnectionInfo {
    fake_server(|mut s: TcpStream| {
        let mut commands = Commands::default();
        while let Some(words) = commands.next(&mut s) {
            let arg = words.get(1).cloned().unwrap_or_default();
            let mut reply = format!("${}\r\n", arg.len()).into_bytes();
            reply.extend_from_slice(&arg);
            reply.extend_from_slice(b"\r\n");
            if s.write_all(&reply).is_err() {
                return;
            }
        }
    })
}

#[test]
fn a_client_never_waits_to_write_on_a_server_that_waits_for_it_to_read() {
    let run = |window_bytes: usize| {
        let mut info = echoing_with_backpressure();
        info.window_bytes = window_bytes;
        finishes_within(Duration::from_secs(60), move || {
            let mut conn = Connection::open(&info).unwrap();
            let mut p = VecPipeline::new();
            let arg = "e".repeat(256 * 1024);
            let echoes: Vec<_> = (0..64).map(|_| p.echo::<Vec<u8>>(&arg).unwrap()).collect();
            let result = conn.execute(&mut p);
            let ok = echoes
                .iter()
                .filter(|h| matches!(h.read(&p), Ok(v) if v.len() == arg.len()))
                .count();
            (result.map_err(|e| e.is_timeout()), ok)
        })
    };
    // 16 MB each way: with only the command window both sides block on full socket buffers
    // until the timeout.
    assert_eq!(run(0).0, Err(true));
    assert_eq!(run(redpipe::core::DEFAULT_WINDOW_BYTES), (Ok(()), 64));
}

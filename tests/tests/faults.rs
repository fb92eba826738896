//! What the client guarantees when the server or the network misbehaves: every slot resolves
//! (with its reply or a clean error), nothing hangs past its timeout, no reply lands in another
//! command's slot, memory stays within the configured limits. Real redis-server processes and a
//! scripted fake server, on loopback only.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::Write;
use std::time::Duration;

use redpipe::core::{Limits, VecPipeline};
use redpipe::error::{DecodeError, Failure, IoKind, ServerErrorKind};
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo, Connections, Error, Handle};
use redpipe_tests::peer::{fake_server, read_commands};
use redpipe_tests::{Options, RedisServer};

fn three(p: &mut VecPipeline) -> [Deferred<i64>; 3] {
    [
        p.incr("a").unwrap(),
        p.incr("b").unwrap(),
        p.incr("c").unwrap(),
    ]
}

#[test]
fn garbage_is_a_protocol_error_for_every_waiting_slot() {
    let info = fake_server(|mut s| {
        read_commands(&mut s, 3);
        s.write_all(b":1\r\n?this is not RESP\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let [a, b, c] = three(&mut p);
    let err = conn.execute(&mut p).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnknownType(b'?'))),
        "{err:?}"
    );
    assert_eq!(a.read(&p), Ok(1));
    let want = Err(SlotError::Failed(Failure::Protocol(
        DecodeError::UnknownType(b'?'),
    )));
    assert_eq!((b.read(&p), c.read(&p)), (want.clone(), want));
    assert!(conn.is_broken());
}

#[test]
fn a_truncated_reply_then_close_fails_the_rest() {
    let info = fake_server(|mut s| {
        read_commands(&mut s, 3);
        s.write_all(b":1\r\n:2").unwrap();
    });
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let [a, b, c] = three(&mut p);
    assert!(matches!(conn.execute(&mut p), Err(Error::Closed)));
    assert_eq!(a.read(&p), Ok(1));
    assert_eq!(b.read(&p), Err(SlotError::Failed(Failure::Closed)));
    assert_eq!(c.read(&p), Err(SlotError::Failed(Failure::Closed)));
}

#[test]
fn a_reply_for_a_command_never_sent_is_refused() {
    // In the same read as the real replies.
    let info = fake_server(|mut s| {
        read_commands(&mut s, 3);
        s.write_all(b":1\r\n:2\r\n:3\r\n:4\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let [a, _, _] = three(&mut p);
    let err = conn.execute(&mut p).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert_eq!(a.read(&p), Ok(1));

    // Arriving after the pipeline was complete: the next pipeline must not take it as its own.
    let info = stray_between_pipelines();
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let first = p.incr("x").unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(first.read(&p), Ok(1));
    std::thread::sleep(Duration::from_millis(300));
    let mut p = VecPipeline::new();
    let second = p.incr("x").unwrap();
    let err = conn.execute(&mut p).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert_ne!(second.read(&p), Ok(999));
    assert!(second.read(&p).is_err());
}

/// A server that answers one `INCR` with `:1`, sends `:999` (answering nothing) once the
/// pipeline is complete, then answers the next `INCR` with `:2`.
fn stray_between_pipelines() -> ConnectionInfo {
    fake_server(|mut s| {
        read_commands(&mut s, 1);
        s.write_all(b":1\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b":999\r\n").unwrap(); // answers nothing
        read_commands(&mut s, 1);
        s.write_all(b":2\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
    })
}

#[tokio::test]
async fn a_stray_reply_between_async_pipelines_is_refused() {
    let mut conn = redpipe::tokio::AsyncConnection::open(&stray_between_pipelines())
        .await
        .unwrap();
    let mut p = VecPipeline::new();
    let first = p.incr("x").unwrap();
    conn.execute(&mut p).await.unwrap();
    assert_eq!(first.read(&p), Ok(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut p = VecPipeline::new();
    let second = p.incr("x").unwrap();
    let err = conn.execute(&mut p).await.unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::UnexpectedReply)),
        "{err:?}"
    );
    assert!(second.read(&p).is_err());
}

#[test]
fn huge_lengths_and_deep_nesting_fail_at_once_without_allocating_for_them() {
    for (reply, want) in [
        (
            b"$4611686018427387904\r\n".to_vec(),
            DecodeError::BulkTooLong { len: 1 << 62 },
        ),
        (
            b"*4611686018427387904\r\n".to_vec(),
            DecodeError::TooManyElements { count: 1 << 62 },
        ),
        (b"*1\r\n".repeat(1_000_000), DecodeError::TooDeep),
    ] {
        let info = fake_server(move |mut s| {
            read_commands(&mut s, 1);
            let _ = s.write_all(&reply);
            std::thread::sleep(Duration::from_millis(300));
        });
        let mut conn = Connection::open(&info).unwrap();
        let mut p = VecPipeline::new();
        let a = p.incr("a").unwrap();
        let err = conn.execute(&mut p).unwrap_err();
        assert!(matches!(err, Error::Protocol(e) if e == want), "{err:?}");
        assert_eq!(a.read(&p), Err(SlotError::Failed(Failure::Protocol(want))));
    }
}

#[test]
fn an_endless_reply_is_cut_off_at_the_reply_limit() {
    let info = fake_server(|mut s| {
        read_commands(&mut s, 1);
        let _ = s.write_all(b"*1000000\r\n");
        let chunk = b"$10\r\n0123456789\r\n".repeat(1000);
        while s.write_all(&chunk).is_ok() {}
    });
    let mut info = info;
    info.limits = Limits {
        max_reply_len: 1 << 20,
        ..Limits::default()
    };
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let a = p
        .query::<redpipe::Value>(cmd("LRANGE").arg("l").arg(0).arg(-1))
        .unwrap();
    let err = conn.execute(&mut p).unwrap_err();
    assert!(
        matches!(err, Error::Protocol(DecodeError::ReplyTooLong)),
        "{err:?}"
    );
    assert!(matches!(
        a.read(&p),
        Err(SlotError::Failed(Failure::Protocol(_)))
    ));
}

#[test]
fn a_server_that_stalls_forever_times_out() {
    let info = fake_server(|mut s| {
        read_commands(&mut s, 3);
        s.write_all(b":1\r\n").unwrap();
        std::thread::sleep(Duration::from_secs(10)); // never answers the rest
    })
    .timeout(Duration::from_millis(300));
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let [a, b, c] = three(&mut p);
    let err = conn.execute(&mut p).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(a.read(&p), Ok(1));
    let want = Err(SlotError::Failed(Failure::Io(IoKind::TimedOut)));
    assert_eq!((b.read(&p), c.read(&p)), (want.clone(), want));
}

#[test]
fn sigstop_then_sigcont_times_out_and_nothing_is_misassigned() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(
        redpipe::DEFAULT,
        server.info().timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let n = r.autoexec(None, |p| Ok(p.incr("n"))).unwrap();
    assert_eq!(n.result().unwrap(), 1);

    server.signal("STOP");
    let mut p = r.pipe();
    let stalled: Vec<Handle<i64>> = (0..5).map(|_| p.incr("n")).collect();
    let err = p.execute().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    for h in &stalled {
        assert!(matches!(
            h.result(),
            Err(Error::Failed(Failure::Io(IoKind::TimedOut)))
        ));
    }
    server.signal("CONT");
    // The server still runs the stalled INCRs (2..=6) when it wakes up; their late replies go
    // to the dropped connection, never to the next pipeline.
    std::thread::sleep(Duration::from_millis(100));
    let mut p = r.pipe();
    let after: Vec<Handle<i64>> = (0..3).map(|_| p.incr("n")).collect();
    let echo: Handle<String> = p.query(cmd("ECHO").arg("mine"));
    p.execute().unwrap();
    let got: Vec<i64> = after.iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(got, [7, 8, 9]);
    assert_eq!(echo.result().unwrap(), "mine");
}

#[test]
fn output_larger_than_the_socket_buffers_while_the_server_is_slow() {
    let server = RedisServer::start();
    let info = server.info().timeout(Duration::from_secs(20));
    let mut conn = Connection::open(&info).unwrap();
    let value = "v".repeat(100);
    let mut p = VecPipeline::new();
    let sets: Vec<Deferred<()>> = (0..200_000)
        .map(|i| p.set(format!("k{i}"), value.as_str()).unwrap())
        .collect();
    let last = p.dbsize().unwrap();
    let pid = server.pid().unwrap();
    let pauser = std::thread::spawn(move || {
        for _ in 0..3 {
            let _ = std::process::Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(150));
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    conn.execute(&mut p).unwrap();
    pauser.join().unwrap();
    assert!(sets.iter().all(|h| h.read(&p) == Ok(())));
    assert_eq!(last.read(&p), Ok(200_000));
}

#[test]
fn auth_db_and_acl_failures_carry_the_servers_message() {
    let server = RedisServer::with(Options {
        password: Some("pw".into()),
        users: vec![("reader".into(), "r".into())],
        extra: vec![],
        ..Options::default()
    });
    server.cli(&[
        "-a", "pw", "ACL", "SETUSER", "reader", "-@all", "+get", "+ping",
    ]);
    let port = server.port();
    // Wrong password.
    let info: ConnectionInfo = format!("redis://:wrong@127.0.0.1:{port}").parse().unwrap();
    match Connection::open(&info) {
        Err(Error::Handshake { command, error }) => {
            assert_eq!(
                (command, error.kind()),
                ("AUTH", ServerErrorKind::WrongPass)
            );
        }
        other => panic!("{other:?}"),
    }
    // A database that does not exist.
    let info: ConnectionInfo = format!("redis://:pw@127.0.0.1:{port}/99").parse().unwrap();
    match Connection::open(&info) {
        Err(Error::Handshake { command, error }) => {
            assert_eq!(command, "SELECT");
            assert!(error.to_string().contains("out of range"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // An ACL user may GET but not SET: per-slot errors, the rest of the pipeline works.
    let info: ConnectionInfo = format!("redis://reader:r@127.0.0.1:{port}")
        .parse()
        .unwrap();
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let get = p.get::<Option<String>>("k").unwrap();
    let set = p.set("k", "v").unwrap();
    let ping = p.ping().unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(get.read(&p), Ok(None));
    match set.read(&p) {
        Err(SlotError::Server(e)) => {
            assert_eq!(e.kind(), ServerErrorKind::NoPerm);
            assert!(e.to_string().contains("set"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ping.read(&p), Ok("PONG"));
}

#[test]
fn a_hundred_threads_of_pipelines_each_get_their_own_results() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    std::thread::scope(|s| {
        for t in 0..100 {
            let r = r.clone();
            s.spawn(move || {
                let key = format!("thread:{t}");
                for i in 1..=1000i64 {
                    let mut p = r.pipe();
                    let n = p.incr(key.as_str());
                    let echo: Handle<String> = p.query(cmd("ECHO").arg(format!("{t}:{i}")));
                    p.execute().unwrap();
                    assert_eq!(n.result().unwrap(), i);
                    assert_eq!(echo.result().unwrap(), format!("{t}:{i}"));
                }
            });
        }
    });
    assert_eq!(server.cli(&["GET", "thread:42"]), "1000");
}

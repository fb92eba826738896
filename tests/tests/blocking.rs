//! Blocking commands against a real redis-server (issue 24, item 7): a `BLPOP` that waits longer
//! than the read timeout is not cut by it, `BLPOP k 0` waits as long as it takes, the connection
//! stays usable, and the plain read timeout applies again to the next pipeline: on a connection
//! of its own and on a shared one, blocking threads and tokio tasks alike.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::thread::JoinHandle;
use std::time::Duration;

use redpipe::core::VecPipeline;
use redpipe::mux::Sharing;
use redpipe::prelude::*;
use redpipe::tokio::AsyncConnection;
use redpipe::{Connection, ConnectionInfo, Connections, Handle};
use redpipe_tests::RedisServer;

/// Shorter than the wait before the push below, so that without the rule every `BLPOP` here
/// times out.
const READ_TIMEOUT: Duration = Duration::from_millis(300);

/// When the element a `BLPOP` waits for is pushed.
const PUSH_AFTER: Duration = Duration::from_millis(600);

type Popped = Option<(String, String)>;

fn info(server: &RedisServer) -> ConnectionInfo {
    server.info().timeout(READ_TIMEOUT)
}

/// Pushes `value` onto `key` after [`PUSH_AFTER`], from a connection of its own.
fn push_later(server: &RedisServer, key: &'static str, value: &'static str) -> JoinHandle<()> {
    let info = server.info();
    std::thread::spawn(move || {
        std::thread::sleep(PUSH_AFTER);
        let mut conn = Connection::open(&info).unwrap();
        let mut p = VecPipeline::new();
        let pushed = p.rpush(key, value).unwrap();
        conn.execute(&mut p).unwrap();
        assert_eq!(pushed.read(&p), Ok(1));
    })
}

/// Pauses every client for a second, longer than the read timeout but shorter than the
/// timeouts lengthened by the `BLPOP`s before: a command that is not cut at the read timeout
/// is answered and fails the test.
fn pause_server(server: &RedisServer) {
    assert_eq!(server.cli(&["CLIENT", "PAUSE", "1000", "ALL"]), "OK");
}

fn unpause_server(server: &RedisServer) {
    let _ = server.cli(&["CLIENT", "UNPAUSE"]);
}

/// `BLPOP key timeout` on `conn`, answered by a push after [`PUSH_AFTER`]; then `INCR`, to show
/// the connection is still in step.
fn blpop_answered_late(
    server: &RedisServer,
    conn: &mut Connection,
    key: &'static str,
    timeout: u64,
) {
    let pusher = push_later(server, key, "job");
    let mut p = VecPipeline::new();
    let popped = p.blpop::<Popped>(key, timeout).unwrap();
    conn.execute(&mut p).unwrap();
    pusher.join().unwrap();
    assert_eq!(popped.read(&p).unwrap(), Some((key.into(), "job".into())));
    let mut p = VecPipeline::new();
    let n = p.incr(key).unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(n.read(&p), Ok(1));
    assert!(conn.is_clean());
}

/// `GET` on `conn` while the server is paused: cut at the read timeout.
fn get_while_paused(server: &RedisServer, conn: &mut Connection) {
    pause_server(server);
    let mut p = VecPipeline::new();
    let _ = p.get::<Option<String>>("k").unwrap();
    let err = conn.execute(&mut p).unwrap_err();
    unpause_server(server);
    assert!(err.is_timeout(), "{err:?}");
}

#[test]
fn a_blocking_pop_waits_past_the_read_timeout_and_the_timeout_comes_back() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&info(&server)).unwrap();
    blpop_answered_late(&server, &mut conn, "one-second", 1);
    get_while_paused(&server, &mut conn);

    let mut conn = Connection::open(&info(&server)).unwrap();
    blpop_answered_late(&server, &mut conn, "forever", 0);
    get_while_paused(&server, &mut conn);
}

#[test]
fn a_blocking_pop_queued_by_hand_waits_too() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&info(&server)).unwrap();
    let pusher = push_later(&server, "by-hand", "job");
    let mut p = VecPipeline::new();
    let moved: Deferred<Option<String>> = p
        .query(cmd("BLMOVE").arg(("by-hand", "dest", "LEFT", "RIGHT", "0.9")))
        .unwrap();
    conn.execute(&mut p).unwrap();
    pusher.join().unwrap();
    assert_eq!(moved.read(&p).unwrap().as_deref(), Some("job"));
    get_while_paused(&server, &mut conn);
}

#[test]
fn a_blocking_pop_through_the_registry_waits_past_the_read_timeout() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, info(&server)).unwrap();
    for (key, timeout) in [("pooled-one-second", 1), ("pooled-forever", 0)] {
        let pusher = push_later(&server, key, "job");
        let mut p = r.pipe();
        let popped = p.blpop(key, timeout);
        p.execute().unwrap();
        pusher.join().unwrap();
        assert_eq!(popped.result().unwrap(), Some((key.into(), "job".into())));
    }
    // The pooled connection has its plain timeout again.
    pause_server(&server);
    let mut p = r.pipe();
    p.set_sharing(Sharing::Dedicated);
    let _ = p.get("k");
    let err = p.execute().unwrap_err();
    unpause_server(&server);
    assert!(err.is_timeout(), "{err:?}");
}

/// `BLPOP key timeout` on a tokio connection, answered late; then `INCR`.
async fn blpop_answered_late_async(
    server: &RedisServer,
    conn: &mut AsyncConnection,
    key: &'static str,
    timeout: u64,
) {
    let pusher = push_later(server, key, "job");
    let mut p = VecPipeline::new();
    let popped = p.blpop::<Popped>(key, timeout).unwrap();
    conn.execute(&mut p).await.unwrap();
    pusher.join().unwrap();
    assert_eq!(popped.read(&p).unwrap(), Some((key.into(), "job".into())));
    let mut p = VecPipeline::new();
    let n = p.incr(key).unwrap();
    conn.execute(&mut p).await.unwrap();
    assert_eq!(n.read(&p), Ok(1));
    assert!(conn.is_clean());
}

async fn get_while_paused_async(server: &RedisServer, conn: &mut AsyncConnection) {
    pause_server(server);
    let mut p = VecPipeline::new();
    let _ = p.get::<Option<String>>("k").unwrap();
    let err = conn.execute(&mut p).await.unwrap_err();
    unpause_server(server);
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_pop_waits_past_the_read_timeout_on_tokio() {
    let server = RedisServer::start();
    let mut conn = AsyncConnection::open(&info(&server)).await.unwrap();
    blpop_answered_late_async(&server, &mut conn, "one-second", 1).await;
    get_while_paused_async(&server, &mut conn).await;

    let mut conn = AsyncConnection::open(&info(&server)).await.unwrap();
    blpop_answered_late_async(&server, &mut conn, "forever", 0).await;
    get_while_paused_async(&server, &mut conn).await;
}

/// A blocking pop made to share a connection (`Sharing::Shared`) and a `GET` queued behind it
/// from another thread: neither times out while it waits, and then a `GET` against a paused
/// server does (blocking threads, and tokio tasks on one runtime).
#[test]
fn a_shared_blocking_pop_holds_back_the_pipelines_behind_it_without_failing_them() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for tokio in [false, true] {
        let run = |pipe: &mut redpipe::Pipe| match tokio {
            true => rt.block_on(pipe.execute_async()),
            false => pipe.execute(),
        };
        for (key, timeout) in [("shared-one-second", 1), ("shared-forever", 0)] {
            let r = Connections::new();
            r.register(redpipe::DEFAULT, info(&server).multiplexed(1))
                .unwrap();
            let pusher = push_later(&server, key, "job");
            std::thread::scope(|s| {
                let blocked = s.spawn(|| {
                    let mut p = r.pipe();
                    p.set_sharing(Sharing::Shared);
                    let popped = p.blpop(key, timeout);
                    run(&mut p).unwrap();
                    popped.result().unwrap()
                });
                std::thread::sleep(Duration::from_millis(100));
                let mut p = r.pipe();
                let behind: Handle<Option<String>> = p.get(key);
                run(&mut p).unwrap();
                assert_eq!(behind.result().unwrap(), None, "tokio {tokio}, {key}");
                assert_eq!(
                    blocked.join().unwrap(),
                    Some((key.into(), "job".into())),
                    "tokio {tokio}, {key}"
                );
            });
            pusher.join().unwrap();
            // The shared connection has its plain timeout again.
            pause_server(&server);
            let mut p = r.pipe();
            let _ = p.get("k");
            let err = run(&mut p).unwrap_err();
            unpause_server(&server);
            assert!(err.is_timeout(), "tokio {tokio}, {key}: {err:?}");
        }
    }
}

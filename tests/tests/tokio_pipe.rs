//! The tokio path against a real redis-server: same results as the blocking path.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::tokio::AsyncConnection;
use redpipe::{Connection, Connections, Handle};
use redpipe_tests::RedisServer;

/// The same mixed pipeline for both paths.
fn queue(p: &mut VecPipeline) -> Vec<Deferred<redpipe::Value>> {
    vec![
        p.set("s", "v").unwrap().cast(),
        p.incr("n").unwrap().cast(),
        p.get::<()>("s").unwrap().cast(),
        p.rpush("l", ["a", "b"]).unwrap().cast(),
        p.lrange::<()>("l", 0, -1).unwrap().cast(),
        p.incr("l").unwrap().cast(), // WRONGTYPE
        p.hset_multiple("h", [("a", 1), ("b", 2)]).unwrap().cast(),
        p.hgetall::<()>("h").unwrap().cast(),
        p.get::<()>("missing").unwrap().cast(),
    ]
}

fn outcome(p: &VecPipeline, hs: &[Deferred<redpipe::Value>]) -> Vec<String> {
    hs.iter().map(|h| format!("{:?}", h.read(p))).collect()
}

#[tokio::test]
async fn tokio_and_blocking_give_identical_results() {
    for proto in ["2", "3"] {
        let blocking_server = RedisServer::start();
        let async_server = RedisServer::start();
        let url = |s: &RedisServer| format!("{}?protocol={proto}", s.url());

        let info = url(&blocking_server).parse().unwrap();
        let blocking = tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&info).unwrap();
            let mut p = VecPipeline::new();
            let hs = queue(&mut p);
            conn.execute(&mut p).unwrap();
            outcome(&p, &hs)
        })
        .await
        .unwrap();

        let mut conn = AsyncConnection::open(&url(&async_server).parse().unwrap())
            .await
            .unwrap();
        let mut p = VecPipeline::new();
        let hs = queue(&mut p);
        conn.execute(&mut p).await.unwrap();
        let awaited = outcome(&p, &hs);
        assert_eq!(blocking, awaited, "protocol {proto}");
        assert!(awaited[5].contains("WRONGTYPE"), "{awaited:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipe_execute_async_with_named_connections() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, a.info()).unwrap();
    r.register("other", b.info()).unwrap();
    let mut p = r.pipe();
    let x = p.incr("x");
    let y: Handle<i64> = p.on("other", |p| Ok(p.incrby("y", 5))).unwrap();
    let (x2, y2) = (x.clone(), y.clone());
    let sum = p.on_execute(move |_| x2.result().unwrap() + y2.result().unwrap());
    p.execute_async().await.unwrap();
    assert_eq!((x.result().unwrap(), y.result().unwrap()), (1, 5));
    assert_eq!(*sum.result().unwrap(), 6);
    assert_eq!(b.cli(&["GET", "y"]), "5");
}

#[tokio::test]
async fn a_stalled_server_times_out_and_fails_every_slot() {
    let server = RedisServer::start();
    let info = server.info().timeout(Duration::from_millis(300));
    let mut conn = AsyncConnection::open(&info).await.unwrap();
    server.signal("STOP");
    let mut p = VecPipeline::new();
    let hs: Vec<_> = (0..10).map(|_| p.incr("k").unwrap()).collect();
    let err = conn.execute(&mut p).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    for h in hs {
        assert_eq!(
            h.read(&p),
            Err(SlotError::Failed(redpipe::error::Failure::Io(
                redpipe::error::IoKind::TimedOut
            )))
        );
    }
    assert!(conn.is_broken());
    server.signal("CONT");
}

#[tokio::test]
async fn a_million_commands_async() {
    let server = RedisServer::start();
    let mut conn = AsyncConnection::open(&server.info()).await.unwrap();
    let mut p = VecPipeline::new();
    let hs: Vec<Deferred<i64>> = (0..1_000_000).map(|_| p.incr("big").unwrap()).collect();
    conn.execute(&mut p).await.unwrap();
    assert_eq!(hs[999_999].read(&p), Ok(1_000_000));
}

#[tokio::test]
async fn tls_async() {
    let server = RedisServer::with(redpipe_tests::Options {
        tls: true,
        ..Default::default()
    });
    let mut conn = AsyncConnection::open(&server.tls_url().parse().unwrap())
        .await
        .unwrap();
    let mut p = VecPipeline::new();
    let n = p.incr("secure").unwrap();
    conn.execute(&mut p).await.unwrap();
    assert_eq!(n.read(&p), Ok(1));
    let untrusted = format!("rediss://localhost:{}", server.port());
    let err = AsyncConnection::open(&untrusted.parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn resp3_pushes_between_pipelines_are_not_replies() {
    // Client tracking: another client's write to a key this connection read is pushed to it as
    // an invalidation, between this connection's pipelines.
    let server = RedisServer::start();
    let url = format!("{}?protocol=3", server.url());
    let mut conn = AsyncConnection::open(&url.parse().unwrap()).await.unwrap();
    let mut p = VecPipeline::new();
    let on = p
        .query::<()>(cmd("CLIENT").arg("TRACKING").arg("ON"))
        .unwrap();
    let before = p.get::<Option<String>>("tracked").unwrap();
    conn.execute(&mut p).await.unwrap();
    assert_eq!((on.read(&p), before.read(&p)), (Ok(()), Ok(None)));

    server.cli(&["SET", "tracked", "new"]);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut p = VecPipeline::new();
    let after = p.get::<Option<String>>("tracked").unwrap();
    conn.execute(&mut p).await.unwrap();
    assert_eq!(after.read(&p), Ok(Some("new".to_string())));
    assert_eq!(
        p.pushes_seen(),
        1,
        "the invalidation was read and set aside"
    );
}

/// A reusable async function: joins the caller's pipe if given one, else runs on its own.
async fn visit_async(
    r: &Connections,
    page: &str,
    pipe: Option<&mut redpipe::Pipe>,
) -> redpipe::Result<redpipe::Handle<i64>> {
    r.autoexec_async(pipe, |p| {
        let n = p.incr(page);
        let _ = p.expire(page, 60);
        Ok(n)
    })
    .await
}

#[tokio::test]
async fn an_async_scope_nests_rolls_back_and_runs_callbacks() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    // Alone: its own pipe, executed at once.
    let alone = visit_async(&r, "/", None).await.unwrap();
    assert_eq!(alone.result().unwrap(), 1);
    // Nested: a hundred calls and a callback, one round trip, spawned on the runtime.
    let task = tokio::spawn({
        let r = r.clone();
        async move {
            let mut p = r.pipe();
            let mut hits = Vec::new();
            for i in 0..100 {
                hits.push(visit_async(&r, &format!("/p{i}"), p.nested()).await?);
            }
            let all = hits.clone();
            let total = p.on_execute(move |_| all.iter().map(|h| h.result().unwrap()).sum::<i64>());
            // A failed scope sends nothing of its own.
            let failed = r
                .autoexec_async(p.nested(), |p| {
                    let _ = p.incr("never");
                    Err::<(), _>(redpipe::Error::Config("no".into()))
                })
                .await;
            assert!(failed.is_err());
            p.execute_async().await?;
            Ok::<_, redpipe::Error>(*total.result()?)
        }
    });
    assert_eq!(task.await.unwrap().unwrap(), 100);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 2);
    assert_eq!(server.cli(&["EXISTS", "never"]), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_locking_from_tasks_loses_no_update() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    r.watch_async(&["counter"], async |w| {
                        let mut read = w.pipe();
                        let v = read.get("counter").cast::<Option<i64>>();
                        read.execute_async().await?;
                        let next = v.result()?.unwrap_or(0) + 1;
                        let mut write = w.pipe();
                        let set = write.transaction(|p| Ok(p.set("counter", next)))?;
                        write.execute_async().await?;
                        set.result()?;
                        Ok(())
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(server.cli(&["GET", "counter"]), "160");
}

/// A blocking call made by mistake from a task on a multi-thread runtime does not stall the
/// runtime: the worker's other tasks move to another thread while it waits. Here the blocked
/// task waits (BLPOP) for a push that only another task on the same one-worker runtime makes;
/// with the worker held, the push would come after the BLPOP's 5 s and the pop would be empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_blocking_call_in_async_code_leaves_the_runtime_running() {
    let server = RedisServer::start();
    let r = std::sync::Arc::new(Connections::new());
    r.connect(&server.url()).unwrap();
    let (blocked, pusher) = (r.clone(), r.clone());
    let waiting = tokio::spawn(async move {
        // The mistake: the blocking form, inside async code.
        let popped = blocked
            .autoexec(None, |p| Ok(p.blpop("signal", 5)))
            .unwrap();
        popped.result().unwrap()
    });
    let pushed = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let pushed = pusher
            .autoexec_async(None, |p| Ok(p.rpush("signal", "go")))
            .await
            .unwrap();
        pushed.result().unwrap()
    });
    assert_eq!(pushed.await.unwrap(), 1);
    assert_eq!(
        waiting.await.unwrap(),
        Some(("signal".to_owned(), "go".to_owned()))
    );
}

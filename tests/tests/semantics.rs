//! The semantics a RedPipe user relies on, against a real redis-server: scopes that fail leave
//! nothing behind, a nested `execute` joins its parent, callbacks run only after a pipeline that
//! ran, connections go back to the pool clean, named connections refuse conflicts.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redpipe::prelude::*;
use redpipe::{Connections, Error, Handle, Pipe};
use redpipe_tests::RedisServer;

fn registry(server: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    r
}

#[test]
fn a_failed_scope_leaves_nothing_behind_even_after_an_inner_execute() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let kept = p.incr("kept");
    let ran = Arc::new(AtomicBool::new(false));
    let mut inside: Option<(Handle<i64>, Handle<i64>)> = None;
    let failed: Result<(), Error> = p.scope(|p| {
        let a = p.incr("a");
        p.execute()?; // inside a scope: joins the enclosing pipeline, sends nothing
        let b = p.incr("b");
        let flag = ran.clone();
        let _ = p.on_execute(move |_| flag.store(true, Ordering::Relaxed));
        inside = Some((a, b));
        Err(Error::Config("changed my mind".into()))
    });
    assert!(failed.is_err());
    p.execute().unwrap();
    assert_eq!(kept.result().unwrap(), 1);
    let (a, b) = inside.unwrap();
    // Never sent, never resolved, the callback never ran.
    assert!(matches!(a.result(), Err(Error::Stale)), "{:?}", a.result());
    assert!(matches!(b.result(), Err(Error::Stale)), "{:?}", b.result());
    assert!(!ran.load(Ordering::Relaxed));
    assert_eq!(server.cli(&["EXISTS", "a", "b"]), "0");
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 1);
}

/// A RedPipe-style reusable function: it calls `execute` itself, which on a pipe it was handed
/// joins the caller's pipeline.
fn add_visit(r: &Connections, pipe: Option<&mut Pipe>) -> redpipe::Result<Handle<i64>> {
    r.autoexec(pipe, |p| {
        let n = p.incr("visits");
        p.execute()?;
        Ok(n)
    })
}

#[test]
fn execute_in_a_function_handed_the_callers_pipe_joins_it() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let a = add_visit(&r, p.nested()).unwrap();
    let b = add_visit(&r, p.nested()).unwrap();
    // Nothing was sent: the caller's scope has not ended.
    assert!(matches!(a.result(), Err(Error::Pending)));
    assert_eq!(r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines), 0);
    p.execute().unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 2));
    assert_eq!(
        r.stats(redpipe::DEFAULT).unwrap().pipelines,
        1,
        "one round trip"
    );
    // Alone, the same function runs on its own.
    assert_eq!(add_visit(&r, None).unwrap().result().unwrap(), 3);
}

#[test]
fn callbacks_do_not_run_when_execute_fails() {
    let mut server = RedisServer::start();
    let r = registry(&server);
    // Warm a pooled connection, then lose the server.
    let _ = add_visit(&r, None).unwrap();
    server.kill();
    let mut p = r.pipe();
    let n = p.incr("visits");
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let h = n.clone();
    // A README-style callback that unwraps its handles: it must not panic out of `execute`.
    let doubled = p.on_execute(move |_| {
        flag.store(true, Ordering::Relaxed);
        h.result().unwrap() * 2
    });
    assert!(p.execute().is_err());
    assert!(!ran.load(Ordering::Relaxed));
    assert!(n.result().is_err());
    assert!(
        matches!(doubled.result(), Err(Error::Failed(_))),
        "{doubled:?}"
    );

    // A server error in one slot is a result: callbacks run and see it.
    server.restart();
    server.cli(&["SET", "text", "not a number"]);
    let mut p = r.pipe();
    let bad = p.incr("text");
    let seen = p.on_execute(move |_| bad.result().is_err());
    p.execute().unwrap();
    assert!(*seen.result().unwrap());
}

#[test]
fn a_name_refuses_other_settings_and_can_be_moved() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let r = Connections::new();
    r.register("users", a.info()).unwrap();
    // The same settings again are fine; others under a name in use are refused.
    r.register("users", a.info()).unwrap();
    assert!(matches!(
        r.register("users", b.info()),
        Err(Error::AlreadyConnected(n)) if n == "users"
    ));
    let mut p = r.pipe();
    let n = p.on("users", |p| Ok(p.incr("n"))).unwrap();
    p.execute().unwrap();
    assert_eq!(n.result().unwrap(), 1);
    assert_eq!(a.cli(&["GET", "n"]), "1");
    // Moving a name takes a disconnect; reset forgets every name.
    assert!(r.disconnect("users"));
    assert!(!r.disconnect("users"));
    r.register("users", b.info()).unwrap();
    let mut p = r.pipe();
    let n = p.on("users", |p| Ok(p.incr("n"))).unwrap();
    p.execute().unwrap();
    assert_eq!(n.result().unwrap(), 1);
    assert_eq!(b.cli(&["GET", "n"]), "1");
    r.reset();
    assert!(r.stats("users").is_none());
    assert!(matches!(
        redpipe::Pipe::with_backend(r.clone()).execute(),
        Ok(())
    ));
}

#[test]
fn a_connection_left_watching_is_not_reused() {
    let server = RedisServer::start();
    let r = registry(&server);
    // A pipe WATCHes and ends without EXEC (its caller gave up): its connection must not serve
    // another pipe's transaction, which the watch would abort.
    let mut p = r.pipe();
    let _ = p.query::<()>(redpipe::cmd("WATCH").arg("balance"));
    let _ = p.get("balance").cast::<Option<i64>>();
    p.execute().unwrap();
    server.cli(&["SET", "balance", "10"]); // the watched key changes
    let mut p = r.pipe();
    let set = p.transaction(|p| Ok(p.set("other", 1))).unwrap();
    p.execute().unwrap();
    set.result().unwrap(); // not aborted
    assert_eq!(server.cli(&["GET", "other"]), "1");
    // The transaction ran on the shared connection (a second connect); the watching one, a
    // connection of its own, was closed, not pooled.
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().open, 1);
    // A transaction that ends its watch (on a connection of its own: a third connect) leaves
    // that connection clean: the next one reuses it.
    for expected in [11, 12] {
        let mut p = r.pipe();
        let _ = p.query::<()>(redpipe::cmd("WATCH").arg("balance"));
        let done = p.transaction(|p| Ok(p.incr("balance"))).unwrap();
        p.execute().unwrap();
        assert_eq!(done.result().unwrap(), expected);
    }
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 3);
}

#[test]
fn booleans_read_as_redpipe_writes_them() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&[
        "HSET", "u{1}", "yes", "1", "no", "", "zero", "0", "other", "maybe",
    ]);
    let mut p = r.pipe();
    let hs: Vec<Handle<bool>> = ["yes", "no", "zero", "other"]
        .iter()
        .map(|f| p.hget("u{1}", *f).cast::<bool>())
        .collect();
    p.execute().unwrap();
    let read: Vec<bool> = hs[..3].iter().map(|h| h.result().unwrap()).collect();
    assert_eq!(read, [true, false, false]);
    assert!(matches!(hs[3].result(), Err(Error::Convert(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_share_a_bounded_pool() {
    let server = RedisServer::start();
    let r = Connections::new();
    let mut info = server.info();
    info.max_connections = 4;
    r.register(redpipe::DEFAULT, info).unwrap();
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (r, peak) = (r.clone(), peak.clone());
            tokio::spawn(async move {
                let mut p = r.pipe();
                let key = format!("task:{i}");
                let _ = p.set(key.as_str(), i);
                let got = p.get(key.as_str()).cast::<i64>();
                let n = p.incr("total");
                p.execute_async().await.unwrap();
                let open = r.stats(redpipe::DEFAULT).unwrap().open;
                peak.fetch_max(open, Ordering::Relaxed);
                (got.result().unwrap(), n.result().unwrap())
            })
        })
        .collect();
    let mut totals = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (got, n) = t.await.unwrap();
        assert_eq!(got, i as i64);
        totals.push(n);
    }
    totals.sort_unstable();
    assert_eq!(totals, (1..=1000).collect::<Vec<i64>>());
    assert!(peak.load(Ordering::Relaxed) <= 4);
    let stats = r.stats(redpipe::DEFAULT).unwrap();
    assert!(stats.connects <= 4, "{stats:?}");
    // The server saw at most 4 of our connections (plus redis-cli's own).
    let clients: usize = server
        .cli(&["INFO", "clients"])
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(clients <= 5, "{clients}");
}

#[test]
fn builders_take_what_a_newcomer_writes() {
    use redpipe::cmd::{ExpireWhen, ZaddOptions};
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["SET", "a", "1"]);
    server.cli(&["SET", "b", "1"]);
    server.cli(&["RPUSH", "queue", "job"]);
    let mut p = r.pipe();
    let one = p.del("a"); // one key, no slice
    let gone = p.exists(["a", "b"]);
    let first = p.expire_when("b", 100, ExpireWhen::Nx);
    let shorter = p.expire_when("b", 200, ExpireWhen::Lt); // 200 > 100: not set
    let int_score = p.zadd("z", "m", 3); // an integer score
    let only_new = p.zadd_with(
        "z",
        ZaddOptions {
            nx: true,
            ch: true,
            ..ZaddOptions::default()
        },
        [(5, "m"), (7, "n")],
    );
    let popped = p.blpop("queue", 0.1).cast::<Option<(String, String)>>();
    let timed_out = p
        .blpop(["empty1", "empty2"], 0.1)
        .cast::<Option<(String, String)>>();
    let best = p.bzpopmax("z", 0.1).cast::<Option<(String, String, f64)>>();
    p.execute().unwrap();
    assert_eq!(one.result().unwrap(), 1);
    assert_eq!(gone.result().unwrap(), 1);
    assert!(first.result().unwrap());
    assert!(!shorter.result().unwrap());
    assert_eq!(int_score.result().unwrap(), 1);
    assert_eq!(only_new.result().unwrap(), 1); // "m" kept its score, "n" added
    assert_eq!(
        popped.result().unwrap(),
        Some(("queue".into(), "job".into()))
    );
    assert_eq!(timed_out.result().unwrap(), None);
    assert_eq!(best.result().unwrap(), Some(("z".into(), "n".into(), 7.0)));
    assert_eq!(server.cli(&["ZSCORE", "z", "m"]), "3");
}

#[test]
fn tracing_reports_each_pipeline_and_connection_events() {
    use std::sync::Mutex;
    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let server = RedisServer::start();
    let r = registry(&server);
    let log = Capture::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut p = r.pipe();
        let _ = p.incr("n");
        let _ = p.get("k").cast::<Option<String>>();
        p.execute().unwrap();
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("redpipe.execute"), "{text}");
    assert!(text.contains("connection=default"), "{text}");
    assert!(text.contains("commands=2"), "{text}");
    assert!(text.contains("pipeline ran"), "{text}");
    assert!(text.contains("connect"), "{text}");
}

#[test]
fn optimistic_locking_runs_again_when_a_watched_key_changes() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["SET", "balance", "100"]);
    let mut attempts = 0;
    let left = r
        .watch(&["balance"], |w| {
            attempts += 1;
            let mut read = w.pipe();
            let balance = read.get("balance").cast::<i64>();
            read.execute()?;
            let left = balance.result()? - 10;
            if attempts == 1 {
                // Another client changes the key under the watch: EXEC will be aborted.
                server.cli(&["INCRBY", "balance", "5"]);
            }
            let mut write = w.pipe();
            let set = write.transaction(|p| Ok(p.set("balance", left)))?;
            write.execute()?;
            set.result()?;
            Ok(left)
        })
        .unwrap();
    assert_eq!((attempts, left), (2, 95));
    assert_eq!(server.cli(&["GET", "balance"]), "95");
    // The connection ended its watch with EXEC: it went back to the pool and serves the next
    // watch. (Plain pipelines go on the shared connection: a second connect.)
    let mut p = r.pipe();
    let n = p.incr("n");
    p.execute().unwrap();
    assert_eq!(n.result().unwrap(), 1);
    let again = r.watch(&["balance"], |w| {
        let mut read = w.pipe();
        let balance = read.get("balance").cast::<i64>();
        read.execute()?;
        balance.result()
    });
    assert_eq!(again.unwrap(), 95);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);

    // Concurrent read-modify-write from many threads loses no update.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    r.watch(&["counter"], |w| {
                        let mut read = w.pipe();
                        let v = read.get("counter").cast::<Option<i64>>();
                        read.execute()?;
                        let next = v.result()?.unwrap_or(0) + 1;
                        let mut write = w.pipe();
                        let set = write.transaction(|p| Ok(p.set("counter", next)))?;
                        write.execute()?;
                        set.result()?;
                        Ok(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.cli(&["GET", "counter"]), "160");
}

/// RedPipe's `connect_redis(..., transaction=True)`: every pipeline on the name is one
/// `MULTI`/`EXEC` — all or nothing — and each handle still reads its own result; a name without
/// it runs the same commands one by one. On shared and own connections, blocking and tokio.
#[test]
fn a_transactional_name_runs_each_pipeline_all_or_nothing() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    r.register("tx", server.info().transaction(true)).unwrap();
    let url = format!(
        "redis://127.0.0.1:{}?transaction=true&multiplexed=0",
        server.port()
    );
    r.register("tx_own", url.as_str()).unwrap();
    let stats = |cmd: &str| {
        let info = server.cli(&["INFO", "commandstats"]);
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
            .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };

    for name in ["tx", "tx_own"] {
        let before = stats("exec");
        // Each handle reads its own command's result, from EXEC's array.
        let (n, echo, len) = r
            .autoexec(None, |p| {
                p.on(name, |p| {
                    let n = p.incr(format!("{name}:n"));
                    let echo: Handle<String> = p.query(cmd("ECHO").arg("hi"));
                    let len = p.strlen(format!("{name}:n"));
                    Ok((n, echo, len))
                })
            })
            .unwrap();
        assert_eq!(n.result().unwrap(), 1);
        assert_eq!(echo.result().unwrap(), "hi");
        assert_eq!(len.result().unwrap(), 1);
        assert_eq!(
            stats("exec"),
            before + 1,
            "{name}: one EXEC for the pipeline"
        );

        // All or nothing: a command the server refuses while queueing discards the whole
        // transaction (EXECABORT), so the INCR before it does not run.
        let mut p = r.pipe();
        let (n, bad) = p
            .on(name, |p| {
                let n = p.incr(format!("{name}:n"));
                let bad: Handle<()> = p.query(cmd("SET").arg("only-a-key"));
                Ok((n, bad))
            })
            .unwrap();
        let _ = p.execute();
        assert!(n.result().is_err(), "{name}: discarded with the rest");
        assert!(bad.result().is_err());
        assert_eq!(
            server.cli(&["GET", &format!("{name}:n")]),
            "1",
            "{name}: nothing ran"
        );
    }

    // The same commands on a name without it: the INCR runs, the bad SET fails alone.
    let mut p = r.pipe();
    let n = p.incr("plain:n");
    let bad: Handle<()> = p.query(cmd("SET").arg("only-a-key"));
    let _ = p.execute();
    assert_eq!(n.result().unwrap(), 1);
    assert!(bad.result().is_err());

    // A pipeline with a transaction of its own runs as it is: no MULTI inside MULTI.
    let before = stats("exec");
    let mut p = r.pipe();
    let (a, b) = p
        .on("tx", |p| {
            let a = p.incr("tx:own");
            let b = p.transaction(|p| Ok(p.incr("tx:own")))?;
            Ok((a, b))
        })
        .unwrap();
    p.execute().unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 2));
    assert_eq!(stats("exec"), before + 1, "only the pipeline's own EXEC");
}

#[tokio::test(flavor = "current_thread")]
async fn a_transactional_name_wraps_async_pipelines_too() {
    let server = RedisServer::start();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info().transaction(true))
        .unwrap();
    let mut p = r.pipe();
    let n = p.incr("n");
    let bad: Handle<()> = p.query(cmd("SET").arg("only-a-key"));
    let _ = p.execute_async().await;
    assert!(n.result().is_err() && bad.result().is_err());
    assert_eq!(
        server.cli(&["EXISTS", "n"]),
        "0",
        "discarded: all or nothing"
    );
    let n = r.autoexec_async(None, |p| Ok(p.incr("n"))).await.unwrap();
    assert_eq!(n.result().unwrap(), 1);
}

//! The redpipe model against a real redis-server: the seed README's examples, nesting,
//! callbacks, named connections, errors, auth, databases, RESP3.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![allow(clippy::disallowed_names)] // `foo` and `bar` are the Python README's names

use redpipe::core::VecPipeline;
use redpipe::error::ServerErrorKind;
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo, Connections, Derived, Error, Handle, Pipe, Script};
use redpipe_tests::{Options, RedisServer};

fn registry(server: &RedisServer) -> Connections {
    let r = Connections::new();
    r.register(redpipe::DEFAULT, server.info()).unwrap();
    r
}

/// The seed's reusable function: queues INCRBY and EXPIRE, returns the INCRBY handle.
fn increment_and_expire(
    r: &Connections,
    key: &str,
    pipe: Option<&mut Pipe>,
) -> redpipe::Result<Handle<i64>> {
    r.autoexec(pipe, |p| {
        let n = p.incrby(key, 1);
        let _ = p.expire(key, 60);
        Ok(n)
    })
}

/// The seed's callback example: the sum of INCRs over many keys.
fn increment_keys(
    r: &Connections,
    keys: &[String],
    pipe: Option<&mut Pipe>,
) -> redpipe::Result<Derived<i64>> {
    r.autoexec(pipe, |p| {
        let hits: Vec<Handle<i64>> = keys.iter().map(|k| p.incr(k.as_str())).collect();
        Ok(p.on_execute(move |_| hits.iter().map(|h| h.result().unwrap_or(0)).sum()))
    })
}

#[test]
fn seed_getting_started_pipelined_incr() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut pipe = r.pipe();
    let foo = pipe.incr("foo");
    let bar = pipe.incr("bar");
    assert!(matches!(foo.result(), Err(Error::Pending)));
    pipe.execute().unwrap();
    assert_eq!((foo.result().unwrap(), bar.result().unwrap()), (1, 1));

    // The same with the scope sugar.
    let (foo, bar) = r
        .autoexec(None, |p| Ok((p.incr("foo"), p.incr("bar"))))
        .unwrap();
    assert_eq!((foo.result().unwrap(), bar.result().unwrap()), (2, 2));
}

#[test]
fn seed_reusable_function_with_and_without_a_pipe() {
    let server = RedisServer::start();
    let r = registry(&server);
    let (k1, k2) = r
        .autoexec(None, |p| {
            Ok((
                increment_and_expire(&r, "key1", p.nested())?,
                increment_and_expire(&r, "key2", p.nested())?,
            ))
        })
        .unwrap();
    assert_eq!((k1.result().unwrap(), k2.result().unwrap()), (1, 1));
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 1);
    assert_eq!(server.cli(&["TTL", "key1"]), "60");
    // On its own, it makes and runs its own pipeline.
    assert_eq!(
        increment_and_expire(&r, "key3", None)
            .unwrap()
            .result()
            .unwrap(),
        1
    );
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 2);
}

#[test]
fn seed_a_hundred_calls_are_one_round_trip() {
    let server = RedisServer::start();
    let r = registry(&server);
    let results = r
        .autoexec(None, |p| {
            (0..100)
                .map(|i| increment_and_expire(&r, &format!("key{i}"), p.nested()))
                .collect::<redpipe::Result<Vec<_>>>()
        })
        .unwrap();
    let stats = r.stats(redpipe::DEFAULT).unwrap();
    assert_eq!((stats.pipelines, stats.commands), (1, 200));
    assert!(results.iter().all(|h| h.result().unwrap() == 1));
    assert_eq!(server.cli(&["DBSIZE"]), "100");
}

#[test]
fn seed_callbacks_combine_results() {
    let server = RedisServer::start();
    let r = registry(&server);
    let keys: Vec<String> = (0..100).map(|i| format!("key{i}")).collect();
    assert_eq!(
        *increment_keys(&r, &keys, None).unwrap().result().unwrap(),
        100
    );

    let (first, second) = r
        .autoexec(None, |p| {
            Ok((
                increment_keys(&r, &keys[..50], p.nested())?,
                increment_keys(&r, &keys[50..], p.nested())?,
            ))
        })
        .unwrap();
    assert_eq!(
        (*first.result().unwrap(), *second.result().unwrap()),
        (100, 100)
    );
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 2);
}

#[test]
fn nesting_deeper_than_three_still_makes_one_pipeline() {
    fn level(
        r: &Connections,
        depth: u32,
        p: Option<&mut Pipe>,
    ) -> redpipe::Result<Vec<Handle<i64>>> {
        r.autoexec(p, |p| {
            let mut hs = vec![p.incr(format!("depth{depth}"))];
            if depth < 6 {
                hs.extend(level(r, depth + 1, p.nested())?);
                hs.extend(level(r, depth + 1, p.nested())?);
            }
            Ok(hs)
        })
    }
    let server = RedisServer::start();
    let r = registry(&server);
    let hs = level(&r, 1, None).unwrap();
    assert_eq!(hs.len(), 63);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().pipelines, 1);
    assert_eq!(server.cli(&["GET", "depth6"]), "32");
    assert_eq!(hs.last().unwrap().result().unwrap(), 32);
}

#[test]
fn callbacks_run_in_registration_order_after_everything() {
    use std::sync::{Arc, Mutex};
    let server = RedisServer::start();
    let r = registry(&server);
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut p = r.pipe();
    for i in 0..5 {
        let h = p.incr("n");
        let order = order.clone();
        let _ = p.on_execute(move |_| order.lock().unwrap().push((i, h.result().unwrap())));
    }
    let last = p.incr("n");
    p.execute().unwrap();
    assert_eq!(last.result().unwrap(), 6);
    assert_eq!(
        *order.lock().unwrap(),
        [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    );
}

#[test]
fn an_error_in_a_scope_sends_nothing_of_it() {
    let server = RedisServer::start();
    let r = registry(&server);
    // Root scope fails: nothing at all is sent.
    let failed: Result<(), Error> = r.autoexec(None, |p| {
        let _ = p.set("root", 1);
        Err(Error::Config("caller gave up".into()))
    });
    assert!(failed.is_err());
    assert_eq!(server.cli(&["EXISTS", "root"]), "0");
    assert_eq!(r.stats(redpipe::DEFAULT).map_or(0, |s| s.pipelines), 0);

    // Nested scope fails: the parent's other commands still run, the failed one's do not.
    let kept = r
        .autoexec(None, |p| {
            let kept = p.set("kept", 1);
            let inner: Result<(), Error> = r.autoexec(p.nested(), |p| {
                let _ = p.set("dropped", 1);
                Err(Error::Config("inner gave up".into()))
            });
            assert!(inner.is_err());
            Ok(kept)
        })
        .unwrap();
    kept.result().unwrap();
    assert_eq!(server.cli(&["EXISTS", "kept"]), "1");
    assert_eq!(server.cli(&["EXISTS", "dropped"]), "0");
}

#[test]
fn a_panic_in_a_scope_sends_nothing() {
    let server = RedisServer::start();
    let r = registry(&server);
    let r2 = r.clone();
    let outcome = std::panic::catch_unwind(move || {
        let _: Result<(), Error> = r2.autoexec(None, |p| {
            let _ = p.set("panicked", 1);
            panic!("boom");
        });
    });
    assert!(outcome.is_err());
    assert_eq!(server.cli(&["EXISTS", "panicked"]), "0");
}

#[test]
fn wrongtype_in_the_middle_fails_only_its_slot() {
    let server = RedisServer::start();
    let r = registry(&server);
    server.cli(&["RPUSH", "list", "x"]);
    let mut p = r.pipe();
    let a = p.incr("a");
    let bad = p.incr("list");
    let c = p.incr("c");
    p.execute().unwrap();
    assert_eq!(a.result().unwrap(), 1);
    match bad.result() {
        Err(Error::Server(e)) => assert_eq!(e.kind(), ServerErrorKind::WrongType),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.result().unwrap(), 1);
}

#[test]
fn typed_results_and_borrowed_reads() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let _ = p.set("s", "hello");
    let _ = p.rpush("l", ["a", "b", "c"]);
    let _ = p.hset_multiple("h", [("f1", 1), ("f2", 2)]);
    let s: Handle<&str> = p.get("s").cast();
    let missing: Handle<Option<String>> = p.get("nope");
    let l: Handle<Vec<String>> = p.lrange("l", 0, -1);
    let h: Handle<std::collections::HashMap<String, i64>> = p.hgetall("h").cast();
    p.execute().unwrap();
    assert_eq!(s.result().unwrap(), "hello");
    assert_eq!(missing.result().unwrap(), None);
    assert_eq!(l.result().unwrap(), ["a", "b", "c"]);
    assert_eq!(h.result().unwrap()["f2"], 2);
}

#[test]
fn transactions_and_scripts_against_the_server() {
    let server = RedisServer::start();
    let r = registry(&server);
    let mut p = r.pipe();
    let (a, b) = p
        .transaction(|p| Ok((p.incr("t"), p.incrby("t", 10))))
        .unwrap();
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let s1: Handle<i64> = p.eval(&script, ["sc"], 5).cast();
    p.execute().unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 11));
    // The server did not know the script: EVALSHA fell back to EVAL.
    assert_eq!(s1.result().unwrap(), 5);
    // Now it does: EVALSHA succeeds directly.
    let mut p = r.pipe();
    let s2: Handle<i64> = p.eval(&script, ["sc"], 1).cast();
    p.execute().unwrap();
    assert_eq!(s2.result().unwrap(), 6);
    assert_eq!(server.cli(&["SCRIPT", "EXISTS", script.sha1()]), "1");
}

#[test]
fn watch_aborts_the_transaction_when_the_key_changes() {
    let server = RedisServer::start();
    let info = server.info();
    let mut conn = Connection::open(&info).unwrap();
    let mut p = VecPipeline::new();
    let _ = p.watch("w").unwrap();
    conn.execute(&mut p).unwrap();
    server.cli(&["SET", "w", "changed"]);
    let mut p = VecPipeline::new();
    let a = p.transaction(|p| p.incr("w2")).unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(
        a.read(&p),
        Err(SlotError::Failed(redpipe::error::Failure::Aborted))
    );
    assert_eq!(server.cli(&["EXISTS", "w2"]), "0");
}

#[test]
fn password_and_acl_user() {
    let server = RedisServer::with(Options {
        password: Some("s3cret".into()),
        users: vec![("alice".into(), "wonder".into())],
        ..Options::default()
    });
    let port = server.port();
    // No password: the server refuses commands.
    let mut conn = Connection::open(&server.info()).unwrap();
    let mut p = VecPipeline::new();
    let a = p.incr("x").unwrap();
    conn.execute(&mut p).unwrap();
    assert!(matches!(a.read(&p), Err(SlotError::Server(e)) if e.kind() == ServerErrorKind::NoAuth));

    // Wrong password: the handshake says so.
    let bad: ConnectionInfo = format!("redis://:nope@127.0.0.1:{port}").parse().unwrap();
    match Connection::open(&bad) {
        Err(Error::Handshake { command, error }) => {
            assert_eq!(command, "AUTH");
            assert_eq!(error.kind(), ServerErrorKind::WrongPass);
        }
        other => panic!("{other:?}"),
    }
    for url in [
        format!("redis://:s3cret@127.0.0.1:{port}"),
        format!("redis://alice:wonder@127.0.0.1:{port}"),
        format!("redis://alice:wonder@127.0.0.1:{port}?protocol=3"),
    ] {
        let mut conn = Connection::open(&url.parse().unwrap()).unwrap();
        let mut p = VecPipeline::new();
        let who = p.query::<String>(cmd("ACL").arg("WHOAMI")).unwrap();
        conn.execute(&mut p).unwrap();
        let want = if url.contains("alice") {
            "alice"
        } else {
            "default"
        };
        assert_eq!(who.read(&p).unwrap(), want, "{url}");
    }
}

#[test]
fn select_db_and_client_name() {
    let server = RedisServer::start();
    let url = format!("{}/3?client_name=tester", server.url());
    let mut conn = Connection::open(&url.parse().unwrap()).unwrap();
    let mut p = VecPipeline::new();
    let _ = p.set("in3", 1).unwrap();
    let name = p.query::<String>(cmd("CLIENT").arg("GETNAME")).unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(name.read(&p).unwrap(), "tester");
    assert_eq!(server.cli(&["-n", "3", "EXISTS", "in3"]), "1");
    assert_eq!(server.cli(&["-n", "0", "EXISTS", "in3"]), "0");
}

#[test]
fn resp3_and_resp2_read_the_same() {
    let server = RedisServer::start();
    server.cli(&["HSET", "h", "a", "1", "b", "2"]);
    server.cli(&["ZADD", "z", "1.5", "m", "2", "n"]);
    let mut seen = Vec::new();
    for proto in ["2", "3"] {
        let url = format!("{}?protocol={proto}", server.url());
        let mut conn = Connection::open(&url.parse().unwrap()).unwrap();
        let mut p = VecPipeline::new();
        let h = p
            .hgetall::<std::collections::BTreeMap<String, i64>>("h")
            .unwrap();
        let z = p
            .zrange_withscores::<Vec<(String, f64)>>("z", 0, -1)
            .unwrap();
        let score = p.zscore("z", "m").unwrap();
        let hello = p.query::<redpipe::Value>(cmd("HELLO")).unwrap();
        conn.execute(&mut p).unwrap();
        if proto == "3" {
            assert!(matches!(hello.read(&p).unwrap(), redpipe::Value::Map(_)));
        }
        seen.push((
            h.read(&p).unwrap(),
            z.read(&p).unwrap(),
            score.read(&p).unwrap(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].1, [("m".to_string(), 1.5), ("n".to_string(), 2.0)]);
}

#[test]
fn unix_socket() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&server.unix_url().parse().unwrap()).unwrap();
    let mut p = VecPipeline::new();
    let n = p.incr("u").unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(n.read(&p), Ok(1));
}

#[test]
fn two_named_servers_in_one_logical_pipeline() {
    let users = RedisServer::start();
    let messages = RedisServer::start();
    let r = Connections::new();
    r.register("users", users.info()).unwrap();
    r.register("messages", messages.info()).unwrap();
    let (u, m, total) = r
        .autoexec(None, |p| {
            let u = p.on("users", |p| Ok(p.hset("u{1}", "name", "joe")))?;
            let m = p.on("messages", |p| Ok(p.hset("m{1}", "body", "hi there")))?;
            let (u2, m2) = (u.clone(), m.clone());
            let total = p.on_execute(move |_| u2.result().unwrap() + m2.result().unwrap());
            Ok((u, m, total))
        })
        .unwrap();
    assert_eq!((u.result().unwrap(), m.result().unwrap()), (1, 1));
    assert_eq!(*total.result().unwrap(), 2);
    assert_eq!(users.cli(&["HGET", "u{1}", "name"]), "joe");
    assert_eq!(messages.cli(&["HGET", "m{1}", "body"]), "hi there");
    assert_eq!(users.cli(&["EXISTS", "m{1}"]), "0");
    assert_eq!(r.stats("users").unwrap().pipelines, 1);
    assert_eq!(r.stats("messages").unwrap().pipelines, 1);

    // An unknown name fails the run and the handles, and sends nothing anywhere else wrongly.
    let mut p = r.pipe();
    let lost = p.on("nobody", |p| Ok(p.incr("x"))).unwrap();
    let known = p.on("users", |p| Ok(p.incr("x"))).unwrap();
    assert!(matches!(p.execute(), Err(Error::UnknownConnection(n)) if n == "nobody"));
    assert!(lost.result().is_err());
    // Nothing was sent anywhere, and no handle is left pending.
    assert!(matches!(
        known.result(),
        Err(Error::Failed(redpipe::error::Failure::Cancelled))
    ));
    assert_eq!(users.cli(&["EXISTS", "x"]), "0");
}

#[test]
fn a_million_commands_in_one_pipeline() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&server.info()).unwrap();
    let mut p = VecPipeline::new();
    let hs: Vec<Deferred<i64>> = (0..1_000_000).map(|_| p.incr("big").unwrap()).collect();
    conn.execute(&mut p).unwrap();
    assert_eq!(hs[0].read(&p), Ok(1));
    assert_eq!(hs[999_999].read(&p), Ok(1_000_000));
    assert!(
        hs.iter()
            .enumerate()
            .all(|(i, h)| h.read(&p) == Ok(i as i64 + 1))
    );
}

#[test]
fn killed_server_fails_every_slot_and_the_next_pipeline_reconnects() {
    let mut server = RedisServer::start();
    let r = Connections::new();
    r.register(
        redpipe::DEFAULT,
        server.info().timeout(std::time::Duration::from_secs(2)),
    )
    .unwrap();
    // Warm up a pooled connection.
    let _ = r.autoexec(None, |p| Ok(p.ping())).unwrap();

    // Stop the server (it cannot answer), queue a big pipeline, kill the server while the
    // pipeline waits: every slot must fail, none may hang or get a stray value.
    server.signal("STOP");
    let killer = {
        let pid = server.pid().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        })
    };
    let mut p = r.pipe();
    let hs: Vec<Handle<i64>> = (0..50_000).map(|_| p.incr("k")).collect();
    let err = p.execute().unwrap_err();
    killer.join().unwrap();
    assert!(matches!(err, Error::Io(_) | Error::Closed), "{err:?}");
    for h in &hs {
        assert!(
            matches!(h.result(), Err(Error::Failed(_))),
            "{:?}",
            h.result()
        );
    }

    server.restart();
    let n = r.autoexec(None, |p| Ok(p.incr("after"))).unwrap();
    assert_eq!(n.result().unwrap(), 1);
}

#[test]
fn connecting_to_nothing_fails_every_handle() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = Connections::new();
    r.register(redpipe::DEFAULT, ConnectionInfo::tcp("127.0.0.1", port))
        .unwrap();
    let mut p = r.pipe();
    let a = p.incr("a");
    assert!(matches!(p.execute(), Err(Error::Io(_))));
    assert!(matches!(
        a.result(),
        Err(Error::Failed(redpipe::error::Failure::Io(
            redpipe::error::IoKind::ConnectionRefused
        )))
    ));
}

#[test]
fn tls_with_a_private_ca() {
    let server = RedisServer::start_tls();
    let mut conn = Connection::open(&server.tls_url().parse().unwrap()).unwrap();
    let mut p = VecPipeline::new();
    let n = p.incr("secure").unwrap();
    let _ = p.set("payload", "x".repeat(100_000)).unwrap();
    let back = p.strlen("payload").unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!((n.read(&p), back.read(&p)), (Ok(1), Ok(100_000)));
    assert_eq!(server.cli(&["GET", "secure"]), "1");

    // Without the private CA, the public roots do not trust the server.
    let untrusted = format!("rediss://localhost:{}", server.port());
    let err = Connection::open(&untrusted.parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[test]
fn retry_is_opt_in_after_a_connection_failure() {
    use redpipe_tests::peer::{fake_servers, read_commands};
    use std::io::Write;
    use std::net::TcpStream;

    // A pooled connection that died while idle is found before anything is sent on it: the
    // pipeline goes on a new connection, once, with nothing to run twice.
    let mut server = RedisServer::start();
    let r = registry(&server);
    let _ = r.autoexec(None, |p| Ok(p.ping())).unwrap();
    server.restart();
    let mut p = r.pipe();
    let a = p.set("k", "v");
    p.execute().unwrap();
    a.result().unwrap();
    assert_eq!(server.cli(&["GET", "k"]), "v");

    // A connection that failed after the commands went out: the server may have run them, so
    // nothing is sent again unless the caller opted in.
    let flaky = || {
        let drop_after_reading: Box<dyn FnOnce(TcpStream) + Send> = Box::new(|mut s| {
            read_commands(&mut s, 2);
        });
        let answer: Box<dyn FnOnce(TcpStream) + Send> = Box::new(|mut s| {
            read_commands(&mut s, 2);
            s.write_all(b"+OK\r\n:1\r\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        fake_servers(vec![drop_after_reading, answer])
    };
    for retries in [0, 1] {
        let r = Connections::new();
        r.register(redpipe::DEFAULT, flaky()).unwrap();
        let mut p = r.pipe();
        p.set_retries(retries);
        let a = p.set("k", "v");
        let b = p.incr("n");
        let result = p.execute();
        if retries == 0 {
            assert!(result.is_err());
            assert!(matches!(a.result(), Err(Error::Failed(_))));
            assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 1);
        } else {
            result.unwrap();
            a.result().unwrap();
            assert_eq!(b.result().unwrap(), 1);
            assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
        }
    }
}

#[test]
fn connection_factories() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = RedisServer::start();
    let r = Connections::new();
    let opened = Arc::new(AtomicUsize::new(0));
    let (count, info) = (opened.clone(), server.info());
    r.register(
        "made",
        redpipe::Endpoint::factory(move || {
            count.fetch_add(1, Ordering::Relaxed);
            let mut conn = Connection::open(&info)?;
            // Setup a URL cannot express: mark the connection.
            let mut p = VecPipeline::new();
            let _ = p.query::<()>(cmd("CLIENT").arg("SETNAME").arg("from-factory"))?;
            conn.execute(&mut p)?;
            Ok(conn)
        }),
    )
    .unwrap();
    for _ in 0..3 {
        let name = r
            .autoexec(None, |p| {
                p.on("made", |p| {
                    Ok(p.query::<String>(cmd("CLIENT").arg("GETNAME")))
                })
            })
            .unwrap();
        assert_eq!(name.result().unwrap(), "from-factory");
    }
    // One connection, reused from the pool.
    assert_eq!(opened.load(Ordering::Relaxed), 1);
}

#[test]
fn send_then_finish_overlaps_the_next_batch() {
    let server = RedisServer::start();
    let mut conn = Connection::open(&server.info()).unwrap();
    let mut current = VecPipeline::new();
    let mut next = VecPipeline::new();
    let mut expected = 0;
    let mut hs: Vec<Deferred<i64>> = (0..1000).map(|_| current.incr("n").unwrap()).collect();
    conn.send(&mut current).unwrap();
    for _ in 0..5 {
        // Queued while the server works on `current`.
        let next_hs: Vec<Deferred<i64>> = (0..1000).map(|_| next.incr("n").unwrap()).collect();
        // A second pipeline may not start before the first is finished.
        let mut other = VecPipeline::new();
        let h = other.incr("n").unwrap();
        assert!(matches!(conn.send(&mut other), Err(Error::Busy)));
        assert!(h.read(&other).is_err());
        conn.finish(&mut current).unwrap();
        for h in &hs {
            expected += 1;
            assert_eq!(h.read(&current), Ok(expected));
        }
        conn.send(&mut next).unwrap();
        std::mem::swap(&mut current, &mut next);
        next.reset();
        hs = next_hs;
    }
    conn.finish(&mut current).unwrap();
    assert_eq!(hs.last().unwrap().read(&current), Ok(6000));
}

#[tokio::test]
async fn send_then_finish_async() {
    let server = RedisServer::start();
    let mut conn = redpipe::tokio::AsyncConnection::open(&server.info())
        .await
        .unwrap();
    let mut a = VecPipeline::new();
    let first = a.incr("n").unwrap();
    conn.send(&mut a).await.unwrap();
    let mut rejected = VecPipeline::new();
    let second = rejected.incr("n").unwrap();
    assert!(matches!(conn.send(&mut rejected).await, Err(Error::Busy)));
    assert!(second.read(&rejected).is_err());
    conn.finish(&mut a).await.unwrap();
    assert_eq!(first.read(&a), Ok(1));
    let mut b = VecPipeline::new();
    let third = b.incr("n").unwrap();
    conn.execute(&mut b).await.unwrap();
    assert_eq!(third.read(&b), Ok(2));
}

#[test]
fn resp3_pushes_between_pipelines_are_not_replies() {
    // With client tracking, the server pushes an invalidation when another client changes a key
    // this connection read: out-of-band data that arrives between pipelines.
    let server = RedisServer::start();
    let url = format!("{}?protocol=3", server.url());
    let mut conn = Connection::open(&url.parse().unwrap()).unwrap();
    let mut p = VecPipeline::new();
    let on = p
        .query::<()>(cmd("CLIENT").arg("TRACKING").arg("ON"))
        .unwrap();
    let before = p.get::<Option<String>>("tracked").unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!((on.read(&p), before.read(&p)), (Ok(()), Ok(None)));

    server.cli(&["SET", "tracked", "new"]);
    std::thread::sleep(std::time::Duration::from_millis(200));

    let mut p = VecPipeline::new();
    let after = p.get::<Option<String>>("tracked").unwrap();
    conn.execute(&mut p).unwrap();
    assert_eq!(after.read(&p), Ok(Some("new".to_string())));
    assert_eq!(
        p.pushes_seen(),
        1,
        "the invalidation was read and set aside"
    );
}

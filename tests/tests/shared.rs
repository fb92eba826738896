//! Many tasks and threads, one connection: shared connections against a real redis-server.
//!
//! What the server sees (its client list), what each task gets back (its own replies, even when
//! thousands run at once and half of them give up half-way), and which commands take a
//! connection of their own.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redpipe::prelude::*;
use redpipe::{Connections, Error, Handle};
use redpipe_tests::RedisServer;

/// The server's clients named `name` (the registry's connections set it).
fn clients_named(server: &RedisServer, name: &str) -> usize {
    server
        .cli(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.contains(&format!(" name={name} ")))
        .count()
}

fn registry(server: &RedisServer, name: &str) -> Connections {
    let r = Connections::new();
    let mut info = server.info();
    info.client_name = Some(name.into());
    r.register(redpipe::DEFAULT, info)
        .expect("a new registry takes any name");
    r
}

/// A small, seeded generator: the tests' random choices are repeatable from the seed they print.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_thousand_tasks_share_one_connection() {
    let server = RedisServer::start();
    let r = registry(&server, "thousand");
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move {
                let (n, echo) = r
                    .autoexec_async(None, |p| {
                        let n = p.incr(format!("n{}", i % 10));
                        let echo: Handle<String> = p.query(cmd("ECHO").arg(i));
                        Ok((n, echo))
                    })
                    .await?;
                assert_eq!(echo.result()?, i.to_string());
                n.result()
            })
        })
        .collect();
    // While they run, and after: one connection.
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap().unwrap());
    }
    counts.sort_unstable();
    // Each of the ten counters went 1..=100: nothing lost, nothing twice.
    let expected: Vec<i64> = (1..=100).flat_map(|n| [n; 10]).collect();
    assert_eq!(counts, expected);
    assert_eq!(clients_named(&server, "thousand"), 1);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn commands_that_need_a_connection_of_their_own_get_one_and_only_they() {
    let server = RedisServer::start();
    let r = registry(&server, "own");
    // Three blocking pops wait at once, each on a connection of its own; a hundred plain
    // requests run beside them on the shared one.
    let pops: Vec<_> = (0..3)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move {
                let popped = r
                    .autoexec_async(None, |p| {
                        Ok(p.query::<Option<(String, String)>>(
                            cmd("BLPOP").arg(format!("queue{i}")).arg(5),
                        ))
                    })
                    .await?;
                popped.result()
            })
        })
        .collect();
    let plain: Vec<_> = (0..100)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move {
                let n = r.autoexec_async(None, |p| Ok(p.incr("plain"))).await?;
                n.result()
            })
        })
        .collect();
    for t in plain {
        t.await.unwrap().unwrap();
    }
    // The pops are still blocked: the plain requests did not wait for them.
    assert_eq!(clients_named(&server, "own"), 4);
    for i in 0..3 {
        server.cli(&["RPUSH", &format!("queue{i}"), "job"]);
    }
    for (i, t) in pops.into_iter().enumerate() {
        let popped = t.await.unwrap().unwrap();
        assert_eq!(popped, Some((format!("queue{i}"), "job".to_string())));
    }
    // A pipe can force either path.
    let mut p = r.pipe();
    p.set_sharing(redpipe::mux::Sharing::Dedicated);
    let _ = p.ping();
    p.execute_async().await.unwrap();
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_pop_does_not_delay_other_tasks() {
    let server = RedisServer::start();
    let r = registry(&server, "blpop");
    let events = Arc::new(Mutex::new(Vec::new()));
    let pop = {
        let (r, events) = (r.clone(), events.clone());
        tokio::spawn(async move {
            let popped = r
                .autoexec_async(None, |p| {
                    Ok(p.query::<Option<(String, String)>>(cmd("BLPOP").arg("jobs").arg(5)))
                })
                .await
                .unwrap();
            events.lock().unwrap().push("popped");
            popped.result().unwrap()
        })
    };
    // Wait until the pop is blocked on the server.
    while !server
        .cli(&["CLIENT", "LIST"])
        .lines()
        .any(|l| l.contains("cmd=blpop"))
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..20 {
        let n = r.autoexec_async(None, |p| Ok(p.incr("other"))).await;
        n.unwrap().result().unwrap();
    }
    events.lock().unwrap().push("others done");
    // Only now is there a job: the pop was still waiting when the others were done.
    let pushed = r
        .autoexec_async(None, |p| Ok(p.rpush("jobs", ["one"])))
        .await;
    assert_eq!(pushed.unwrap().result().unwrap(), 1);
    let popped = pop.await.unwrap();
    assert_eq!(popped, Some(("jobs".into(), "one".into())));
    assert_eq!(*events.lock().unwrap(), ["others done", "popped"]);
}

/// Ten thousand tasks, half of which give up at random points (before their pipeline is sent,
/// while it is written, while its replies are read): every task that stays gets its own
/// replies, and the connection is still in step afterwards.
#[tokio::test(flavor = "current_thread")]
async fn half_of_ten_thousand_tasks_dropped_at_random_points() {
    let server = RedisServer::start();
    let r = registry(&server, "dropped");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let mut tasks = Vec::new();
    for i in 0..10_000u64 {
        // Dropped after this many polls of its run (0: before the first), or never.
        let give_up = (rng.below(2) == 0).then(|| rng.below(6));
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = r.pipe();
            let n = p.incr(format!("k{i}"));
            let value: Handle<Option<String>> = p.get(format!("v{}", i % 100));
            let echo: Handle<String> = p.query(cmd("ECHO").arg(format!("task {i}")));
            match give_up {
                None => {
                    p.execute_async().await?;
                    assert_eq!(n.result()?, 1);
                    assert_eq!(value.result()?, None);
                    assert_eq!(echo.result()?, format!("task {i}"));
                    Ok::<_, Error>(true)
                }
                Some(polls) => {
                    let run = Box::pin(p.execute_async());
                    let done = PollAtMost { run, polls }.await;
                    drop(p); // what was never sent is cancelled with the pipe
                    if done.is_none() {
                        // Cut short: no handle is left pending. Each is cancelled, or, when the
                        // connection's driver finished the pipeline between the last poll and
                        // the drop, holds its own command's result (never another's).
                        let cancelled = |e: &Error| {
                            matches!(e, Error::Failed(redpipe::error::Failure::Cancelled))
                        };
                        match n.result() {
                            Ok(v) => assert_eq!(v, 1),
                            Err(e) => assert!(cancelled(&e), "{e:?}"),
                        }
                        match echo.result() {
                            Ok(v) => assert_eq!(v, format!("task {i}")),
                            Err(e) => assert!(cancelled(&e), "{e:?}"),
                        }
                    }
                    Ok(false)
                }
            }
        }));
    }
    let mut survivors = 0;
    for t in tasks {
        survivors += usize::from(t.await.unwrap().unwrap());
    }
    assert!(survivors > 4000, "{survivors}");
    // Still in step: the next pipeline reads its own replies.
    let mut p = r.pipe();
    let echo: Handle<String> = p.query(cmd("ECHO").arg("last"));
    let n = p.incr("fresh");
    p.execute_async().await.unwrap();
    assert_eq!(
        (echo.result().unwrap(), n.result().unwrap()),
        ("last".into(), 1)
    );
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 1);
    assert_eq!(clients_named(&server, "dropped"), 1);
}

/// Polls `run` at most `polls` times; `None` when it was not done by then (then drops it).
struct PollAtMost<F> {
    run: F,
    polls: u64,
}

impl<F: Future + Unpin> Future for PollAtMost<F> {
    type Output = Option<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.polls == 0 {
            return std::task::Poll::Ready(None);
        }
        self.polls -= 1;
        match std::pin::Pin::new(&mut self.run).poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending => {
                // Come back soon whatever happens, so that drops land at every stage.
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
}

#[test]
fn threads_share_one_connection() {
    let server = RedisServer::start();
    let r = registry(&server, "threads");
    let seen = Arc::new(Mutex::new(HashSet::new()));
    std::thread::scope(|s| {
        for t in 0..16 {
            let (r, seen) = (&r, seen.clone());
            s.spawn(move || {
                for i in 0..200 {
                    let token = format!("{t}.{i}");
                    let (echo, n) = r
                        .autoexec(None, |p| {
                            let echo: Handle<String> = p.query(cmd("ECHO").arg(&token));
                            Ok((echo, p.incr("count")))
                        })
                        .unwrap();
                    assert_eq!(echo.result().unwrap(), token);
                    assert!(seen.lock().unwrap().insert(n.result().unwrap()));
                }
            });
        }
    });
    // Every INCR's result is distinct: 3 200 in all.
    assert_eq!(seen.lock().unwrap().len(), 3200);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 1);
    assert_eq!(clients_named(&server, "threads"), 1);
}

#[test]
fn a_thread_blocked_on_a_pop_does_not_delay_the_others() {
    let server = RedisServer::start();
    let r = registry(&server, "thread-pop");
    let events = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        let (rr, ev) = (&r, events.clone());
        let pop = s.spawn(move || {
            let popped = rr
                .autoexec(None, |p| {
                    Ok(p.query::<Option<(String, String)>>(cmd("BLPOP").arg("jobs").arg(5)))
                })
                .unwrap();
            ev.lock().unwrap().push("popped");
            popped.result().unwrap()
        });
        // Wait until the pop is blocked on the server.
        while !server
            .cli(&["CLIENT", "LIST"])
            .lines()
            .any(|l| l.contains("cmd=blpop"))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..20 {
            r.autoexec(None, |p| Ok(p.incr("other")))
                .unwrap()
                .result()
                .unwrap();
        }
        events.lock().unwrap().push("others done");
        server.cli(&["RPUSH", "jobs", "one"]);
        assert_eq!(pop.join().unwrap(), Some(("jobs".into(), "one".into())));
    });
    assert_eq!(*events.lock().unwrap(), ["others done", "popped"]);
}

/// A server that trickles a byte at a time without ever completing a reply (or floods pushes):
/// no complete reply within the user's `timeout` fails the pipelines in flight, long before the
/// 60 s `pipeline_timeout`; on a shared connection and on one of its own (`multiplexed=0`),
/// blocking threads and tokio tasks alike.
#[test]
fn a_trickle_or_a_flood_of_pushes_is_bounded_by_the_timeout() {
    use redpipe_tests::peer::{fake_server, finishes_within, read_commands};
    use std::io::Write;
    use std::net::TcpStream;
    const PUSH: &[u8] = b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n";
    let trickling = |pushes: bool| {
        fake_server(move |mut s: TcpStream| {
            read_commands(&mut s, 1);
            if !pushes {
                let _ = s.write_all(b"$1000000\r\n");
            }
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let chunk = if pushes { PUSH } else { b"x" };
                if s.write_all(chunk).is_err() {
                    return;
                }
            }
        })
        .timeout(Duration::from_millis(300))
    };
    for (pushes, tokio, multiplexed) in (0..8).map(|i| (i & 1 == 1, i & 2 == 2, i & 4 == 4)) {
        let info = trickling(pushes).multiplexed(usize::from(multiplexed));
        assert_eq!(info.pipeline_timeout, Some(Duration::from_secs(60)));
        let err = finishes_within(Duration::from_secs(20), move || {
            let r = Connections::new();
            r.register(redpipe::DEFAULT, info).unwrap();
            let run = || {
                let mut p = r.pipe();
                let v: Handle<Option<String>> = p.get("k");
                (p, v)
            };
            let (mut p, v) = run();
            let err = if tokio {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(p.execute_async()).unwrap_err()
            } else {
                p.execute().unwrap_err()
            };
            assert!(v.result().is_err());
            err
        });
        assert!(
            err.is_timeout(),
            "pushes {pushes}, tokio {tokio}, shared {multiplexed}: {err:?}"
        );
    }
}

/// The shared connection is lost while one pipeline is on the wire and two wait behind it: the
/// one on the wire fails (each of its handles says why, the command never sent too), the two
/// of which nothing was sent go on a fresh connection, and nothing runs twice.
#[tokio::test(flavor = "current_thread")]
async fn a_lost_connection_fails_what_it_carried_and_sends_the_rest_on_a_new_one() {
    let server = RedisServer::start();
    let r = Connections::new();
    let mut info = server.info();
    info.client_name = Some("lost".into());
    // One command in flight at a time: the others queue behind it.
    info.window_bytes = 1;
    r.register(redpipe::DEFAULT, info).unwrap();
    let mut a = r.pipe();
    a.set_sharing(redpipe::mux::Sharing::Shared);
    let popped: Handle<Option<(String, String)>> = a.query(cmd("BLPOP").arg("q").arg(10));
    let a_incr = a.incr("a");
    let blocked = || {
        server
            .cli(&["CLIENT", "LIST"])
            .lines()
            .any(|l| l.contains("cmd=blpop"))
    };
    // A first; once its BLPOP blocks, B and C queue behind it; then the connection is cut.
    let rest = async {
        while !blocked() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (mut b, mut c) = (r.pipe(), r.pipe());
        // Larger than the tiny byte window: shared because told so.
        b.set_sharing(redpipe::mux::Sharing::Shared);
        c.set_sharing(redpipe::mux::Sharing::Shared);
        let (b_incr, c_incr) = (b.incr("b"), c.incr("c"));
        let cut = async {
            // Both are queued (polled once) before the cut.
            tokio::task::yield_now().await;
            server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        };
        let (rb, rc, ()) = tokio::join!(b.execute_async(), c.execute_async(), cut);
        (rb, rc, b_incr, c_incr)
    };
    let (ra, (rb, rc, b_incr, c_incr)) = tokio::join!(a.execute_async(), rest);
    assert!(ra.unwrap_err().is_connection());
    for e in [popped.result().err(), a_incr.result().err()] {
        assert!(matches!(e, Some(Error::Failed(_))), "{e:?}");
    }
    rb.unwrap();
    rc.unwrap();
    assert_eq!((b_incr.result().unwrap(), c_incr.result().unwrap()), (1, 1));
    // A's INCR was never sent, and nothing was sent twice.
    assert_eq!(server.cli(&["GET", "a"]), "");
    assert_eq!(server.cli(&["GET", "b"]), "1");
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
}

/// A pipeline larger than a window (here 20 000 commands; the window is 10 000) would hold the
/// shared connection for several round trips: it takes a connection of its own, and the small
/// requests keep the shared one.
#[test]
fn a_bulk_load_takes_a_connection_of_its_own() {
    let server = RedisServer::start();
    let r = registry(&server, "bulk");
    let small = |r: &Connections| {
        r.autoexec(None, |p| Ok(p.incr("small")))
            .unwrap()
            .result()
            .unwrap()
    };
    assert_eq!(small(&r), 1);
    let mut p = r.pipe();
    let sets: Vec<Handle<()>> = (0..20_000).map(|i| p.set(format!("bulk:{i}"), i)).collect();
    p.execute().unwrap();
    assert!(sets.iter().all(|h| h.result().is_ok()));
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
    assert_eq!(small(&r), 2);
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 2);
    assert_eq!(server.cli(&["DBSIZE"]), "20001");
}

/// Over TLS the socket has one handle, which reads and writes: the reading thread writes what
/// was queued between its reads.
#[test]
fn threads_share_one_tls_connection() {
    let server = RedisServer::start_tls();
    let r = Connections::new();
    r.register(redpipe::DEFAULT, &server.tls_url()).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let r = &r;
            s.spawn(move || {
                for i in 0..50 {
                    let token = format!("{t}.{i}");
                    let echo = r
                        .autoexec(None, |p| Ok(p.query::<String>(cmd("ECHO").arg(&token))))
                        .unwrap();
                    assert_eq!(echo.result().unwrap(), token);
                }
            });
        }
    });
    assert_eq!(r.stats(redpipe::DEFAULT).unwrap().connects, 1);
}

//! redpipe-wasm in headless Chromium, against a real redpipe-bridge in front of a real
//! redis-server (and websockify in front of the same server, as a plain relay).
//!
//! `cargo xtask wasm` starts them, and the application's backend that hands pages their
//! tokens (`bridge/js/test-backend.mjs`: `GET /token` mints a token signed for a minute with
//! the bridge's secret, by `bridge/js/token.mjs`); it passes their addresses at build time
//! (`REDPIPE_BRIDGE_URL`, `REDPIPE_TOKEN_URL`, `REDPIPE_RELAY_URL`): a browser page has no
//! environment to read them from. Every session here opens with a fresh signed short-lived
//! token fetched as a page would. The bridge runs with `--allow "CLIENT KILL"`, so that a test
//! can cut another connection's Redis link from the inside.
#![cfg(target_arch = "wasm32")]
// Test code: a failed unwrap is a failed test (`allow-unwrap-in-tests` covers `#[test]` only),
// and `foo`/`bar` are the names the Python README uses.
#![allow(clippy::unwrap_used, clippy::disallowed_names)]

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;

use redpipe_wasm::prelude::*;
use redpipe_wasm::{Connections, Error, Failure, Handle, Options, Pipe, Reply, cmd};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn env(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| panic!("{name} is not set: run these tests with `cargo xtask wasm`"))
}

fn bridge_url() -> &'static str {
    env(option_env!("REDPIPE_BRIDGE_URL"), "REDPIPE_BRIDGE_URL")
}

#[wasm_bindgen(
    inline_js = "export async function fetch_text(url) { const r = await fetch(url, { cache: 'no-store' }); if (!r.ok) throw new Error(`${url}: ${r.status}`); return r.text(); }"
)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn fetch_text(url: &str) -> Result<JsValue, JsValue>;
}

/// A fresh token from the application's backend, as a page gets one (`query`: `prefix=...`,
/// `ttl=...`).
async fn token_for(query: &str) -> String {
    let url = env(option_env!("REDPIPE_TOKEN_URL"), "REDPIPE_TOKEN_URL");
    fetch_text(&[url, "?", query].concat())
        .await
        .expect("the backend mints a token")
        .as_string()
        .expect("text")
}

async fn token() -> String {
    token_for("").await
}

/// A key unique to this test run and name.
fn key(name: &str) -> String {
    let now = js_sys::Date::now() as u64;
    let rand = (js_sys::Math::random() * 1e9) as u64;
    format!("wasm-test:{now}:{rand}:{name}")
}

async fn connections() -> Connections {
    let c = Connections::new();
    c.connect("", bridge_url(), Options::token(token().await))
        .await
        .expect("the bridge accepts the token");
    c
}

/// Polls two futures to completion together.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra.expect("ready"), rb.expect("ready"))
}

/// The README's reusable function: joins the caller's pipe, or runs on its own.
async fn increment_and_expire(
    redis: &Connections,
    key: &str,
    pipe: Option<&mut Pipe>,
) -> Result<Handle<i64>, Error> {
    Pipe::autoexec_async(
        || redis.clone(),
        pipe,
        |p| {
            let n = p.incrby(key, 1);
            let _ = p.expire(key, 60);
            Ok(n)
        },
    )
    .await
}

#[wasm_bindgen_test]
async fn readme_scenarios() {
    let redis = connections().await;
    // Pipelined commands return handles, filled by execute.
    let (foo, bar) = (key("foo"), key("bar"));
    let mut p = redis.pipe();
    let a = p.incr(foo.as_str());
    let b = p.incr(bar.as_str());
    p.execute_async().await.expect("execute");
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (1, 1));

    // A reusable function, nested 100 times: 200 commands, one round trip.
    let before = redis.stats("").expect("stats").pipelines;
    let mut p = redis.pipe();
    let mut handles = Vec::new();
    for i in 0..100 {
        let k = key(&format!("key{i}"));
        handles.push(increment_and_expire(&redis, &k, p.nested()).await.unwrap());
    }
    assert_eq!(p.len(), 200);
    p.execute_async().await.expect("execute");
    assert!(handles.iter().all(|h| h.result().unwrap() == 1));
    assert_eq!(redis.stats("").unwrap().pipelines, before + 1);
    // Alone, it runs its own pipeline.
    let k = key("key3");
    let alone = increment_and_expire(&redis, &k, None).await.unwrap();
    assert_eq!(alone.result().unwrap(), 1);

    // A callback combines results after the pipeline ran.
    let mut p = redis.pipe();
    let hits: Vec<Handle<i64>> = (0..10).map(|i| p.incr(key(&format!("cb{i}")))).collect();
    let sum = p.on_execute(move |_| hits.iter().map(|h| h.result().unwrap_or(0)).sum::<i64>());
    p.execute_async().await.expect("execute");
    assert_eq!(*sum.result().unwrap(), 10);
}

#[wasm_bindgen_test]
async fn nesting_scopes_and_callbacks() {
    let redis = connections().await;
    let (kept, dropped) = (key("kept"), key("dropped"));
    let mut p = redis.pipe();
    let k = p.incr(kept.as_str());
    // A scope that fails sends nothing of its own.
    let failed: Result<(), Error> = p.scope(|p| {
        let _ = p.incr(dropped.as_str());
        Err(Error::other("no"))
    });
    assert!(failed.is_err());
    // An execute inside a scope joins the enclosing pipeline.
    p.scope(|p| {
        let _ = p.incr(kept.as_str());
        Ok(())
    })
    .unwrap();
    let seen = p.on_execute({
        let k = k.clone();
        move |_| k.result().unwrap_or(-1)
    });
    p.execute_async().await.expect("execute");
    assert_eq!(k.result().unwrap(), 1);
    assert_eq!(*seen.result().unwrap(), 1);
    let mut check = redis.pipe();
    let (kept_n, dropped_n) = (
        check.get(kept.as_str()).cast::<i64>(),
        check.exists(dropped.as_str()),
    );
    check.execute_async().await.unwrap();
    assert_eq!(kept_n.result().unwrap(), 2);
    assert_eq!(dropped_n.result().unwrap(), 0);

    // Transactions: MULTI/EXEC with each handle its own result.
    let t = key("tx");
    let mut p = redis.pipe();
    let (x, y) = p
        .transaction(|p| Ok((p.incr(t.as_str()), p.incr(t.as_str()))))
        .unwrap();
    p.execute_async().await.unwrap();
    assert_eq!((x.result().unwrap(), y.result().unwrap()), (1, 2));
}

#[wasm_bindgen_test]
async fn errors_stay_in_their_slots() {
    let redis = connections().await;
    let s = key("string");
    let mut p = redis.pipe();
    let _ = p.set(s.as_str(), "text");
    let wrong = p.incr(s.as_str());
    let denied = p.query::<()>(cmd("FLUSHALL"));
    let fine = p.get(s.as_str()).cast::<String>();
    p.execute_async()
        .await
        .expect("server errors do not fail execute");
    match wrong.result() {
        Err(Error::Server(e)) => assert_eq!(e.code(), "ERR"),
        other => panic!("{other:?}"),
    }
    match denied.result() {
        Err(Error::Server(e)) => assert_eq!(e.code(), "NOPERM"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fine.result().unwrap(), "text");
}

#[wasm_bindgen_test]
async fn ten_thousand_commands_whose_replies_arrive_over_many_messages() {
    let redis = connections().await;
    let k = key("big");
    let value = "v".repeat(200);
    let mut p = redis.pipe();
    let _ = p.set(k.as_str(), value.as_str());
    p.execute_async().await.unwrap();
    let before = redis.stats("").unwrap().messages;
    let mut p = redis.pipe();
    let gets: Vec<Handle<String>> = (0..10_000).map(|_| p.get(k.as_str()).cast()).collect();
    p.execute_async().await.expect("execute");
    assert!(gets.iter().all(|h| h.result().unwrap() == value));
    let messages = redis.stats("").unwrap().messages - before;
    // ~2.1 MB of replies: the bridge relays them as Redis hands them over.
    assert!(messages > 10, "replies came in {messages} messages");
}

#[wasm_bindgen_test]
async fn concurrent_pipelines_on_one_socket_do_not_interleave() {
    let redis = connections().await;
    let (ka, kb) = (key("a"), key("b"));
    let mut pa = redis.pipe();
    let mut pb = redis.pipe();
    let a: Vec<Handle<i64>> = (0..2000).map(|_| pa.incr(ka.as_str())).collect();
    let b: Vec<Handle<i64>> = (0..2000).map(|_| pb.incr(kb.as_str())).collect();
    let (ra, rb) = join(pa.execute_async(), pb.execute_async()).await;
    ra.unwrap();
    rb.unwrap();
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        assert_eq!(a.result().unwrap(), i as i64 + 1);
        assert_eq!(b.result().unwrap(), i as i64 + 1);
    }
    assert_eq!(redis.stats("").unwrap().connects, 1, "one socket, shared");
}

/// A thousand pipelines from as many async functions at once, half of them given up at random
/// points: every one that stays gets its own replies, all on one socket, which is still in step
/// afterwards.
#[wasm_bindgen_test]
async fn a_thousand_promises_share_one_socket_and_half_give_up() {
    let redis = connections().await;
    let prefix = key("many");
    let mut pipes: Vec<Pipe> = (0..1000).map(|_| redis.pipe()).collect();
    let mut checks = Vec::new();
    let mut runs = Vec::new();
    for (i, p) in pipes.iter_mut().enumerate() {
        let n = p.incr(format!("{prefix}:{i}"));
        let echo: Handle<String> = p.query(cmd("ECHO").arg(i));
        // Half are polled a random number of times, then dropped.
        let polls = (js_sys::Math::random() < 0.5).then(|| (js_sys::Math::random() * 6.0) as u32);
        checks.push((i, n, echo, polls));
        runs.push(async move {
            let run = core::pin::pin!(p.execute_async());
            poll_at_most(run, polls).await
        });
    }
    let results = join_all(runs).await;
    drop(pipes);
    let mut survivors = 0;
    for ((i, n, echo, polls), result) in checks.into_iter().zip(results) {
        match result {
            Some(run) => {
                run.unwrap();
                assert_eq!(n.result().unwrap(), 1);
                assert_eq!(echo.result().unwrap(), i.to_string());
                survivors += usize::from(polls.is_none());
            }
            None => assert!(matches!(
                echo.result(),
                Err(Error::Failed(Failure::Cancelled))
            )),
        }
    }
    assert!(survivors > 400, "{survivors}");
    let mut p = redis.pipe();
    let last: Handle<String> = p.query(cmd("ECHO").arg("last"));
    p.execute_async().await.unwrap();
    assert_eq!(last.result().unwrap(), "last");
    let stats = redis.stats("").unwrap();
    assert_eq!(stats.connects, 1, "one socket for every promise");
}

/// Polls `run` at most `polls` times (`None`: until done); `None` if it was not done by then.
async fn poll_at_most<F: Future + Unpin>(mut run: F, polls: Option<u32>) -> Option<F::Output> {
    let mut left = polls;
    poll_fn(|cx| {
        if left == Some(0) {
            return Poll::Ready(None);
        }
        left = left.map(|n| n - 1);
        match core::pin::Pin::new(&mut run).poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => {
                if left.is_some() {
                    cx.waker().wake_by_ref(); // come back soon: drops land at every stage
                }
                Poll::Pending
            }
        }
    })
    .await
}

/// Polls every future until all are done.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (f, r) in futures.iter_mut().zip(results.iter_mut()) {
            if r.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *r = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.expect("done")).collect()
}

#[wasm_bindgen_test]
async fn losing_the_connection_fails_every_waiting_handle() {
    let redis = connections().await;
    redis
        .connect("killer", bridge_url(), Options::token(token().await))
        .await
        .unwrap();
    let mut p = redis.pipe();
    let id = p.query::<i64>(cmd("CLIENT").arg("ID"));
    p.execute_async().await.unwrap();
    let id = id.result().unwrap();

    // A pipeline stuck behind a blocking command, and Redis drops its connection. (A blocking
    // command takes a socket of its own unless told to share: here it must share, to be on
    // the socket that is cut.)
    let list = key("never");
    let mut stuck = redis.pipe();
    stuck.set_sharing(redpipe_wasm::mux::Sharing::Shared);
    let blocked = stuck.query::<Reply<'static>>(cmd("BLPOP").arg(list.as_str()).arg(0));
    let after: Vec<Handle<i64>> = (0..5).map(|_| stuck.incr(key("after"))).collect();
    let mut killer = redis.pipe();
    let killed = killer.on("killer", |p| {
        Ok(p.query::<i64>(cmd("CLIENT").arg("KILL").arg("ID").arg(id)))
    });
    let kill = async {
        sleep(200).await; // Let the BLPOP reach Redis first.
        killer.execute_async().await
    };
    let (stuck_result, kill_result) = join(stuck.execute_async(), kill).await;
    kill_result.unwrap();
    assert_eq!(killed.unwrap().result().unwrap(), 1);
    let err = stuck_result.expect_err("the connection was lost");
    let text = err.to_string();
    assert!(text.contains("redis closed the connection"), "{text}");
    for h in std::iter::once(blocked.cast::<i64>()).chain(after) {
        assert!(
            matches!(h.result(), Err(Error::Failed(Failure::Io(_)))),
            "{:?}",
            h.result()
        );
    }
    // The next pipeline gets a new socket.
    let mut p = redis.pipe();
    let pong = p.ping();
    p.execute_async().await.unwrap();
    assert_eq!(pong.result().unwrap(), "PONG");
}

#[wasm_bindgen_test]
async fn a_plain_relay_works_too() {
    let url = env(option_env!("REDPIPE_RELAY_URL"), "REDPIPE_RELAY_URL");
    let redis = Connections::new();
    redis
        .connect("", url, Options::default())
        .await
        .expect("websockify accepts");
    let k = key("relay");
    let mut p = redis.pipe();
    let n = p.incr(k.as_str());
    let v = p.get(k.as_str()).cast::<i64>();
    p.execute_async().await.unwrap();
    assert_eq!((n.result().unwrap(), v.result().unwrap()), (1, 1));
}

#[wasm_bindgen_test]
async fn a_wrong_token_is_refused_with_the_reason() {
    let c = Connections::new();
    let err = c
        .connect("", bridge_url(), Options::token("wrong"))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("invalid token"), "{err}");
}

#[wasm_bindgen_test]
async fn an_expired_token_is_refused_with_the_reason() {
    let expired = token_for("ttl=-5").await;
    let err = Connections::new()
        .connect("", bridge_url(), Options::token(expired))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("invalid token: expired"), "{err}");
}

#[wasm_bindgen_test]
async fn a_prefixed_token_confines_the_page_to_its_keys() {
    let mine = key("confined");
    let prefix = [mine.as_str(), ":"].concat();
    let redis = Connections::new();
    redis
        .connect(
            "",
            bridge_url(),
            Options::token(token_for(&["prefix=", &prefix].concat()).await),
        )
        .await
        .expect("the bridge accepts the token");
    let mut p = redis.pipe();
    let inside = p.incr([prefix.as_str(), "n"].concat());
    let outside = p.incr(key("elsewhere"));
    p.execute_async().await.expect("execute");
    assert_eq!(inside.result().unwrap(), 1);
    match outside.result() {
        Err(Error::Server(e)) => assert_eq!(e.code(), "NOPERM"),
        other => panic!("{other:?}"),
    }
    // The page's SCAN walks the whole keyspace but sees its own prefix only.
    let (mut cursor, mut keys) = ("0".to_string(), Vec::new());
    loop {
        let mut p = redis.pipe();
        let page = p.query::<(String, Vec<String>)>(
            cmd("SCAN").arg(cursor.as_str()).arg("COUNT").arg(1000),
        );
        p.execute_async().await.expect("execute");
        let (next, found) = page.result().unwrap();
        keys.extend(found);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(keys, [[prefix.as_str(), "n"].concat()]);
}

/// Waits `ms` milliseconds.
async fn sleep(ms: i32) {
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .expect("a window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    }))
    .await
    .unwrap();
}

/// The message a subscriber's `next` gave.
fn message(r: Option<redpipe_wasm::pubsub::Received>) -> redpipe_wasm::pubsub::Msg {
    match r {
        Some(redpipe_wasm::pubsub::Received::Msg(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// A page subscribes through the bridge's subscriber session and receives what a pipeline of
/// the same token publishes; a channel outside the token's `subscribe` rules is refused with
/// the bridge's reason, and the subscriber goes on.
#[wasm_bindgen_test]
async fn a_page_subscribes_within_its_token_s_channels() {
    use redpipe_wasm::pubsub::{Kind, Subscriber};
    let room = key("room");
    let rules = [room.as_str(), ":*"].concat();
    let t = token_for(&["subscribe=", &rules, "&publish=", &rules].concat()).await;
    let chat = [room.as_str(), ":chat"].concat();
    let mut sub = Subscriber::open(bridge_url(), &Options::token(t.clone()))
        .await
        .unwrap();
    sub.subscribe(Kind::Channel, &[&chat]).await.unwrap();
    assert!(sub.is_confirmed(Kind::Channel, &chat));
    let redis = Connections::new();
    redis
        .connect("", bridge_url(), Options::token(t))
        .await
        .unwrap();
    let mut p = redis.pipe();
    let heard = p.publish(&chat, "hello");
    let forged = p.publish("test:elsewhere", "x");
    p.execute_async().await.unwrap();
    assert_eq!(heard.result().unwrap(), 1, "one subscriber: the page");
    assert!(
        matches!(forged.result(), Err(Error::Server(e)) if e.code() == "NOPERM"),
        "the token's publish rules replace the bridge's defaults"
    );
    let m = message(sub.next().await.unwrap());
    assert_eq!(
        (m.channel, m.payload),
        (chat.clone().into_bytes(), b"hello".to_vec())
    );

    let refused = sub.subscribe(Kind::Pattern, &["*"]).await.unwrap_err();
    let Error::Server(e) = &refused else {
        panic!("{refused:?}")
    };
    assert!(
        e.code() == "NOPERM"
            && core::str::from_utf8(e.message())
                .unwrap()
                .contains("channel '*'"),
        "{refused}"
    );
    // Still subscribed to what it had.
    let mut p = redis.pipe();
    let again = p.publish(&chat, "again");
    p.execute_async().await.unwrap();
    assert_eq!(again.result().unwrap(), 1);
    assert_eq!(message(sub.next().await.unwrap()).payload, b"again");
    sub.close();
    assert!(sub.next().await.unwrap().is_none(), "closed: the end");

    // A token naming no channels gets the bridge's defaults (`test:*` in these tests).
    let mut plain = Subscriber::open(bridge_url(), &Options::token(token().await))
        .await
        .unwrap();
    plain
        .subscribe(Kind::Channel, &["test:news"])
        .await
        .unwrap();
    assert!(plain.subscribe(Kind::Channel, &[&chat]).await.is_err());
}

/// A page's subscriber whose session Redis drops opens it again by itself: `next` says a gap
/// happened, and the channel is heard again with no call of the page's.
#[wasm_bindgen_test]
async fn a_page_s_subscriber_comes_back_after_its_session_is_dropped() {
    use redpipe_wasm::pubsub::{Kind, Received, Subscriber};
    let chat = ["test:", key("gap").as_str()].concat();
    let t = token().await;
    let mut sub = Subscriber::open(bridge_url(), &Options::token(t.clone()))
        .await
        .unwrap();
    sub.subscribe(Kind::Channel, &[&chat]).await.unwrap();
    // Straight to Redis through the plain relay: the bridge refuses CLIENT.
    let admin = Connections::new();
    admin
        .connect(
            "",
            env(option_env!("REDPIPE_RELAY_URL"), "REDPIPE_RELAY_URL"),
            Options::default(),
        )
        .await
        .unwrap();
    let mut p = admin.pipe();
    let killed = p.query::<i64>(cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"));
    p.execute_async().await.unwrap();
    assert!(killed.result().unwrap() >= 1);
    assert!(matches!(sub.next().await.unwrap(), Some(Received::Gap)));
    assert_eq!(sub.gaps(), 1);
    assert!(!sub.has_ended());
    // Subscribed again: the next publish reaches it.
    let redis = Connections::new();
    redis
        .connect("", bridge_url(), Options::token(t))
        .await
        .unwrap();
    loop {
        let mut p = redis.pipe();
        let heard = p.publish(&chat, "back");
        p.execute_async().await.unwrap();
        if heard.result().unwrap() == 1 {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(message(sub.next().await.unwrap()).payload, b"back");
    sub.close();
}

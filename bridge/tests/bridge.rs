//! The bridge against a real redis-server, from native clients that behave like pages (an
//! `Origin`, a token): who gets in, what the policy does to the stream, limits, many sessions,
//! memory under a client that outpaces Redis, and shutdown. Each test starts its own
//! redis-server and bridge process on free ports. The attacks of issue 23, one test each, are
//! in `attacks.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use redpipe::cmd;
use redpipe::core::{Limits, ReadBuffer, Scanner, VecPipeline};
use redpipe::prelude::*;
use redpipe_bridge::Grant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn no_token_wrong_token_and_wrong_origin_are_refused_with_a_reason() {
    let (_redis, bridge, _files) = setup(&["--token", TOKEN]);

    // No token: the first message must be the token; a command is refused, unanswered.
    let mut ws = open(&bridge.url(), &[]).await.expect("handshake");
    ws.send(Message::binary(&b"*1\r\n$4\r\nPING\r\n"[..]))
        .await
        .expect("send");
    let (code, reason) = close_code(&mut ws).await.expect("a close frame");
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("token"), "{reason}");

    // A wrong token as the first message, or in the header: closed with the reason.
    for header in [false, true] {
        let bearer = "Bearer wrong";
        let headers: &[(&str, &str)] = if header {
            &[("authorization", bearer)]
        } else {
            &[]
        };
        let mut ws = open(&bridge.url(), headers).await.expect("handshake");
        if !header {
            ws.send(Message::text("wrong")).await.expect("send");
        }
        assert_eq!(
            close_code(&mut ws).await,
            Some((CloseCode::Policy, "invalid token".into()))
        );
    }

    // A browser page from an origin not on the list, even with a valid token: closed with a
    // reason that names it (not a bare HTTP 403, which a page sees as 1006).
    let token = fresh_token();
    let mut ws = open_from(
        USER_IP,
        &bridge.url(),
        &[
            ("origin", "http://evil.test"),
            ("authorization", &format!("Bearer {token}")),
        ],
    )
    .await
    .expect("handshake");
    assert_eq!(
        close_code(&mut ws).await,
        Some((
            CloseCode::Policy,
            "origin not allowed: http://evil.test".into()
        ))
    );

    // The listed origin with the token as first message: `ready`, then commands run; with
    // the token in a header, no `ready`.
    for t in [token.as_str(), TOKEN] {
        let mut ws = login(&bridge.url(), t).await;
        let mut p = VecPipeline::new();
        let pong = p.ping().unwrap();
        run(&mut ws, &mut p).await.expect("pipeline");
        assert_eq!(pong.read(&p).unwrap(), "PONG");
    }
    let mut ws = open(
        &bridge.url(),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
    .expect("handshake");
    ws.send(Message::binary(command(&["PING"])))
        .await
        .expect("send");
    assert_eq!(
        ws.next().await.and_then(Result::ok),
        Some(Message::binary(&b"+PONG\r\n"[..])),
        "no `ready` first"
    );
}

#[tokio::test]
async fn a_denied_command_gets_an_error_in_its_slot() {
    let (redis, bridge, _files) = setup(&[]);
    let mut ws = session(&bridge).await;
    let mut p = VecPipeline::new();
    let set = p.set("a", "1").unwrap();
    let flush = p.query::<()>(cmd("FLUSHALL")).unwrap();
    let get = p.get::<String>("a").unwrap();
    let keys = p.query::<Vec<String>>(cmd("KEYS").arg("*")).unwrap();
    let n = p.incr("n").unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(set.read(&p), Ok(()));
    let denied = flush.read(&p).unwrap_err();
    assert!(
        matches!(&denied, SlotError::Server(e) if e.kind() == redpipe::error::ServerErrorKind::NoPerm),
        "{denied:?}"
    );
    assert_eq!(get.read(&p).unwrap(), "1");
    assert!(matches!(keys.read(&p), Err(SlotError::Server(_))));
    assert_eq!(n.read(&p), Ok(1));
    assert_eq!(
        redis.cli(&["GET", "a"]),
        "1",
        "FLUSHALL never reached Redis"
    );

    // Inside MULTI: the transaction fails as a whole, the slots stay aligned.
    let mut p = VecPipeline::new();
    let before = p.incr("t").unwrap();
    let (inside, denied) = p
        .transaction(|p| {
            let inside = p.incr("t")?;
            let denied = p.query::<()>(cmd("CONFIG").arg("SET").arg("x").arg("y"))?;
            Ok::<_, redpipe::error::CapacityError>((inside, denied))
        })
        .unwrap();
    let after = p.incr("t").unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(before.read(&p), Ok(1));
    assert!(inside.read(&p).is_err() && denied.read(&p).is_err());
    assert_eq!(after.read(&p), Ok(2), "the aborted INCR did not run");
}

#[tokio::test]
async fn tokens_map_to_acl_users() {
    let mut alice = acl_user("alice", "alice-pw", "~alice:*", WEB_ACL);
    alice.extend(acl_user("bob", "bob-pw", "~bob:*", WEB_ACL));
    let redis = web_redis(&alice);
    let files = Files::new("");
    let token_file = files.path("tokens");
    std::fs::write(
        &token_file,
        "# token user password\nalice-token-0123456789abcdef0123456789 alice alice-pw\n",
    )
    .unwrap();
    let (bridge, _files) = bridge(
        &url_as(&redis, "web", "web-pw"),
        "bob bob-pw\n",
        &["--token-file", &token_file],
    );
    // A static token mapped to alice; a signed token naming bob (whose password only the
    // bridge knows); a signed token naming a user the bridge does not know.
    let alice = login(&bridge.url(), "alice-token-0123456789abcdef0123456789").await;
    let bob = login(
        &bridge.url(),
        &mint(&Grant::new(Duration::from_secs(60)).user("bob")),
    )
    .await;
    for (mut ws, own, other) in [(alice, "alice:x", "bob:x"), (bob, "bob:x", "alice:x")] {
        let mut p = VecPipeline::new();
        let own = p.set(own, "1").unwrap();
        let other = p.set(other, "1").unwrap();
        run(&mut ws, &mut p).await.expect("pipeline");
        assert_eq!(own.read(&p), Ok(()));
        assert!(
            matches!(other.read(&p), Err(SlotError::Server(e)) if e.kind() == redpipe::error::ServerErrorKind::NoPerm),
            "Redis's ACL refused the write outside the user's keys"
        );
    }
    let stranger = mint(&Grant::new(Duration::from_secs(60)).user("root"));
    assert_eq!(
        login_from(USER_IP, &bridge.url(), &stranger).await.err(),
        Some(Some((CloseCode::Policy, "invalid token".into())))
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_only_its_session() {
    let (redis, bridge, _files) = setup(&["--max-frame", "65536"]);
    let mut big = session(&bridge).await;
    let mut other = session(&bridge).await;
    let value = "x".repeat(100_000);
    let mut p = VecPipeline::new();
    let _ = p.set("big", value.as_str()).unwrap();
    big.send(Message::binary(p.poll_output().to_vec()))
        .await
        .expect("send");
    assert_eq!(
        close_code(&mut big).await.map(|c| c.0),
        Some(CloseCode::Size)
    );

    let mut p = VecPipeline::new();
    let n = p.incr("still-here").unwrap();
    run(&mut other, &mut p)
        .await
        .expect("the other session goes on");
    assert_eq!(n.read(&p), Ok(1));
    assert_eq!(redis.cli(&["EXISTS", "big"]), "0");
}

#[tokio::test]
async fn the_session_limit_and_the_idle_timeout_apply() {
    let (_redis, bridge, _files) = setup(&["--max-sessions", "2", "--idle-timeout", "1"]);
    let mut first = session(&bridge).await;
    let _second = session(&bridge).await;
    assert_eq!(
        login_from(USER_IP, &bridge.url(), &fresh_token())
            .await
            .err(),
        Some(Some((
            CloseCode::Again,
            "too many sessions: try again later".into()
        )))
    );
    // A session with no traffic is closed, and its place is free again.
    assert_eq!(
        close_code(&mut first).await,
        Some((CloseCode::Away, "idle timeout".into()))
    );
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        match login_from(USER_IP, &bridge.url(), &fresh_token()).await {
            Ok(ws) => {
                again = Some(ws);
                break;
            }
            // The idle session's place is given back once its task has ended.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let mut ws = again.expect("a place freed by the idle session");
    let mut p = VecPipeline::new();
    let pong = p.ping().unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(pong.read(&p).unwrap(), "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_sessions_all_succeed() {
    const SESSIONS: usize = 500;
    let (redis, bridge, _files) = setup(&["--max-sessions", "600", "--max-per-ip", "600"]);
    let url = bridge.url();
    let token = fresh_token();
    let runs = (0..SESSIONS).map(|i| {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            let mut ws = open(&url, &[("authorization", &format!("Bearer {token}"))])
                .await
                .map_err(|e| format!("session {i}: {e}"))?;
            let mut total = 0;
            for _ in 0..2 {
                let mut p = VecPipeline::new();
                let hits: Vec<_> = (0..10).map(|_| p.incr(format!("s:{i}")).unwrap()).collect();
                run(&mut ws, &mut p).await?;
                total = hits.last().unwrap().read(&p).map_err(|e| e.to_string())?;
            }
            let _ = ws.close(None).await;
            Ok::<i64, String>(total)
        })
    });
    let results = futures_util::future::join_all(runs).await;
    let ok = results
        .into_iter()
        .map(|r| r.expect("task").expect("session"))
        .filter(|&n| n == 20)
        .count();
    assert_eq!(ok, SESSIONS);
    assert_eq!(redis.cli(&["GET", "s:499"]), "20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_when_a_client_outpaces_redis() {
    const COMMANDS_PER_FRAME: usize = 256;
    const FRAMES: usize = 384; // 384 × 256 commands × ~1 KiB = ~96 MiB
    let (redis, bridge, _files) = setup(&["--max-pending", "1000"]);
    let ws = session(&bridge).await;
    let (mut tx, mut rx) = ws.split();
    let value = "v".repeat(1000);
    let frame = {
        let mut p = VecPipeline::new();
        for i in 0..COMMANDS_PER_FRAME {
            let _ = p.set(format!("k{i}"), value.as_str()).unwrap();
        }
        p.poll_output().to_vec()
    };
    let baseline = bridge.memory_kib("VmRSS").expect("bridge memory");

    redis.signal("STOP");
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let sent = sent.clone();
        tokio::spawn(async move {
            for _ in 0..FRAMES {
                tx.send(Message::binary(frame.clone())).await.expect("send");
                sent.fetch_add(1, Ordering::Relaxed);
            }
            tx
        })
    };
    let reader = tokio::spawn(async move {
        let (limits, mut scanner, mut buf) = (Limits::default(), Scanner::new(), Vec::new());
        let mut replies = 0usize;
        while replies < COMMANDS_PER_FRAME * FRAMES {
            let Some(Ok(Message::Binary(b))) = rx.next().await else {
                panic!("the session ended after {replies} replies");
            };
            buf.extend_from_slice(&b);
            let mut used = 0;
            while let Some(n) = scanner.scan(&buf[used..], &limits).expect("RESP") {
                assert_eq!(&buf[used..used + n], b"+OK\r\n");
                used += n;
                replies += 1;
            }
            buf.drain(..used);
        }
        replies
    });
    // Wait until the client is held back: its sends stop making progress.
    let mut last = u64::MAX;
    while sent.load(Ordering::Relaxed) != last {
        last = sent.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let held = sent.load(Ordering::Relaxed) as usize;
    let during = bridge.memory_kib("VmRSS").expect("bridge memory");
    assert!(
        held < FRAMES,
        "the client was held back while Redis was stopped ({held} of {FRAMES} frames sent)"
    );
    redis.signal("CONT");
    let _tx = sender.await.expect("sender");
    assert_eq!(
        reader.await.expect("reader"),
        COMMANDS_PER_FRAME * FRAMES,
        "every command got its reply"
    );
    let peak = bridge.memory_kib("VmHWM").expect("bridge memory");
    eprintln!(
        "bridge memory: {baseline} KiB at start, {during} KiB while Redis was stopped ({held} frames of ~256 KiB sent), peak {peak} KiB for ~96 MiB of commands"
    );
    assert!(
        peak < baseline + 48 * 1024,
        "the bridge's memory grew by {} KiB",
        peak - baseline
    );
}

#[tokio::test]
async fn shutdown_delivers_the_replies_in_flight() {
    let (redis, mut bridge, _files) = setup(&["--shutdown-grace", "20"]);
    let mut ws = session(&bridge).await;
    let mut p = VecPipeline::new();
    let hits: Vec<_> = (0..100).map(|_| p.incr("in-flight").unwrap()).collect();
    redis.signal("STOP");
    ws.send(Message::binary(p.poll_output().to_vec()))
        .await
        .expect("send");
    let n = p.poll_output().len();
    p.consume_output(n);
    // Let the commands reach the bridge, then stop it while Redis holds their replies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = bridge.pid().expect("running");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.signal("CONT");
    let mut buf = ReadBuffer::new(Vec::new());
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => buf.feed(&mut p, &b).expect("replies"),
            Some(Ok(Message::Close(f))) => break f,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(p.is_done(), "every reply arrived before the close");
    assert_eq!(hits[99].read(&p), Ok(100));
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
    let status = bridge.terminate(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn signed_tokens_grant_their_commands_until_they_expire() {
    let (_redis, bridge, _files) = setup(&["--max-token-ttl", "120"]);
    let url = bridge.url();
    let grant = Grant::new(Duration::from_secs(60)).commands(["GET", "SET", "client setname"]);
    let mut ws = login(&url, &mint(&grant)).await;
    let r = replies(
        &mut ws,
        &[
            &["SET", "k", "1"],
            &["INCR", "k"],
            &["CLIENT", "SETNAME", "page"],
            &["GET", "k"],
        ],
    )
    .await
    .expect("replies");
    assert_eq!(r[0], "+OK");
    assert_eq!(r[1], "-NOPERM this session's token does not grant 'INCR'");
    assert_eq!((r[2].as_str(), r[3].as_str()), ("+OK", "\"1\""));

    let refused = |grant: Grant| {
        let url = url.clone();
        async move { login_from(USER_IP, &url, &mint(&grant)).await.err() }
    };
    let now = redpipe_bridge::token::now();
    assert_eq!(
        refused(Grant::until(now - 1)).await,
        Some(Some((CloseCode::Policy, "invalid token: expired".into())))
    );
    assert_eq!(
        refused(Grant::until(now + 3600)).await,
        Some(Some((
            CloseCode::Policy,
            "invalid token: lives longer than this bridge allows".into()
        )))
    );
    // Signed with another secret.
    let other = redpipe_bridge::Secret::new(vec![b'x'; 32]).unwrap();
    let forged = redpipe_bridge::mint(&other, &Grant::new(Duration::from_secs(60)));
    assert_eq!(
        login_from(USER_IP, &url, &forged).await.err(),
        Some(Some((CloseCode::Policy, "invalid token".into())))
    );
}

/// One invocation of every command a confined session may use, keys named `k1`, `k2`, ...
#[rustfmt::skip]
const SAMPLES: &[&str] = &[
    "GET k1", "SET k1 v", "SETNX k1 v", "SETEX k1 10 v", "PSETEX k1 1000 v", "GETSET k1 v",
    "GETDEL k1", "GETEX k1 EX 10", "MGET k1 k2", "MSET k1 v k2 v", "MSETNX k1 v k2 v",
    "INCR k1", "INCRBY k1 2", "INCRBYFLOAT k1 1.5", "DECR k1", "DECRBY k1 2", "STRLEN k1",
    "GETRANGE k1 0 1", "SUBSTR k1 0 1", "SETRANGE k1 0 v", "GETBIT k1 0", "SETBIT k1 0 1",
    "BITCOUNT k1", "BITPOS k1 1", "BITFIELD_RO k1 GET u8 0", "BITOP AND k1 k2 k3",
    "PFADD k1 a", "PFCOUNT k1 k2", "PFMERGE k1 k2", "APPEND k1 v", "BITFIELD k1 GET u8 0",
    "DEL k1 k2", "UNLINK k1 k2", "EXISTS k1 k2", "TYPE k1", "TOUCH k1 k2", "RENAME k1 k2",
    "RENAMENX k1 k2", "COPY k1 k2 REPLACE", "EXPIRE k1 10", "PEXPIRE k1 10",
    "EXPIREAT k1 10", "PEXPIREAT k1 10", "EXPIRETIME k1", "PEXPIRETIME k1", "TTL k1",
    "PTTL k1", "PERSIST k1",
    "HSET k1 f v", "HSETNX k1 f v", "HMSET k1 f v", "HGET k1 f", "HMGET k1 f g",
    "HGETALL k1", "HDEL k1 f", "HEXISTS k1 f", "HINCRBY k1 f 1", "HINCRBYFLOAT k1 f 1.5",
    "HKEYS k1", "HVALS k1", "HLEN k1", "HSTRLEN k1 f", "HRANDFIELD k1", "HSCAN k1 0",
    "LPUSH k1 v", "RPUSH k1 v", "LPUSHX k1 v", "RPUSHX k1 v", "LPOP k1", "RPOP k1",
    "LLEN k1", "LRANGE k1 0 -1", "LINDEX k1 0", "LSET k1 0 v", "LINSERT k1 BEFORE p v",
    "LREM k1 0 v", "LTRIM k1 0 1", "LPOS k1 v", "LMOVE k1 k2 LEFT RIGHT",
    "RPOPLPUSH k1 k2", "LMPOP 2 k1 k2 LEFT", "BLPOP k1 k2 0", "BRPOP k1 k2 0",
    "BLMOVE k1 k2 LEFT RIGHT 0", "BRPOPLPUSH k1 k2 0", "BLMPOP 0 2 k1 k2 LEFT",
    "SADD k1 m", "SREM k1 m", "SMEMBERS k1", "SISMEMBER k1 m", "SMISMEMBER k1 m n",
    "SCARD k1", "SPOP k1", "SRANDMEMBER k1", "SMOVE k1 k2 m", "SINTER k1 k2",
    "SUNION k1 k2", "SDIFF k1 k2", "SINTERSTORE k1 k2 k3", "SUNIONSTORE k1 k2 k3",
    "SDIFFSTORE k1 k2 k3", "SINTERCARD 2 k1 k2", "SSCAN k1 0",
    "ZADD k1 1 m", "ZREM k1 m", "ZSCORE k1 m", "ZMSCORE k1 m n", "ZINCRBY k1 1 m",
    "ZCARD k1", "ZCOUNT k1 0 1", "ZLEXCOUNT k1 - +", "ZRANGE k1 0 -1",
    "ZRANGESTORE k1 k2 0 -1", "ZRANGEBYSCORE k1 0 1", "ZREVRANGEBYSCORE k1 1 0",
    "ZRANGEBYLEX k1 - +", "ZREVRANGEBYLEX k1 + -", "ZREVRANGE k1 0 -1", "ZRANK k1 m",
    "ZREVRANK k1 m", "ZREMRANGEBYRANK k1 0 1", "ZREMRANGEBYSCORE k1 0 1",
    "ZREMRANGEBYLEX k1 - +", "ZPOPMIN k1", "ZPOPMAX k1", "BZPOPMIN k1 k2 0",
    "BZPOPMAX k1 k2 0", "ZMPOP 2 k1 k2 MIN", "BZMPOP 0 2 k1 k2 MIN", "ZRANDMEMBER k1",
    "ZUNION 2 k1 k2", "ZINTER 2 k1 k2", "ZDIFF 2 k1 k2", "ZUNIONSTORE k1 2 k2 k3",
    "ZINTERSTORE k1 2 k2 k3", "ZDIFFSTORE k1 2 k2 k3", "ZINTERCARD 2 k1 k2", "ZSCAN k1 0",
    "GEOADD k1 13.3 38.1 m", "GEODIST k1 m n", "GEOHASH k1 m", "GEOPOS k1 m",
    "GEOSEARCH k1 FROMMEMBER m BYRADIUS 1 km",
    "GEOSEARCHSTORE k1 k2 FROMMEMBER m BYRADIUS 1 km",
    "XADD k1 * f v", "XRANGE k1 - +", "XREVRANGE k1 + -", "XLEN k1",
    "XREAD COUNT 1 STREAMS k1 k2 0 0", "XREADGROUP GROUP g c STREAMS k1 k2 > >",
    "XREADGROUP GROUP STREAMS c COUNT 2 STREAMS k1 >", "XACK k1 g 0-1", "XDEL k1 0-1",
    "XTRIM k1 MAXLEN 10", "XPENDING k1 g", "XCLAIM k1 g c 0 0-1", "XAUTOCLAIM k1 g c 0 0",
    "XSETID k1 0-1", "XGROUP CREATE k1 g $", "XINFO STREAM k1",
    "MULTI", "EXEC", "DISCARD", "WATCH k1 k2", "UNWATCH", "PING", "ECHO x", "HELLO 3",
    "CLIENT SETNAME x", "CLIENT GETNAME", "CLIENT ID", "SCAN 0", "KEYS *",
    "PUBLISH c m", "SPUBLISH c m",
];

/// Confinement checks the words the core's key table names: for every command a confined
/// session may use, Redis's own `COMMAND GETKEYS` names the same ones.
#[test]
fn the_key_table_agrees_with_redis_on_every_confinable_command() {
    let redis = redpipe_tests::RedisServer::start();
    for rule in redpipe_bridge::confine::CONFINABLE
        .iter()
        .chain(redpipe_bridge::policy::DEFAULT_ALLOW)
    {
        assert!(
            SAMPLES
                .iter()
                .any(|s| s.starts_with(&format!("{rule} ")) || s == rule),
            "no sample for {rule}"
        );
    }
    for sample in SAMPLES {
        // Its channel is routed by slot (the key table names it for the cluster router), but
        // it is never confined: channels are not keys, the publish rules judge them.
        if *sample == "SPUBLISH c m" {
            continue;
        }
        let words: Vec<&str> = sample.split(' ').collect();
        let ours: Vec<&str> = redpipe::cluster::KeySpec::of(words[0].as_bytes())
            .positions(&words)
            .map(|i| words[i])
            .collect();
        let mut args = vec!["COMMAND", "GETKEYS"];
        args.extend(&words);
        // A command of one word has no word to be a key (and GETKEYS wants one).
        let out = if words.len() > 1 {
            redis.cli(&args)
        } else {
            String::new()
        };
        let theirs: Vec<&str> = if out.contains("no key arguments") {
            Vec::new()
        } else {
            out.lines().collect()
        };
        assert!(
            theirs.iter().all(|k| k.starts_with('k')),
            "{sample}: Redis says {out:?}"
        );
        assert_eq!(ours, theirs, "{sample}");
    }
}

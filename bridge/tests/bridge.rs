//! The bridge against a real redis-server, from native clients: who gets in, what the policy
//! does to the stream, limits, many sessions, memory under a client that outpaces Redis, and
//! shutdown. Each test starts its own redis-server and bridge process on free ports.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use redpipe::prelude::*;
use redpipe::{Limits, ReadBuffer, Scanner, VecPipeline, cmd};
use redpipe_tests::bridge::Bridge;
use redpipe_tests::{Options, RedisServer};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const TOKEN: &str = "test-token-0123456789";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_redpipe-bridge"))
}

async fn open(url: &str, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// A session authenticated by header.
async fn session(bridge: &Bridge) -> Ws {
    open(
        &bridge.url(),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    )
    .await
    .expect("session opens")
}

/// Runs `p` over `ws`: sends what the window offers, feeds every binary message.
async fn run(ws: &mut Ws, p: &mut VecPipeline) -> Result<(), String> {
    let mut buf = ReadBuffer::new(Vec::new());
    loop {
        let out = p.poll_output().to_vec();
        if !out.is_empty() {
            ws.send(Message::binary(out.clone()))
                .await
                .map_err(|e| e.to_string())?;
        }
        p.consume_output(out.len());
        if p.is_done() {
            return Ok(());
        }
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => buf.feed(p, &b).map_err(|e| e.to_string())?,
            Some(Ok(Message::Close(f))) => return Err(format!("closed: {f:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("ended".into()),
        }
    }
}

/// The close frame the bridge sends next (skipping data), or what ended the stream.
async fn close_code(ws: &mut Ws) -> Option<(CloseCode, String)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => return Some((f.code, f.reason.to_string())),
            Ok(Some(Ok(Message::Binary(b)))) => panic!("unexpected data {b:?}"),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

#[tokio::test]
async fn no_token_wrong_token_and_wrong_origin_are_refused() {
    let redis = RedisServer::start();
    let bridge = Bridge::start(bin(), &redis.url(), TOKEN, &["--origin", "http://app.test"]);

    // No token: the first message must be the token; a command is refused, unanswered.
    let mut ws = open(&bridge.url(), &[]).await.expect("handshake");
    ws.send(Message::binary(&b"*1\r\n$4\r\nPING\r\n"[..]))
        .await
        .expect("send");
    let (code, reason) = close_code(&mut ws).await.expect("a close frame");
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("token"), "{reason}");

    // A wrong token as the first message.
    let mut ws = open(&bridge.url(), &[]).await.expect("handshake");
    ws.send(Message::text("wrong")).await.expect("send");
    assert_eq!(
        close_code(&mut ws).await,
        Some((CloseCode::Policy, "invalid token".into()))
    );

    // A wrong token in the header: refused at the handshake.
    let refused = open(&bridge.url(), &[("authorization", "Bearer wrong")]).await;
    assert!(
        matches!(&refused, Err(WsError::Http(r)) if r.status() == 401),
        "{refused:?}"
    );
    // A browser page from an origin not on the list, even with the right token.
    let refused = open(
        &bridge.url(),
        &[
            ("origin", "http://evil.test"),
            ("authorization", &format!("Bearer {TOKEN}")),
        ],
    )
    .await;
    assert!(
        matches!(&refused, Err(WsError::Http(r)) if r.status() == 403),
        "{refused:?}"
    );

    // The listed origin with the token as first message: `ready`, then commands run.
    let mut ws = open(&bridge.url(), &[("origin", "http://app.test")])
        .await
        .expect("handshake");
    ws.send(Message::text(TOKEN)).await.expect("send");
    assert_eq!(
        ws.next().await.and_then(Result::ok),
        Some(Message::text("ready"))
    );
    let mut p = VecPipeline::new();
    let pong = p.ping().unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(pong.read(&p).unwrap(), "PONG");
}

#[tokio::test]
async fn a_denied_command_gets_an_error_in_its_slot() {
    let redis = RedisServer::start();
    let bridge = Bridge::start(bin(), &redis.url(), TOKEN, &[]);
    let mut ws = session(&bridge).await;
    let mut p = VecPipeline::new();
    let set = p.set("a", "1").unwrap();
    let flush = p.query::<(), _, _>(cmd("FLUSHALL")).unwrap();
    let get = p.get::<String>("a").unwrap();
    let keys = p.query::<Vec<String>, _, _>(cmd("KEYS").arg("*")).unwrap();
    let n = p.incr("n").unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(set.read(&p), Ok(()));
    let denied = flush.read(&p).unwrap_err();
    assert!(
        matches!(&denied, SlotError::Server(e) if e.kind() == redpipe::ServerErrorKind::NoPerm),
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
            let denied = p.query::<(), _, _>(cmd("CONFIG").arg("SET").arg("x").arg("y"))?;
            Ok::<_, redpipe::CapacityError>((inside, denied))
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
    let redis = RedisServer::with(Options {
        extra: ["--user", "alice", "on", ">alice-pw", "~alice:*", "+@all"]
            .map(String::from)
            .to_vec(),
        ..Options::default()
    });
    let dir = std::env::temp_dir().join(format!("redpipe-bridge-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tokens");
    std::fs::write(&file, "# token user password\nalice-token alice alice-pw\n").unwrap();
    let bridge = Bridge::start(
        bin(),
        &redis.url(),
        TOKEN,
        &["--token-file", file.to_str().unwrap()],
    );
    let mut ws = open(&bridge.url(), &[("authorization", "Bearer alice-token")])
        .await
        .expect("session");
    let mut p = VecPipeline::new();
    let own = p.set("alice:x", "1").unwrap();
    let other = p.set("bob:x", "1").unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    assert_eq!(own.read(&p), Ok(()));
    assert!(
        matches!(other.read(&p), Err(SlotError::Server(e)) if e.kind() == redpipe::ServerErrorKind::NoPerm),
        "Redis's ACL refused alice's write outside her keys"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_oversized_frame_closes_only_its_session() {
    let redis = RedisServer::start();
    let bridge = Bridge::start(bin(), &redis.url(), TOKEN, &["--max-frame", "65536"]);
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
    let redis = RedisServer::start();
    let bridge = Bridge::start(
        bin(),
        &redis.url(),
        TOKEN,
        &["--max-sessions", "2", "--idle-timeout", "1"],
    );
    let mut first = session(&bridge).await;
    let _second = session(&bridge).await;
    let refused = open(
        &bridge.url(),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    )
    .await;
    assert!(
        matches!(&refused, Err(WsError::Http(r)) if r.status() == 503),
        "{refused:?}"
    );
    // A session with no traffic is closed, and its place is free again.
    assert_eq!(
        close_code(&mut first).await,
        Some((CloseCode::Away, "idle timeout".into()))
    );
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        match open(
            &bridge.url(),
            &[("authorization", &format!("Bearer {TOKEN}"))],
        )
        .await
        {
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
    let redis = RedisServer::start();
    let bridge = Bridge::start(bin(), &redis.url(), TOKEN, &["--max-sessions", "600"]);
    let url = bridge.url();
    let runs = (0..SESSIONS).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut ws = open(&url, &[("authorization", &format!("Bearer {TOKEN}"))])
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
    let redis = RedisServer::start();
    let bridge = Bridge::start(bin(), &redis.url(), TOKEN, &["--max-pending", "1000"]);
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
    let redis = RedisServer::start();
    let mut bridge = Bridge::start(bin(), &redis.url(), TOKEN, &["--shutdown-grace", "20"]);
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

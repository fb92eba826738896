//! What the bridge's suites share: a redis-server whose `web` user has the recommended ACL, a
//! bridge in front of it (signed tokens, a users file, one allowed origin), clients that behave
//! like a page (an `Origin`, a token) from a chosen loopback address, and RESP helpers.
#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use redpipe::Reply;
use redpipe::core::{Limits, ReadBuffer, Scanner, VecPipeline, decode_reply};
use redpipe_bridge::token::{self, Grant, Secret};
use redpipe_tests::bridge::Bridge;
use redpipe_tests::{Options, RedisServer};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A static token (development), long enough to be accepted.
pub const TOKEN: &str = "a-development-token-0123456789abcdef";
/// The signing secret the bridge and [`mint`] share.
pub const SECRET: &str = "test-signing-secret-0123456789abcdef0123";
/// The page's origin, on the bridge's list.
pub const ORIGIN: &str = "http://app.test";
/// The recommended ACL (SECURITY.md), for every key: what the `web` user gets.
pub const WEB_ACL: &[&str] = &[
    "resetchannels",
    "-@all",
    "+@read",
    "+@write",
    "+@transaction",
    "+@connection",
    "-@dangerous",
    "-@admin",
    "-@scripting",
];

/// Loopback addresses: the page's, and the attacker's.
pub const USER_IP: [u8; 4] = [127, 0, 0, 1];
pub const ATTACKER_IP: [u8; 4] = [127, 0, 0, 2];

pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_redpipe-bridge"))
}

/// `--user NAME on >PASSWORD KEYS RULES...` for redis-server's command line.
pub fn acl_user(name: &str, password: &str, keys: &str, rules: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "--user".into(),
        name.into(),
        "on".into(),
        format!(">{password}"),
        keys.into(),
    ];
    out.extend(rules.iter().map(|r| r.to_string()));
    out
}

/// A redis-server with the user `web` (password `web-pw`) under the recommended ACL, plus
/// `extra` options. Its `default` user stays for the tests' own checks (`redis-cli`).
pub fn web_redis(extra: &[String]) -> RedisServer {
    let mut args = acl_user("web", "web-pw", "~*", WEB_ACL);
    args.extend(extra.iter().cloned());
    RedisServer::with(Options {
        extra: args,
        ..Options::default()
    })
}

/// `redis://USER:PASSWORD@127.0.0.1:PORT`.
pub fn url_as(redis: &RedisServer, user: &str, password: &str) -> String {
    format!("redis://{user}:{password}@127.0.0.1:{}", redis.port())
}

/// Files the bridge reads (secret, users), removed on drop.
pub struct Files(PathBuf);

impl Files {
    pub fn new(users: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redpipe-bridge-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("secret"), format!("{SECRET}\n")).expect("secret");
        std::fs::write(dir.join("users"), users).expect("users");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bridge in front of `redis_url`: the signing secret, the users file `users` (`USER
/// PASSWORD` lines), the origin [`ORIGIN`], and `extra` options (no static token: pass
/// `--token` for one).
pub fn bridge(redis_url: &str, users: &str, extra: &[&str]) -> (Bridge, Files) {
    let files = Files::new(users);
    let (secret, users) = (files.path("secret"), files.path("users"));
    let mut args = vec![
        "--token-secret-file",
        &secret,
        "--users-file",
        &users,
        "--origin",
        ORIGIN,
    ];
    args.extend_from_slice(extra);
    (Bridge::start(bin(), redis_url, "", &args), files)
}

/// The usual set-up: [`web_redis`] and a bridge that logs sessions in as `web`.
pub fn setup(extra: &[&str]) -> (RedisServer, Bridge, Files) {
    let redis = web_redis(&[]);
    let (bridge, files) = bridge(&url_as(&redis, "web", "web-pw"), "web web-pw\n", extra);
    (redis, bridge, files)
}

/// A token signed with [`SECRET`].
pub fn mint(grant: &Grant) -> String {
    let secret = Secret::new(SECRET.as_bytes().to_vec()).expect("a long secret");
    token::mint(&secret, grant)
}

/// A token for a minute, as the URL's user.
pub fn fresh_token() -> String {
    mint(&Grant::new(Duration::from_secs(60)))
}

/// Opens a WebSocket to `url` from the loopback address `from`, with `headers`.
pub async fn open_from(from: [u8; 4], url: &str, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    let tcp = connect_from(from, url).await.map_err(WsError::Io)?;
    Ok(
        tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
            .await?
            .0,
    )
}

/// A bare TCP connection to the bridge at `url`, from the loopback address `from`.
pub async fn connect_from(from: [u8; 4], url: &str) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = url.trim_start_matches("ws://").parse().expect("ws://ADDR");
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from(from), 0))?;
    socket.connect(addr).await
}

/// Opens a WebSocket as a page would: its `Origin`, then `headers`.
pub async fn open(url: &str, headers: &[(&str, &str)]) -> Result<Ws, WsError> {
    let mut all = vec![("origin", ORIGIN)];
    all.extend_from_slice(headers);
    open_from(USER_IP, url, &all).await
}

/// A session logged in with `token` (as the first message, as browsers send it).
pub async fn login(url: &str, token: &str) -> Ws {
    login_from(USER_IP, url, token)
        .await
        .expect("session opens")
}

/// A session from `from` with `token` as the first message; the close frame if refused.
pub async fn login_from(
    from: [u8; 4],
    url: &str,
    token: &str,
) -> Result<Ws, Option<(CloseCode, String)>> {
    let mut ws = open_from(from, url, &[("origin", ORIGIN)])
        .await
        .map_err(|_| None)?;
    ws.send(Message::text(token)).await.map_err(|_| None)?;
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "ready" => Ok(ws),
        Ok(Some(Ok(Message::Close(Some(f))))) => Err(Some((f.code, f.reason.to_string()))),
        _ => Err(None),
    }
}

/// A session with a fresh signed token.
pub async fn session(bridge: &Bridge) -> Ws {
    login(&bridge.url(), &fresh_token()).await
}

/// Runs `p` over `ws`: sends what the window offers, feeds every binary message.
pub async fn run(ws: &mut Ws, p: &mut VecPipeline) -> Result<(), String> {
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
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.feed(p, &b).map_err(|e| e.to_string())?,
            Ok(Some(Ok(Message::Close(f)))) => return Err(format!("closed: {f:?}")),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("ended".into()),
            Err(_) => return Err("no reply within 30 s".into()),
        }
    }
}

/// A command as RESP.
pub fn command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend(format!("${}\r\n{w}\r\n", w.len()).bytes());
    }
    out
}

/// Sends `commands` in one message and reads one reply each (30 s at most), as RESP text
/// (`+OK`, `-NOPERM ...`, `:1`, `$-1`, or a decoded value's debug form).
pub async fn replies(ws: &mut Ws, commands: &[&[&str]]) -> Result<Vec<String>, String> {
    let bytes: Vec<u8> = commands.iter().flat_map(|c| command(c)).collect();
    ws.send(Message::binary(bytes))
        .await
        .map_err(|e| e.to_string())?;
    frames(ws, commands.len()).await
}

/// Reads `n` frames (30 s at most), as [`replies`] shows them.
pub async fn frames(ws: &mut Ws, n: usize) -> Result<Vec<String>, String> {
    let limits = Limits::default();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(Message::Close(f)))) => return Err(format!("closed after {out:?}: {f:?}")),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => return Err(format!("{other:?} after {out:?}")),
            Err(_) => return Err(format!("no reply within 30 s after {out:?}")),
        }
        let mut used = 0;
        while let Some(n) = Scanner::new()
            .scan(&buf[used..], &limits)
            .map_err(|e| e.to_string())?
        {
            out.push(show(&buf[used..used + n]));
            used += n;
        }
        buf.drain(..used);
    }
    Ok(out)
}

/// A reply as text: simple lines as they are (`+OK`, `-NOPERM ...`, `:1`, `$-1`), bulk
/// strings quoted, arrays as `[a, b]`.
fn show(reply: &[u8]) -> String {
    match reply.first() {
        Some(b'+' | b'-' | b':') => String::from_utf8_lossy(&reply[..reply.len() - 2]).into(),
        _ if reply.starts_with(b"$-1") => "$-1".into(),
        _ => match decode_reply(reply, &Limits::default()) {
            Ok(Some((r, _))) => render(&r),
            _ => "?".into(),
        },
    }
}

fn render(reply: &Reply<'_>) -> String {
    match reply {
        Reply::Bulk(b) | Reply::Simple(b) => format!("\"{}\"", String::from_utf8_lossy(b)),
        Reply::Array(items) => {
            let items: Vec<String> = items.iter().map(|r| render(&r)).collect();
            format!("[{}]", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// The close frame the bridge sends next (skipping data), or what ended the stream.
pub async fn close_code(ws: &mut Ws) -> Option<(CloseCode, String)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => return Some((f.code, f.reason.to_string())),
            Ok(Some(Ok(Message::Binary(b)))) => panic!("unexpected data {b:?}"),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

/// Whether a `-NOPERM` error.
pub fn noperm(reply: &str) -> bool {
    reply.starts_with("-NOPERM")
}

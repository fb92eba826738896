//! The server: accepting WebSocket sessions and running each one's relay over its own Redis
//! connection.
//!
//! A connection goes: its address's share ([`Config::max_per_ip`]: beyond it, the socket is
//! closed at once) → the WebSocket handshake → its `Origin` → its address's failed logins →
//! the token (an `Authorization: Bearer` header, or the first text message) → a session slot
//! ([`Config::max_sessions`], taken only now, so that connections that never log in cannot
//! hold one) → its own Redis connection as the token's ACL user (opened by the std adapter:
//! URL, TLS, `AUTH`, `SELECT`, timeouts) → `ready` (for a token sent as a message) → the
//! relay loop ([`pump`]). A client that asks for the WebSocket subprotocol
//! [`SUBSCRIBER_PROTOCOL`] gets a Pub/Sub session ([`Relay::subscriber`](crate::Relay::subscriber)):
//! subscriptions within its channel rules only, no idle timeout (a quiet channel is not an idle
//! client), the maximum age still applies. Every refusal after the handshake is a WebSocket close
//! with a code and a reason a page can show (`1008` policy: origin, token; `1013` try again
//! later: throttled, full, memory), and is logged with the peer and origin.

mod pump;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use redpipe::tokio::AsyncConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tracing::{debug, info, warn};

use crate::auth::{self, Login};
use crate::config::Config;
use crate::limits::{Budget, Gate, Ticket};
use crate::policy::{Access, Policy};

/// The WebSocket subprotocol a client asks for to open a Pub/Sub session (`redpipe-wasm`'s
/// subscribers do).
pub const SUBSCRIBER_PROTOCOL: &str = "redpipe.subscribe";

/// What every session shares.
struct Shared {
    config: Arc<Config>,
    policy: Arc<Policy>,
    sessions: Arc<Semaphore>,
    gate: Arc<Gate>,
    budget: Budget,
}

/// Runs the bridge on `listener` until `shutdown` completes; then stops accepting, lets each
/// session deliver the replies in flight (up to [`Config::shutdown_grace`]) and returns.
///
/// The configuration MUST pass [`Config::validate`] (else `InvalidInput`). The start-up ACL
/// check ([`crate::acl::check`]) is the caller's: the `redpipe-bridge` program runs it first.
pub async fn serve(
    listener: TcpListener,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let shared = Arc::new(Shared {
        policy: Arc::new(config.policy.clone()),
        sessions: Arc::new(Semaphore::new(config.max_sessions)),
        gate: Gate::new(config.max_per_ip, config.failed_logins_per_minute),
        budget: Budget::new(config.max_memory),
        config: config.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let mut running = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors or a connection reset before accept: keep serving.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(ticket) = shared.gate.admit(peer.ip()) else {
                    // Cheapest refusal for a flood: no handshake, no task.
                    debug!(%peer, "refused: too many connections from this address");
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let shared = shared.clone();
                let stopped = stopped.clone();
                running.spawn(session(tcp, peer, ticket, shared, stopped));
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    info!(
        sessions = running.len(),
        "shutting down: delivering replies in flight"
    );
    let _ = stop.send(true);
    let grace = config.shutdown_grace + Duration::from_secs(1);
    if timeout(grace, async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        warn!(
            sessions = running.len(),
            "sessions still open after the grace period: closing them"
        );
        running.shutdown().await;
    }
    info!("stopped");
    Ok(())
}

/// What the handshake learnt.
#[derive(Default)]
struct Handshake {
    /// The token of an `Authorization: Bearer` header.
    bearer: Option<Vec<u8>>,
    origin: Option<String>,
    /// The client asked for [`SUBSCRIBER_PROTOCOL`].
    subscriber: bool,
}

pub(crate) fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: truncate(reason).into(),
    }))
}

/// A close reason fits a control frame (123 bytes).
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(123);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

type Ws = WebSocketStream<TcpStream>;

/// Closes with `code` and `reason`, then reads until the client answers the close (or 2 s):
/// dropping the socket with its messages unread would reset it, and the page would see a bare
/// 1006 instead of the reason.
async fn refuse(mut ws: Ws, code: CloseCode, reason: &str) {
    let _ = ws.send(close(code, reason)).await;
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// One connection, from handshake to close. Errors end the session (logged), never the
/// server.
async fn session(
    tcp: TcpStream,
    peer: SocketAddr,
    _ticket: Ticket,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
) {
    let config = &shared.config;
    let login_deadline = Instant::now() + config.auth_timeout;
    let mut hs = Handshake::default();
    // The shape tungstenite's `Callback` requires; it runs once per handshake.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let header = |name| req.headers().get(name).map(|v| v.as_bytes());
        hs.origin = header("origin").map(|o| String::from_utf8_lossy(o).into_owned());
        hs.bearer = header("authorization")
            .map(|h| h.strip_prefix(b"Bearer ").unwrap_or_default().to_vec());
        hs.subscriber = header("sec-websocket-protocol").is_some_and(|p| {
            p.split(|&b| b == b',')
                .any(|p| p.trim_ascii() == SUBSCRIBER_PROTOCOL.as_bytes())
        });
        if hs.subscriber {
            // The browser fails a handshake whose answer names no protocol it asked for.
            resp.headers_mut().insert(
                "sec-websocket-protocol",
                tokio_tungstenite::tungstenite::http::HeaderValue::from_static(SUBSCRIBER_PROTOCOL),
            );
        }
        Ok(resp)
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_frame))
        .max_frame_size(Some(config.max_frame))
        // An idle session holds little: buffers grow with what arrives.
        .read_buffer_size(16 * 1024)
        .write_buffer_size(64 * 1024);
    let accepted = timeout(
        config.auth_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(ws_config)),
    )
    .await;
    let mut ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, "handshake timed out");
            return;
        }
    };
    let origin = hs.origin.take();
    if let Err(e) = auth::check_origin(
        origin.as_deref(),
        &config.origins,
        config.allow_missing_origin,
    ) {
        warn!(%peer, ?origin, "origin refused");
        return refuse(ws, CloseCode::Policy, &e.reason()).await;
    }
    if shared.gate.throttled(peer.ip(), std::time::Instant::now()) {
        shared.gate.failed(peer.ip(), std::time::Instant::now());
        info!(%peer, ?origin, "login refused: too many failed logins from this address");
        return refuse(
            ws,
            CloseCode::Again,
            "too many failed logins from this address: try again later",
        )
        .await;
    }
    let by_header = hs.bearer.is_some();
    let presented = match hs.bearer.take() {
        Some(b) => b,
        None => match first_message(&mut ws, login_deadline).await {
            Ok(t) => t,
            Err(why) => {
                shared.gate.failed(peer.ip(), std::time::Instant::now());
                info!(%peer, ?origin, why, "login refused");
                return refuse(ws, CloseCode::Policy, why).await;
            }
        },
    };
    let login = match auth::login(config.keys(), &presented, crate::token::now()) {
        Ok(l) => l,
        Err(e) => {
            shared.gate.failed(peer.ip(), std::time::Instant::now());
            info!(%peer, ?origin, error = %e, "login refused");
            return refuse(ws, CloseCode::Policy, e.reason()).await;
        }
    };
    let Ok(_slot) = shared.sessions.clone().try_acquire_owned() else {
        warn!(%peer, ?origin, max = config.max_sessions, "session refused: all slots taken");
        return refuse(ws, CloseCode::Again, "too many sessions: try again later").await;
    };
    let user = login.user.clone().unwrap_or_else(|| "(url)".into());
    let redis = match connect(config, &login).await {
        Ok(r) => r,
        Err(e) => {
            warn!(%peer, %user, error = %e, "redis connection failed");
            let reason = format!("redis unavailable: {e}");
            return refuse(ws, CloseCode::Error, &reason).await;
        }
    };
    if !by_header && ws.send(Message::text("ready")).await.is_err() {
        return;
    }
    let mut access = Access::new(shared.policy.clone());
    if let Some(rules) = login.commands {
        access = access.granting(rules);
    }
    if let Some(prefix) = login.prefix {
        access = access.confined(prefix);
    }
    access = access.channels(
        login.subscribe.unwrap_or_else(|| config.subscribe.clone()),
        login.publish.unwrap_or_else(|| config.publish.clone()),
    );
    let subscriber = hs.subscriber;
    info!(%peer, ?origin, %user, prefix = ?access.prefix(), subscriber, "session opened");
    let end = pump::run(ws, redis, access, subscriber, &shared, stopped).await;
    info!(%peer, %user, commands = end.commands, denied = end.denied, reason = end.reason, "session closed");
}

/// The session's own Redis connection, as the login's ACL user.
async fn connect(
    config: &Config,
    login: &Login,
) -> redpipe::Result<(redpipe::tokio::Stream, Vec<u8>)> {
    let mut info = config.redis.clone();
    if let Some(u) = &login.user {
        info.username = Some(u.clone());
        info.password = login.password.clone();
    }
    AsyncConnection::open(&info)
        .await
        .and_then(|c| c.into_stream())
}

/// Waits (until `deadline`) for the token as the first (text) message.
async fn first_message(ws: &mut Ws, deadline: Instant) -> Result<Vec<u8>, &'static str> {
    let first = tokio::time::timeout_at(deadline, ws.next())
        .await
        .map_err(|_| "no token in time")?;
    match first {
        Some(Ok(Message::Text(t))) => Ok(t.as_bytes().to_vec()),
        _ => Err("a token is required (Authorization header or first text message)"),
    }
}

//! The server: accepting WebSocket sessions and running each one's relay over its own Redis
//! connection.
//!
//! A session goes: handshake (origin, session limit, token in an `Authorization: Bearer`
//! header) → token as the first text message if there was no header (answered `ready`) → its
//! own Redis connection, authenticated as the token's ACL user (the std adapter opens it: URL,
//! TLS, `AUTH`, `SELECT`, timeouts) → the relay loop. The loop stops reading the client while
//! [`Config::max_pending`] commands wait for Redis, and on shutdown stops reading and delivers
//! the replies still in flight before closing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use redpipe::Limits;
use redpipe::tokio::AsyncConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, info, warn};

use crate::auth::{self, Token};
use crate::config::Config;
use crate::relay::Relay;

/// Runs the bridge on `listener` until `shutdown` completes; then stops accepting, lets each
/// session deliver the replies in flight (up to [`Config::shutdown_grace`]) and returns.
pub async fn serve(
    listener: TcpListener,
    config: Arc<Config>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let sessions = Arc::new(Semaphore::new(config.max_sessions));
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
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let permit = sessions.clone().try_acquire_owned().ok();
                let config = config.clone();
                let stopped = stopped.clone();
                running.spawn(async move {
                    session(tcp, peer, config, permit.is_some(), stopped).await;
                    drop(permit);
                });
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
    let grace = config.shutdown_grace + std::time::Duration::from_secs(1);
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
    token: Option<Token>,
    origin: Option<String>,
}

fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why.to_string()));
    *r.status_mut() = status;
    r
}

fn close(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

type Ws = WebSocketStream<TcpStream>;

/// One session, from handshake to close. Errors end the session (logged), never the server.
async fn session(
    tcp: TcpStream,
    peer: SocketAddr,
    config: Arc<Config>,
    admitted: bool,
    stopped: watch::Receiver<bool>,
) {
    let mut hs = Handshake::default();
    // The shape tungstenite's `Callback` requires; it runs once per handshake.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if !admitted {
            return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "too many sessions"));
        }
        let origin = req
            .headers()
            .get("origin")
            .and_then(|o| o.to_str().ok())
            .map(String::from);
        if !auth::origin_allowed(
            origin.as_deref(),
            &config.origins,
            config.allow_missing_origin,
        ) {
            return Err(refuse(StatusCode::FORBIDDEN, "origin not allowed"));
        }
        hs.origin = origin;
        if let Some(header) = req.headers().get("authorization") {
            let presented = header
                .as_bytes()
                .strip_prefix(b"Bearer ")
                .unwrap_or_default();
            match auth::find(&config.tokens, presented) {
                Some(t) => hs.token = Some(t.clone()),
                None => return Err(refuse(StatusCode::UNAUTHORIZED, "invalid token")),
            }
        }
        Ok(resp)
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_frame))
        .max_frame_size(Some(config.max_frame));
    let accepted = timeout(
        config.auth_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(ws_config)),
    )
    .await;
    let mut ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            info!(%peer, error = %e, "handshake refused");
            return;
        }
        Err(_) => {
            info!(%peer, "handshake timed out");
            return;
        }
    };
    let origin = hs.origin.take();
    let token = match hs.token.take() {
        Some(t) => t,
        None => match first_message_token(&mut ws, &config).await {
            Ok(t) => t,
            Err(why) => {
                info!(%peer, ?origin, why, "session refused");
                let _ = ws.send(close(CloseCode::Policy, why)).await;
                return;
            }
        },
    };
    let user = token.user.clone().unwrap_or_else(|| "(url)".into());
    let mut info = config.redis.clone();
    if let Some(u) = &token.user {
        info.username = Some(u.clone());
        info.password = token.password.clone();
    }
    let redis = match AsyncConnection::open(&info)
        .await
        .and_then(|c| c.into_stream())
    {
        Ok(r) => r,
        Err(e) => {
            warn!(%peer, %user, error = %e, "redis connection failed");
            let reason = format!("redis unavailable: {e}");
            let _ = ws.send(close(CloseCode::Error, truncate(&reason))).await;
            return;
        }
    };
    info!(%peer, ?origin, %user, "session opened");
    let end = relay(ws, redis, &config, stopped).await;
    info!(%peer, %user, commands = end.commands, denied = end.denied, reason = end.reason, "session closed");
}

/// A close reason fits a control frame (123 bytes).
fn truncate(s: &str) -> &str {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Waits for the token as the first (text) message, and answers `ready`.
async fn first_message_token(ws: &mut Ws, config: &Config) -> Result<Token, &'static str> {
    let first = timeout(config.auth_timeout, ws.next())
        .await
        .map_err(|_| "no token in time")?;
    let Some(Ok(Message::Text(presented))) = first else {
        return Err("a token is required (Authorization header or first text message)");
    };
    let token = auth::find(&config.tokens, presented.as_bytes())
        .cloned()
        .ok_or("invalid token")?;
    ws.send(Message::text("ready"))
        .await
        .map_err(|_| "closed before ready")?;
    Ok(token)
}

/// How a relay ended.
struct End {
    reason: &'static str,
    commands: u64,
    denied: u64,
}

/// The relay loop; see the [module docs](self).
async fn relay(
    ws: Ws,
    (mut redis, early): (redpipe::tokio::Stream, Vec<u8>),
    config: &Config,
    mut stopped: watch::Receiver<bool>,
) -> End {
    let (mut tx, mut rx) = ws.split();
    let command_limits = Limits {
        max_bulk_len: config.max_command as u64,
        max_reply_len: config.max_command,
        ..Limits::default()
    };
    let reply_limits = Limits {
        max_bulk_len: config.max_reply as u64,
        max_reply_len: config.max_reply,
        ..Limits::default()
    };
    let mut r = Relay::new(
        Arc::new(config.policy.clone()),
        command_limits,
        reply_limits,
    );
    let mut buf = vec![0u8; 64 * 1024];
    let mut draining = *stopped.borrow();
    let mut drain_deadline = Instant::now() + config.shutdown_grace;
    let mut idle = Instant::now() + config.idle_timeout;
    let outcome: (&'static str, Option<Message>) = 'relay: {
        if !early.is_empty() {
            if let Err(e) = r.handle_redis(&early) {
                debug!(error = %e, "redis sent bytes before any command");
                break 'relay (
                    "redis protocol error",
                    Some(close(CloseCode::Error, "redis protocol error")),
                );
            }
        }
        loop {
            if draining && r.pending() == 0 {
                break 'relay (
                    "shutdown",
                    Some(close(CloseCode::Away, "bridge shutting down")),
                );
            }
            let read_client = !draining && r.pending() < config.max_pending;
            let deadline = if draining {
                drain_deadline.min(idle)
            } else {
                idle
            };
            tokio::select! {
                msg = rx.next(), if read_client => {
                    idle = Instant::now() + config.idle_timeout;
                    match msg {
                        Some(Ok(Message::Binary(bytes))) => {
                            if let Err(e) = r.handle_client(&bytes) {
                                let reply = format!("-ERR Protocol error: {e}\r\n");
                                let _ = tx.send(Message::binary(reply.into_bytes())).await;
                                break 'relay ("client protocol error", Some(close(CloseCode::Protocol, "not RESP commands")));
                            }
                            let out = r.take_to_redis();
                            if !out.is_empty() && redis.write_all(&out).await.is_err() {
                                break 'relay ("redis write failed", Some(close(CloseCode::Error, "redis connection lost")));
                            }
                        }
                        Some(Ok(Message::Text(_))) => {
                            break 'relay ("text message", Some(close(CloseCode::Unsupported, "binary messages only")));
                        }
                        Some(Ok(Message::Close(_))) | None => break 'relay ("client closed", None),
                        Some(Ok(_)) => {} // ping/pong: answered by the library
                        Some(Err(WsError::Capacity(_))) => {
                            break 'relay ("frame too large", Some(close(CloseCode::Size, "message too large")));
                        }
                        Some(Err(_)) => break 'relay ("client connection error", None),
                    }
                }
                n = redis.read(&mut buf) => {
                    idle = Instant::now() + config.idle_timeout;
                    match n {
                        Ok(0) | Err(_) => {
                            break 'relay ("redis closed", Some(close(CloseCode::Error, "redis closed the connection")));
                        }
                        Ok(n) => {
                            if let Err(e) = r.handle_redis(&buf[..n]) {
                                warn!(error = %e, "redis stream refused");
                                break 'relay ("redis protocol error", Some(close(CloseCode::Error, "redis protocol error")));
                            }
                        }
                    }
                }
                changed = stopped.changed(), if !draining => {
                    if changed.is_err() || *stopped.borrow() {
                        draining = true;
                        drain_deadline = Instant::now() + config.shutdown_grace;
                    }
                }
                () = sleep_until(deadline) => {
                    break 'relay if draining && Instant::now() >= drain_deadline {
                        ("shutdown grace over", Some(close(CloseCode::Away, "bridge shutting down")))
                    } else {
                        ("idle", Some(close(CloseCode::Away, "idle timeout")))
                    };
                }
            }
            let out = r.take_to_client();
            if !out.is_empty() && tx.send(Message::binary(out)).await.is_err() {
                break 'relay ("client gone", None);
            }
        }
    };
    let (reason, message) = outcome;
    let out = r.take_to_client();
    if !out.is_empty() {
        let _ = tx.send(Message::binary(out)).await;
    }
    if let Some(m) = message {
        let _ = tx.send(m).await;
    }
    let _ = tx.close().await;
    let _ = redis.shutdown().await;
    End {
        reason,
        commands: r.commands(),
        denied: r.denied(),
    }
}

//! The relay loop of one logged-in session: client messages into the [`Relay`], its commands
//! to Redis, Redis's bytes into the relay, its replies to the client.
//!
//! A subscriber session (a Pub/Sub relay) has no idle timeout: a quiet channel is not an idle
//! client. It stops reading the client while [`Config::max_pending`](crate::Config::max_pending)
//! commands wait for Redis, and counts what the relay holds against the bridge's memory
//! [`Budget`](crate::limits::Budget) (closing the session that would go past it). It closes
//! an idle session, and one that reached its maximum age however busy: on shutdown and at that
//! age it stops reading the client, delivers the replies still in flight (up to the grace
//! period) and closes.

use futures_util::{SinkExt, StreamExt};
use redpipe::core::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, warn};

use super::{Shared, Ws, close};
use crate::policy::Access;
use crate::relay::Relay;

/// Reads from Redis start this large, and grow while reads fill them.
const READ_MIN: usize = 16 * 1024;
const READ_MAX: usize = 256 * 1024;

/// How a relay ended.
pub(super) struct End {
    pub(super) reason: &'static str,
    pub(super) commands: u64,
    pub(super) denied: u64,
}

/// Why the session is draining (no more commands read, replies in flight delivered).
#[derive(Clone, Copy)]
enum Drain {
    Shutdown,
    MaxAge,
}

impl Drain {
    fn close(self) -> (&'static str, Option<Message>) {
        match self {
            Self::Shutdown => (
                "shutdown",
                Some(close(CloseCode::Away, "bridge shutting down")),
            ),
            Self::MaxAge => (
                "maximum session age",
                Some(close(
                    CloseCode::Away,
                    "session reached its maximum age: reconnect",
                )),
            ),
        }
    }
}

/// The relay loop; see the [module docs](self).
pub(super) async fn run(
    ws: Ws,
    (mut redis, early): (redpipe::tokio::Stream, Vec<u8>),
    access: Access,
    subscriber: bool,
    shared: &Shared,
    mut stopped: watch::Receiver<bool>,
) -> End {
    let config = &shared.config;
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
    let mut r = if subscriber {
        Relay::subscriber(access, command_limits, reply_limits)
    } else {
        Relay::new(access, command_limits, reply_limits)
    };
    // A subscriber waits for messages as long as it likes (its maximum age still applies).
    let idle_timeout = if subscriber {
        config.max_session_age
    } else {
        config.idle_timeout
    };
    // This session's share of the memory budget.
    let mut held = 0usize;
    let mut buf = vec![0u8; READ_MIN];
    let opened = Instant::now();
    let max_age = opened + config.max_session_age;
    let mut draining = stopped.borrow().then_some(Drain::Shutdown);
    let mut drain_deadline = Instant::now() + config.shutdown_grace;
    let mut idle = Instant::now() + idle_timeout;
    let over_budget = || {
        (
            "memory budget",
            Some(close(
                CloseCode::Again,
                "bridge memory budget exhausted: try again later",
            )),
        )
    };
    let outcome: (&'static str, Option<Message>) = 'relay: {
        if !early.is_empty()
            && let Err(e) = r.handle_redis(&early)
        {
            debug!(error = %e, "redis sent bytes before any command");
            break 'relay (
                "redis protocol error",
                Some(close(CloseCode::Error, "redis protocol error")),
            );
        }
        loop {
            if let Some(why) = draining
                && r.pending() == 0
            {
                break 'relay why.close();
            }
            let read_client = draining.is_none() && r.pending() < config.max_pending;
            let deadline = match draining {
                Some(_) => drain_deadline.min(idle),
                None => idle.min(max_age),
            };
            tokio::select! {
                msg = rx.next(), if read_client => {
                    idle = Instant::now() + idle_timeout;
                    match msg {
                        Some(Ok(Message::Binary(bytes))) => {
                            if let Err(e) = r.handle_client(&bytes) {
                                let reply = format!("-ERR Protocol error: {e}\r\n");
                                let _ = tx.send(Message::binary(reply.into_bytes())).await;
                                break 'relay ("client protocol error", Some(close(CloseCode::Protocol, "not RESP commands")));
                            }
                            let out = r.take_to_redis();
                            if !shared.budget.update(&mut held, r.buffered()) {
                                break 'relay over_budget();
                            }
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
                    idle = Instant::now() + idle_timeout;
                    match n {
                        Ok(0) | Err(_) => {
                            break 'relay ("redis closed", Some(close(CloseCode::Error, "redis closed the connection")));
                        }
                        Ok(n) => {
                            if let Err(e) = r.handle_redis(&buf[..n]) {
                                warn!(error = %e, "redis stream refused");
                                break 'relay ("redis protocol error", Some(close(CloseCode::Error, "redis protocol error")));
                            }
                            if n == buf.len() && buf.len() < READ_MAX {
                                buf.resize(buf.len() * 2, 0);
                            }
                        }
                    }
                }
                changed = stopped.changed(), if draining.is_none() => {
                    if changed.is_err() || *stopped.borrow() {
                        draining = Some(Drain::Shutdown);
                        drain_deadline = Instant::now() + config.shutdown_grace;
                    }
                }
                () = sleep_until(deadline) => {
                    let now = Instant::now();
                    match draining {
                        Some(why) if now >= drain_deadline => break 'relay why.close(),
                        None if now >= max_age => {
                            draining = Some(Drain::MaxAge);
                            drain_deadline = now + config.shutdown_grace;
                        }
                        _ if now >= idle => {
                            break 'relay ("idle", Some(close(CloseCode::Away, "idle timeout")));
                        }
                        _ => {}
                    }
                }
            }
            let out = r.take_to_client();
            if !shared.budget.update(&mut held, r.buffered() + out.len()) {
                break 'relay over_budget();
            }
            if !out.is_empty() && tx.send(Message::binary(out)).await.is_err() {
                break 'relay ("client gone", None);
            }
            shared.budget.update(&mut held, r.buffered());
        }
    };
    let (reason, message) = outcome;
    let out = r.take_to_client();
    if !out.is_empty() {
        let _ = tx.send(Message::binary(out)).await;
    }
    shared.budget.update(&mut held, 0);
    if let Some(m) = message {
        let _ = tx.send(m).await;
        // Read until the client answers the close (or 2 s): dropping the socket with its
        // messages unread would reset it, and the page would not see the reason.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while let Some(Ok(_)) = rx.next().await {}
        })
        .await;
    }
    let _ = tx.close().await;
    let _ = redis.shutdown().await;
    End {
        reason,
        commands: r.commands(),
        denied: r.denied(),
    }
}

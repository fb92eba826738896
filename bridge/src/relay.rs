//! [`Relay`]: one session's byte streams, sans-I/O — client bytes in, commands for Redis and
//! replies for the client out.
//!
//! The relay reads the client's stream with the core's [`Scanner`] (commands are RESP arrays,
//! as replies are), asks the [`Policy`] about each command, forwards the allowed ones and
//! answers a denied one with an error **in that command's place**: it keeps a queue with one
//! entry per command in flight, so the client's `n`-th reply is always the answer to its
//! `n`-th command, denied or not. Redis's replies are cut at reply boundaries with a second
//! scanner; RESP3 pushes answer no command and pass straight through.
//!
//! A denied command inside `MULTI` makes the transaction fail as Redis itself would fail it
//! for a command refused while queueing: its `EXEC` goes to Redis as `DISCARD`, and the client
//! gets `EXECABORT` in the `EXEC`'s place (a client that unpacks `EXEC`'s array by position
//! would otherwise read its results shifted).
//!
//! Memory is bounded by the caller: it stops reading the client while [`Relay::pending`]
//! reaches its limit, and [`Limits`] bound the largest command and reply kept whole.

use std::collections::VecDeque;
use std::sync::Arc;

use redpipe::{DecodeError, Limits, Reply, Scanner, decode_reply};

use crate::policy::Policy;

/// What the client gets in the place of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Redis's reply.
    Forward,
    /// This error, now (the command was not sent).
    Deny(Vec<u8>),
    /// This error instead of Redis's reply (a poisoned `EXEC`, sent as `DISCARD`).
    Replace(Vec<u8>),
}

/// Why a session's stream cannot go on; the session closes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayError {
    /// The client sent something that is not a command (an array of bulk strings), or broke
    /// the protocol.
    Client(DecodeError),
    /// Redis sent something that is not RESP, or a reply over the limits.
    Redis(DecodeError),
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(e) => write!(f, "client protocol error: {e}"),
            Self::Redis(e) => write!(f, "redis protocol error: {e}"),
        }
    }
}

impl std::error::Error for RelayError {}

/// One session's relay state; see the [module docs](self).
#[derive(Debug)]
pub struct Relay {
    policy: Arc<Policy>,
    /// Bounds on one command from the client.
    command_limits: Limits,
    /// Bounds on one reply from Redis.
    reply_limits: Limits,
    /// Client bytes of a command still arriving.
    commands: Vec<u8>,
    command_scan: Scanner,
    /// Redis bytes of a reply still arriving.
    replies: Vec<u8>,
    reply_scan: Scanner,
    slots: VecDeque<Slot>,
    tx: Tx,
    to_redis: Vec<u8>,
    to_client: Vec<u8>,
    received: u64,
    denied: u64,
}

/// The transaction state of the client's stream: inside `MULTI` (forwarded), and whether a
/// command of it was denied.
#[derive(Debug, Default)]
struct Tx {
    multi: bool,
    poisoned: bool,
}

impl Tx {
    /// What the client gets for the command `words`, and the transaction state after it.
    fn judge(&mut self, policy: &Policy, words: &[&[u8]]) -> Slot {
        let name = words.first().copied().unwrap_or_default();
        let is = |w: &[u8]| name.eq_ignore_ascii_case(w);
        if !policy.permits(words) {
            if self.multi {
                self.poisoned = true;
            }
            return Slot::Deny(denial(name));
        }
        if is(b"MULTI") {
            self.multi = true;
            self.poisoned = false;
        } else if is(b"EXEC") || is(b"DISCARD") {
            let poisoned = self.multi && self.poisoned && is(b"EXEC");
            self.multi = false;
            self.poisoned = false;
            if poisoned {
                return Slot::Replace(EXECABORT.to_vec());
            }
        }
        Slot::Forward
    }
}

/// `-NOPERM` for a denied command, naming it.
fn denial(name: &[u8]) -> Vec<u8> {
    let name: String = String::from_utf8_lossy(name)
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .to_ascii_uppercase();
    format!("-NOPERM this bridge does not allow the command '{name}'\r\n").into_bytes()
}

const EXECABORT: &[u8] =
    b"-EXECABORT Transaction discarded because of previous errors (a command was denied by the bridge).\r\n";

impl Relay {
    /// A relay applying `policy`, with bounds on one command and one reply.
    pub fn new(policy: Arc<Policy>, command_limits: Limits, reply_limits: Limits) -> Self {
        Self {
            policy,
            command_limits,
            reply_limits,
            commands: Vec::new(),
            command_scan: Scanner::new(),
            replies: Vec::new(),
            reply_scan: Scanner::new(),
            slots: VecDeque::new(),
            tx: Tx::default(),
            to_redis: Vec::new(),
            to_client: Vec::new(),
            received: 0,
            denied: 0,
        }
    }

    /// Commands whose replies the client still waits for.
    pub fn pending(&self) -> usize {
        self.slots.len()
    }

    /// Commands received so far.
    pub fn commands(&self) -> u64 {
        self.received
    }

    /// Commands denied so far.
    pub fn denied(&self) -> u64 {
        self.denied
    }

    /// Whether bytes of an unfinished command are kept.
    pub fn has_partial_command(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Takes the bytes to write to Redis.
    pub fn take_to_redis(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_redis)
    }

    /// Takes the bytes to send to the client (one binary message).
    pub fn take_to_client(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_client)
    }

    /// Takes in bytes from the client: every complete command is judged and queued.
    pub fn handle_client(&mut self, bytes: &[u8]) -> Result<(), RelayError> {
        self.commands.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            let rest = &self.commands[used..];
            let n = match self.command_scan.scan(rest, &self.command_limits) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => return Err(RelayError::Client(e)),
            };
            let command = &self.commands[used..used + n];
            let words = words(command).ok_or(RelayError::Client(DecodeError::UnexpectedReply))?;
            let slot = self.tx.judge(&self.policy, &words);
            self.received += 1;
            if matches!(slot, Slot::Deny(_)) {
                self.denied += 1;
            }
            match &slot {
                Slot::Forward => self.to_redis.extend_from_slice(command),
                Slot::Replace(_) => self.to_redis.extend_from_slice(b"*1\r\n$7\r\nDISCARD\r\n"),
                Slot::Deny(_) => {}
            }
            self.slots.push_back(slot);
            used += n;
        }
        self.commands.drain(..used);
        self.answer_denied();
        Ok(())
    }

    /// Answers the denied commands at the front of the queue: nothing before them waits.
    fn answer_denied(&mut self) {
        while let Some(Slot::Deny(_)) = self.slots.front() {
            if let Some(Slot::Deny(error)) = self.slots.pop_front() {
                self.to_client.extend_from_slice(&error);
            }
        }
    }

    /// Takes in bytes from Redis: every complete reply goes to the client in its command's
    /// place.
    pub fn handle_redis(&mut self, bytes: &[u8]) -> Result<(), RelayError> {
        // Most reads end on a reply boundary: use them in place, keep only a tail.
        let mut used = 0;
        let kept = !self.replies.is_empty();
        if kept {
            self.replies.extend_from_slice(bytes);
        }
        let buf: Vec<u8>;
        let input: &[u8] = if kept {
            buf = std::mem::take(&mut self.replies);
            &buf
        } else {
            bytes
        };
        loop {
            let rest = &input[used..];
            let n = match self.reply_scan.scan(rest, &self.reply_limits) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) => return Err(RelayError::Redis(e)),
            };
            let reply = &rest[..n];
            let push = matches!(reply.first(), Some(b'>' | b'|'))
                && matches!(
                    decode_reply(reply, &self.reply_limits),
                    Ok(Some((Reply::Push(_), _)))
                );
            if push {
                self.to_client.extend_from_slice(reply);
            } else {
                match self.slots.pop_front() {
                    Some(Slot::Replace(error)) => self.to_client.extend_from_slice(&error),
                    // A reply with no command waiting (cannot happen with Redis): pass it on,
                    // the client's own rules will refuse it.
                    Some(Slot::Forward) | None => self.to_client.extend_from_slice(reply),
                    Some(Slot::Deny(error)) => {
                        // Unreachable: denials at the front are answered at once. Keep the
                        // order anyway.
                        self.to_client.extend_from_slice(&error);
                        self.to_client.extend_from_slice(reply);
                    }
                }
                self.answer_denied();
            }
            used += n;
        }
        self.replies = input[used..].to_vec();
        Ok(())
    }
}

/// The words of a command: an array of bulk strings, at least one.
fn words(command: &[u8]) -> Option<Vec<&[u8]>> {
    let limits = Limits {
        max_reply_len: usize::MAX,
        ..Limits::default()
    };
    let Ok(Some((Reply::Array(items), _))) = decode_reply(command, &limits) else {
        return None;
    };
    let words: Vec<&[u8]> = items
        .iter()
        .map(|w| match w {
            Reply::Bulk(b) => Some(b),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> Relay {
        Relay::new(
            Arc::new(Policy::default()),
            Limits::default(),
            Limits::default(),
        )
    }

    fn command(words: &[&str]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", words.len()).into_bytes();
        for w in words {
            out.extend(format!("${}\r\n{w}\r\n", w.len()).bytes());
        }
        out
    }

    #[test]
    fn a_denied_command_answers_in_its_place() {
        let mut r = relay();
        let stream = [
            command(&["SET", "a", "1"]),
            command(&["FLUSHALL"]),
            command(&["GET", "a"]),
        ]
        .concat();
        // Split at every byte: the result is the same.
        for cut in 0..stream.len() {
            let mut r = relay();
            r.handle_client(&stream[..cut]).unwrap();
            r.handle_client(&stream[cut..]).unwrap();
            assert_eq!(
                r.take_to_redis(),
                [command(&["SET", "a", "1"]), command(&["GET", "a"])].concat()
            );
        }
        r.handle_client(&stream).unwrap();
        assert_eq!(r.pending(), 3);
        assert!(
            r.take_to_client().is_empty(),
            "the denial waits for SET's reply"
        );
        r.handle_redis(b"+OK\r\n$1").unwrap();
        let first = r.take_to_client();
        assert!(first.starts_with(b"+OK\r\n-NOPERM"), "{first:?}");
        r.handle_redis(b"\r\n1\r\n").unwrap();
        assert_eq!(r.take_to_client(), b"$1\r\n1\r\n");
        assert_eq!((r.pending(), r.denied()), (0, 1));
    }

    #[test]
    fn a_denial_with_nothing_before_it_answers_at_once() {
        let mut r = relay();
        r.handle_client(&command(&["KEYS", "*"])).unwrap();
        assert!(r.take_to_client().starts_with(b"-NOPERM"));
        assert!(r.take_to_redis().is_empty());
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn a_denied_command_aborts_its_transaction() {
        let mut r = relay();
        let stream = [
            command(&["MULTI"]),
            command(&["INCR", "a"]),
            command(&["CONFIG", "SET", "x", "y"]),
            command(&["EXEC"]),
            command(&["PING"]),
        ]
        .concat();
        r.handle_client(&stream).unwrap();
        assert_eq!(
            r.take_to_redis(),
            [
                command(&["MULTI"]),
                command(&["INCR", "a"]),
                command(&["DISCARD"]),
                command(&["PING"])
            ]
            .concat()
        );
        r.handle_redis(b"+OK\r\n+QUEUED\r\n+OK\r\n+PONG\r\n")
            .unwrap();
        let out = String::from_utf8(r.take_to_client()).unwrap();
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[..2], ["+OK", "+QUEUED"]);
        assert!(lines[2].starts_with("-NOPERM"));
        assert!(lines[3].starts_with("-EXECABORT"));
        assert_eq!(lines[4], "+PONG");
    }

    #[test]
    fn pushes_pass_through_and_garbage_is_refused() {
        let mut r = relay();
        r.handle_client(&command(&["GET", "a"])).unwrap();
        r.handle_redis(b">2\r\n+message\r\n+hi\r\n$-1\r\n").unwrap();
        assert_eq!(r.take_to_client(), b">2\r\n+message\r\n+hi\r\n$-1\r\n");
        assert_eq!(r.pending(), 0);
        assert!(matches!(
            relay().handle_client(b"PING\r\n"),
            Err(RelayError::Client(_))
        ));
        assert!(matches!(
            relay().handle_client(b"*1\r\n:1\r\n"),
            Err(RelayError::Client(_))
        ));
        assert!(matches!(
            relay().handle_redis(b"?\r\n"),
            Err(RelayError::Redis(_))
        ));
    }
}

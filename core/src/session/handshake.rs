//! Connection setup as one pipeline: `HELLO 3` (with `AUTH` and `SETNAME`), or `AUTH` and
//! `CLIENT SETNAME` on RESP2; then `SELECT`. Every reply is checked.

use crate::deferred::{Deferred, SlotError};
use crate::encode::cmd;
use crate::error::{CapacityError, ReplyKind};
use crate::pipeline::{Entry, Pipeline};
use crate::reply::{Reply, ServerError};
use crate::storage::Storage;

/// What to set up on a new connection. Borrowed, so that it needs no allocator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Setup<'a> {
    /// Speak RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// ACL user name (`AUTH user pass`).
    pub username: Option<&'a str>,
    /// Password (`AUTH [user] pass`).
    pub password: Option<&'a str>,
    /// `CLIENT SETNAME`.
    pub client_name: Option<&'a str>,
    /// Database to `SELECT`, unless 0.
    pub db: u32,
}

/// Why a connection's setup failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HandshakeError<'a> {
    /// The server refused a setup command (wrong password, unknown database, no `HELLO`...).
    Refused {
        /// The command: `HELLO`, `AUTH`, `CLIENT SETNAME` or `SELECT`.
        command: &'static str,
        /// The server's answer.
        error: ServerError<'a>,
    },
    /// The server answered a setup command with something it never returns (`HELLO 3` without
    /// a map): whatever is listening does not speak Redis's protocol as expected.
    Unexpected {
        /// The command.
        command: &'static str,
        /// What came back.
        got: ReplyKind,
    },
    /// A setup command got no reply (the connection failed).
    NoReply {
        /// The command.
        command: &'static str,
        /// Why.
        error: SlotError<'a>,
    },
}

impl core::fmt::Display for HandshakeError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Refused { command, error } => {
                crate::error::write_all(f, &[command, " refused: "])?;
                error.fmt(f)
            }
            Self::Unexpected { command, got } => {
                crate::error::write_all(f, &[command, " answered with an unexpected "])?;
                core::fmt::Debug::fmt(got, f)?;
                f.write_str(" reply")
            }
            Self::NoReply { command, error } => {
                crate::error::write_all(f, &[command, " got no reply: "])?;
                error.fmt(f)
            }
        }
    }
}

impl core::error::Error for HandshakeError<'_> {}

#[derive(Debug, Clone, Copy)]
struct Step {
    command: &'static str,
    reply: Deferred<Reply<'static>>,
    /// `HELLO` answers with a map of server properties.
    map: bool,
}

/// The setup commands queued for a [`Setup`], and the check of their replies.
///
/// ```
/// use redpipe_core::{session::{Handshake, HandshakeError, Setup}, VecPipeline};
/// let mut p = VecPipeline::new();
/// let setup = Setup { password: Some("secret"), db: 2, ..Setup::default() };
/// let handshake = Handshake::queue(&setup, &mut p).unwrap();
/// assert!(p.encoded().starts_with(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"));
/// let n = p.poll_output().len();
/// p.consume_output(n);
/// p.handle_input(b"+OK\r\n-ERR DB index is out of range\r\n").unwrap();
/// assert!(matches!(handshake.check(&p), Err(HandshakeError::Refused { command: "SELECT", .. })));
/// ```
#[derive(Debug, Clone)]
pub struct Handshake {
    steps: heapless::Vec<Step, 4>,
}

impl Handshake {
    /// Queues the setup commands for `setup` into `p` (nothing when there is nothing to set
    /// up).
    pub fn queue<O, R, E>(
        setup: &Setup<'_>,
        p: &mut Pipeline<O, R, E>,
    ) -> Result<Self, CapacityError>
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        let mut steps = heapless::Vec::new();
        let mut step = |command, reply, map| {
            // Cannot fail: at most four steps are queued.
            let _ = steps.push(Step {
                command,
                reply,
                map,
            });
        };
        if setup.resp3 {
            // HELLO 3 [AUTH user pass] [SETNAME name]: protocol, auth and name in one command.
            let auth = setup
                .password
                .map(|pw| ("AUTH", setup.username.unwrap_or("default"), pw));
            let name = setup.client_name.map(|n| ("SETNAME", n));
            step(
                "HELLO",
                p.query(cmd("HELLO").arg(3).arg(auth).arg(name))?,
                true,
            );
        } else {
            if let Some(pw) = setup.password {
                step(
                    "AUTH",
                    p.query(cmd("AUTH").arg(setup.username).arg(pw))?,
                    false,
                );
            }
            if let Some(name) = setup.client_name {
                step(
                    "CLIENT SETNAME",
                    p.query(cmd("CLIENT").arg("SETNAME").arg(name))?,
                    false,
                );
            }
        }
        if setup.db != 0 {
            step("SELECT", p.query(cmd("SELECT").arg(setup.db))?, false);
        }
        // The setup is what the connection is meant to be: it does not make it unfit for
        // other pipelines (see `Pipeline::changes_connection`).
        p.forget_needs();
        Ok(Self { steps })
    }

    /// Whether there is nothing to set up.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Checks the replies once `p` has run: the first refused or unexpected step fails.
    pub fn check<'p, O, R, E>(&self, p: &'p Pipeline<O, R, E>) -> Result<(), HandshakeError<'p>>
    where
        O: Storage<u8>,
        R: Storage<u8>,
        E: Storage<Entry>,
    {
        for step in &self.steps {
            let command = step.command;
            match step.reply.read(p) {
                // Setup commands answer `+OK`; any reply but an error is taken as success,
                // except that `HELLO` must return the server's properties as a map.
                Ok(reply) if step.map && !matches!(reply, Reply::Map(_)) => {
                    return Err(HandshakeError::Unexpected {
                        command,
                        got: reply.kind(),
                    });
                }
                Ok(_) => {}
                Err(SlotError::Server(error)) => {
                    return Err(HandshakeError::Refused { command, error });
                }
                Err(error) => return Err(HandshakeError::NoReply { command, error }),
            }
        }
        Ok(())
    }
}

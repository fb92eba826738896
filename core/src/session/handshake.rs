//! Connection setup as one pipeline: `HELLO 3` (with `AUTH` and `SETNAME`), or `AUTH` and
//! `CLIENT SETNAME` on RESP2; then `SELECT`. Every reply is checked.

use crate::codec::encode::cmd;
use crate::codec::error::{CapacityError, ReplyKind};
use crate::codec::reply::{Reply, ServerError};
use crate::codec::storage::Storage;
use crate::engine::deferred::{Deferred, SlotError};
use crate::engine::{Entry, Pipeline};

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
                crate::codec::error::write_all(f, &[command, " refused: "])?;
                error.fmt(f)
            }
            Self::Unexpected { command, got } => {
                crate::codec::error::write_all(f, &[command, " answered with an unexpected "])?;
                core::fmt::Debug::fmt(got, f)?;
                f.write_str(" reply")
            }
            Self::NoReply { command, error } => {
                crate::codec::error::write_all(f, &[command, " got no reply: "])?;
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
        // Every step goes through this one call, its arguments as a slice of words: one copy
        // of the queueing code, not one per command shape (a program that queues commands
        // from words, as the browser package does, shares it).
        let mut step = |command: &'static str, map: bool, args: &[&[u8]]| {
            // The command's name is the first word of the step's.
            let name = command.split_once(' ').map_or(command, |(name, _)| name);
            let reply = p.query(cmd(name.as_bytes()).arg(args))?;
            // Cannot fail: at most four steps are queued.
            let _ = steps.push(Step {
                command,
                reply,
                map,
            });
            Ok::<(), CapacityError>(())
        };
        let (user, pw, name) = (setup.username, setup.password, setup.client_name);
        let mut args = heapless::Vec::<&[u8], 6>::new();
        if setup.resp3 {
            // HELLO 3 [AUTH user pass] [SETNAME name]: protocol, auth and name in one command.
            let _ = args.push(b"3");
            if let Some(pw) = pw {
                let user = user.unwrap_or("default");
                let _ = args.extend_from_slice(&[b"AUTH", user.as_bytes(), pw.as_bytes()]);
            }
            if let Some(name) = name {
                let _ = args.extend_from_slice(&[b"SETNAME", name.as_bytes()]);
            }
            step("HELLO", true, &args)?;
        } else {
            if let Some(pw) = pw {
                if let Some(user) = user {
                    let _ = args.push(user.as_bytes());
                }
                let _ = args.push(pw.as_bytes());
                step("AUTH", false, &args)?;
            }
            if let Some(name) = name {
                step("CLIENT SETNAME", false, &[b"SETNAME", name.as_bytes()])?;
            }
        }
        if setup.db != 0 {
            step(
                "SELECT",
                false,
                &[itoa::Buffer::new().format(setup.db).as_bytes()],
            )?;
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

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::VecPipeline;

    #[test]
    fn setup_commands_as_encoded() {
        let full = Setup {
            resp3: false,
            username: Some("u"),
            password: Some("p"),
            client_name: Some("n"),
            db: 12,
        };
        let cases: [(Setup<'_>, &[u8]); 6] = [
            (Setup::default(), b""),
            (
                full,
                b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n\
                  *3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$1\r\nn\r\n\
                  *2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n",
            ),
            (
                Setup {
                    username: None,
                    client_name: None,
                    db: 0,
                    ..full
                },
                b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n",
            ),
            (
                Setup {
                    resp3: true,
                    ..full
                },
                b"*7\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n\
                  $7\r\nSETNAME\r\n$1\r\nn\r\n*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n",
            ),
            (
                Setup {
                    resp3: true,
                    username: None,
                    client_name: None,
                    db: 0,
                    ..full
                },
                b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$1\r\np\r\n",
            ),
            (
                Setup {
                    resp3: true,
                    ..Setup::default()
                },
                b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
            ),
        ];
        for (setup, want) in cases {
            let mut p = VecPipeline::new();
            let handshake = Handshake::queue(&setup, &mut p).unwrap();
            assert_eq!(p.encoded(), want, "{setup:?}");
            assert_eq!(handshake.is_empty(), want.is_empty());
            // Setup commands do not make the connection unfit for other pipelines.
            assert!(p.shares_connection(usize::MAX, 0) && !p.changes_connection());
        }
    }
}

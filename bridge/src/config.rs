//! [`Config`]: what the bridge serves and how much it takes.
//!
//! Defaults are the safe ones: listen on loopback only; no session without a token; browsers
//! only from listed origins and no handshake without an `Origin`; the allow-list
//! [`Policy`]; start only if the Redis users tokens map to cannot run scripts, admin or
//! dangerous commands; bounded frames, commands, sessions (taken only after login),
//! connections per address, failed logins per address, memory across sessions, idle time and
//! session age. `SECURITY.md` at the repository's root explains each.

use std::net::SocketAddr;
use std::time::Duration;

use redpipe::ConnectionInfo;

use crate::auth::{Keys, Token, Users};
use crate::channels::ChannelRules;
use crate::policy::Policy;
use crate::token::Secret;

/// What to do when an ACL user a token maps to can run `@scripting`, `@admin` or
/// `@dangerous` commands (see [`crate::acl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AclCheck {
    /// Refuse to start (the default).
    #[default]
    Refuse,
    /// Start, with a warning in the log for each such user.
    Warn,
}

/// Everything one bridge process serves; see the [module docs](self).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen (127.0.0.1:7379 by default: loopback unless told otherwise).
    pub listen: SocketAddr,
    /// The one Redis server sessions connect to (`redis://`, `rediss://` or `unix://`).
    pub redis: ConnectionInfo,
    /// Static tokens, for development (at least
    /// [`MIN_STATIC_TOKEN_LEN`](crate::auth::MIN_STATIC_TOKEN_LEN) bytes each).
    pub tokens: Vec<Token>,
    /// Secrets that sign tokens ([`crate::token`]); more than one while rotating.
    pub secrets: Vec<Secret>,
    /// The ACL users a signed token may name, with their passwords.
    pub users: Users,
    /// The longest a signed token may be valid for from the moment it is presented (15
    /// minutes).
    pub max_token_ttl: Duration,
    /// Origins allowed to open sessions (`*` for any).
    pub origins: Vec<String>,
    /// Whether a handshake without an `Origin` header (not a browser) may open a session
    /// (no by default).
    pub allow_missing_origin: bool,
    /// The command policy.
    pub policy: Policy,
    /// The channels a session may subscribe to when its token names none (`--subscribe`;
    /// none by default).
    pub subscribe: ChannelRules,
    /// The channels a session may publish to when its token names none (`--publish`; none
    /// by default).
    pub publish: ChannelRules,
    /// What to do about over-privileged ACL users at start-up (refuse to start).
    pub acl_check: AclCheck,
    /// Largest WebSocket message from a client (1 MiB); a larger one closes its session.
    pub max_frame: usize,
    /// Largest single command kept whole while it arrives (16 MiB).
    pub max_command: usize,
    /// Largest single reply relayed (512 MiB, Redis's own `proto-max-bulk-len`); replies are
    /// forwarded as they arrive, never held whole.
    pub max_reply: usize,
    /// Commands in flight per session (10 000): the bridge stops reading a client that is
    /// this far ahead of Redis, so its memory stays bounded.
    pub max_pending: usize,
    /// Logged-in sessions at once (1 024); a session slot is taken only after login.
    pub max_sessions: usize,
    /// Connections at once from one client address, logged in or not (64; 0: no limit).
    pub max_per_ip: usize,
    /// Bytes all sessions together may hold in unfinished commands and undelivered output
    /// (256 MiB); the session that would go past it is closed.
    pub max_memory: usize,
    /// Failed logins one address may make in a burst, forgiven at this many a minute (10; 0:
    /// no limit); beyond them its logins are refused.
    pub failed_logins_per_minute: u32,
    /// A session with no traffic for this long is closed (2 minutes).
    pub idle_timeout: Duration,
    /// A session is closed this long after it opened, traffic or not (1 hour): a `PING`
    /// every minute keeps it no longer. It stops reading its client, delivers the replies in
    /// flight and closes.
    pub max_session_age: Duration,
    /// Time a client has for the handshake and to present its token (10 s).
    pub auth_timeout: Duration,
    /// On shutdown (or at the maximum age), time given to a session to receive the replies in
    /// flight (10 s).
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults around the Redis server `redis`, with no token yet: add a secret (or, for
    /// development, a static token) before serving.
    pub fn new(redis: ConnectionInfo) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7379)),
            redis,
            tokens: Vec::new(),
            secrets: Vec::new(),
            users: Users::default(),
            max_token_ttl: Duration::from_secs(15 * 60),
            origins: Vec::new(),
            allow_missing_origin: false,
            policy: Policy::default(),
            subscribe: ChannelRules::default(),
            publish: ChannelRules::default(),
            acl_check: AclCheck::default(),
            max_frame: 1 << 20,
            max_command: 16 << 20,
            max_reply: 512 << 20,
            max_pending: 10_000,
            max_sessions: 1024,
            max_per_ip: 64,
            max_memory: 256 << 20,
            failed_logins_per_minute: 10,
            idle_timeout: Duration::from_secs(120),
            max_session_age: Duration::from_secs(3600),
            auth_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }

    /// Checks what [`Config::new`]'s fields cannot say by their types: a way in (a secret or
    /// a static token), no short static token, no zero limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tokens.is_empty() && self.secrets.is_empty() {
            return Err(ConfigError::Invalid(
                "a token secret (--token-secret-file) or, for development, a static token is required: the bridge is not an open proxy".into(),
            ));
        }
        if self.tokens.iter().any(Token::is_short) {
            return Err(ConfigError::Invalid(format!(
                "static tokens must be at least {} characters",
                crate::auth::MIN_STATIC_TOKEN_LEN
            )));
        }
        let zero = [
            ("--max-frame", self.max_frame),
            ("--max-command", self.max_command),
            ("--max-pending", self.max_pending),
            ("--max-sessions", self.max_sessions),
            ("--max-memory", self.max_memory),
        ]
        .into_iter()
        .find(|(_, v)| *v == 0);
        if let Some((option, _)) = zero {
            return Err(ConfigError::Invalid(format!("{option} must be above 0")));
        }
        Ok(())
    }

    /// The tokens it accepts, for [`crate::auth::login`].
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            tokens: &self.tokens,
            secrets: &self.secrets,
            users: &self.users,
            max_token_ttl: self.max_token_ttl,
        }
    }
}

/// Why a configuration or command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--help` was asked for.
    Help,
    /// An option is unknown, lacks its value, or has a bad one; or the whole does not hold
    /// together.
    Invalid(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Help => f.write_str(USAGE),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The command-line help (public as `cli::USAGE`; here, with the options it describes,
/// because [`ConfigError::Help`] shows it).
pub const USAGE: &str = "\
usage: redpipe-bridge --redis URL [options]
       redpipe-bridge mint --token-secret-file FILE [--ttl SECS] [--user USER] [--prefix P] [--command RULE]...
                       [--subscribe RULE]... [--publish RULE]...

  --redis URL              the Redis server (redis://[user:password@]host:port, rediss:// for
                           TLS, unix://)
  --listen ADDR            where to listen (default 127.0.0.1:7379)

 who gets in
  --token-secret-file FILE the secret that signs tokens (32+ bytes; repeatable, to rotate)
  --users-file FILE        ACL users signed tokens may name: USER PASSWORD per line
  --max-token-ttl SECS     refuse signed tokens valid longer than this (default 900)
  --token-file FILE        static tokens (development only), one per line: TOKEN, or
                           TOKEN USER PASSWORD; 32 characters at least
  --token TOKEN            a static token (development only; visible in the process list)
  --origin ORIGIN          an allowed browser origin (repeatable; * for any)
  --allow-missing-origin   let clients without an Origin header in (native programs)
  --failed-logins N        failed logins per address per minute before refusing (default 10)

 what they may do
  --allow RULE             allow a command, 'COMMAND SUBCOMMAND' or 'COPY DB' (repeatable;
                           logged at start-up)
  --deny RULE              deny a command the defaults allow (repeatable)
  --subscribe RULE         a channel ('room:1') or channel prefix ('room:*') sessions may
                           subscribe to when their token names none (repeatable; default none)
  --publish RULE           the same for PUBLISH and SPUBLISH (repeatable; default none)
  --max-value BYTES        largest value SETRANGE/SETBIT may make (default 1M)
  --acl-check MODE         refuse (default) or warn when a mapped ACL user can run
                           @scripting, @admin or @dangerous commands

 how much they take
  --max-frame BYTES        largest client message (default 1M)
  --max-command BYTES      largest command (default 16M)
  --max-pending N          commands in flight per session (default 10000)
  --max-sessions N         logged-in sessions at once (default 1024)
  --max-per-ip N           connections per client address (default 64; 0: no limit)
  --max-memory BYTES       memory all sessions together may hold (default 256M)
  --idle-timeout SECS      close sessions idle this long (default 120)
  --max-session-age SECS   close sessions this old, busy or not (default 3600)
  --shutdown-grace SECS    time to deliver replies in flight on shutdown (default 10)
  --log LEVEL              error, warn, info (default), debug or trace

 mint
  --ttl SECS               seconds the token opens sessions for (default 60)
  --user USER --prefix P --command RULE   the token's ACL user, key prefix, commands
  --subscribe RULE --publish RULE         the channels it may subscribe and publish to

environment: REDPIPE_BRIDGE_SECRET (a token secret), REDPIPE_BRIDGE_TOKEN (a static token),
REDPIPE_BRIDGE_LOG (the log level). Sizes take K, M or G (powers of 1024).";

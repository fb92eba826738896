//! [`Config`]: what the bridge serves and how much it takes, from the command line.
//!
//! Defaults are the safe ones: listen on loopback only, no session without a token, browsers
//! only from listed origins, the default command policy, bounded frames, commands, sessions
//! and idle time.

use std::net::SocketAddr;
use std::time::Duration;

use redpipe::ConnectionInfo;

use crate::auth::Token;
use crate::policy::Policy;

/// Everything one bridge process serves; see the [module docs](self).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen (127.0.0.1:7379 by default: loopback unless told otherwise).
    pub listen: SocketAddr,
    /// The one Redis server sessions connect to (`redis://`, `rediss://` or `unix://`).
    pub redis: ConnectionInfo,
    /// Tokens that open a session; at least one is required.
    pub tokens: Vec<Token>,
    /// Origins allowed to open sessions (`*` for any).
    pub origins: Vec<String>,
    /// Whether a handshake without an `Origin` header (not a browser) may open a session.
    pub allow_missing_origin: bool,
    /// The command policy.
    pub policy: Policy,
    /// Largest WebSocket message from a client (1 MiB); a larger one closes its session.
    pub max_frame: usize,
    /// Largest single command (16 MiB) and reply (64 MiB) kept whole while they arrive.
    pub max_command: usize,
    /// See `max_command`.
    pub max_reply: usize,
    /// Commands in flight per session (10 000): the bridge stops reading a client that is
    /// this far ahead of Redis, so its memory stays bounded.
    pub max_pending: usize,
    /// Sessions at once (1 024); more are refused with HTTP 503.
    pub max_sessions: usize,
    /// A session with no traffic for this long is closed (5 minutes).
    pub idle_timeout: Duration,
    /// Time a client has to present its token after the handshake (10 s).
    pub auth_timeout: Duration,
    /// On shutdown, time given to sessions to receive the replies in flight (10 s).
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults around the Redis server `redis` and one `token`.
    pub fn new(redis: ConnectionInfo, tokens: Vec<Token>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7379)),
            redis,
            tokens,
            origins: Vec::new(),
            allow_missing_origin: true,
            policy: Policy::default(),
            max_frame: 1 << 20,
            max_command: 16 << 20,
            max_reply: 64 << 20,
            max_pending: 10_000,
            max_sessions: 1024,
            idle_timeout: Duration::from_secs(300),
            auth_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why the command line was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--help` was asked for.
    Help,
    /// An option is unknown, lacks its value, or has a bad one.
    Invalid(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Help => f.write_str(USAGE),
            Self::Invalid(why) => write!(f, "{why}\n\n{USAGE}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The command-line help.
pub const USAGE: &str = "\
usage: redpipe-bridge --redis URL [options]

  --redis URL            the Redis server (redis://, rediss:// for TLS, unix://)
  --listen ADDR          where to listen (default 127.0.0.1:7379)
  --token-file FILE      tokens, one per line: TOKEN, or TOKEN USER PASSWORD (a Redis ACL user)
  --token TOKEN          a token (visible to other local users in the process list: prefer
                         --token-file or REDPIPE_BRIDGE_TOKEN)
  --origin ORIGIN        an allowed browser origin (repeatable; * for any)
  --require-origin       refuse handshakes without an Origin header
  --allow RULE           allow a command or 'COMMAND SUBCOMMAND' (repeatable)
  --deny RULE            deny a command or 'COMMAND SUBCOMMAND' (repeatable)
  --allow-only           deny every command that no --allow names
  --max-frame BYTES      largest client message (default 1048576)
  --max-pending N        commands in flight per session (default 10000)
  --max-sessions N       sessions at once (default 1024)
  --idle-timeout SECS    close sessions idle this long (default 300)
  --shutdown-grace SECS  time to deliver replies in flight on shutdown (default 10)
  --log LEVEL            error, warn, info (default), debug or trace

environment: REDPIPE_BRIDGE_TOKEN (a token), REDPIPE_BRIDGE_LOG (the log level)";

fn invalid(why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(why.into())
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(format!("{option}: not a number: {value:?}")))
}

/// A parsed command line: the configuration and the log level.
#[derive(Debug, Clone)]
pub struct Cli {
    /// The bridge's configuration.
    pub config: Config,
    /// The log level (`info` by default).
    pub log: String,
}

impl Cli {
    /// Parses the arguments (without the program name); `token_env` is
    /// `REDPIPE_BRIDGE_TOKEN`'s value and `log_env` `REDPIPE_BRIDGE_LOG`'s.
    pub fn parse(
        args: &[String],
        token_env: Option<String>,
        log_env: Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut redis = None;
        let mut tokens = Vec::new();
        let mut config_steps: Vec<(String, String)> = Vec::new();
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let flag = matches!(
                arg.as_str(),
                "--require-origin" | "--allow-only" | "--help" | "-h"
            );
            if flag {
                flags.push(arg.clone());
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))?;
            match arg.as_str() {
                "--redis" => {
                    let info: ConnectionInfo = value
                        .parse()
                        .map_err(|e| invalid(format!("--redis: {e}")))?;
                    redis = Some(info);
                }
                "--token" => tokens.push(Token::new(value.clone())),
                "--token-file" => {
                    let text = std::fs::read_to_string(value)
                        .map_err(|e| invalid(format!("--token-file {value}: {e}")))?;
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        tokens.push(Token::parse_line(line).ok_or_else(|| {
                            invalid(format!(
                                "{value}:{}: expected TOKEN or TOKEN USER PASSWORD",
                                n + 1
                            ))
                        })?);
                    }
                }
                _ => config_steps.push((arg.clone(), value.clone())),
            }
        }
        if flags.iter().any(|f| f == "--help" || f == "-h") {
            return Err(ConfigError::Help);
        }
        if let Some(t) = token_env.filter(|t| !t.is_empty()) {
            tokens.push(Token::new(t));
        }
        let redis = redis.ok_or_else(|| invalid("--redis is required"))?;
        if tokens.is_empty() || tokens.iter().any(Token::is_empty) {
            return Err(invalid(
                "at least one non-empty token is required (--token-file, --token or REDPIPE_BRIDGE_TOKEN): the bridge is not an open proxy",
            ));
        }
        let mut config = Config::new(redis, tokens);
        let mut log = log_env.unwrap_or_else(|| "info".into());
        if flags.iter().any(|f| f == "--allow-only") {
            config.policy.allow_only();
        }
        config.allow_missing_origin = !flags.iter().any(|f| f == "--require-origin");
        for (option, value) in config_steps {
            let secs = |v: &str| number::<u64>(&option, v).map(std::time::Duration::from_secs);
            match option.as_str() {
                "--listen" => {
                    config.listen = value
                        .parse()
                        .map_err(|_| invalid(format!("--listen: not an address: {value:?}")))?;
                }
                "--origin" => config.origins.push(value),
                "--allow" => {
                    config.policy.allow(&value);
                }
                "--deny" => {
                    config.policy.deny(&value);
                }
                "--max-frame" => config.max_frame = number(&option, &value)?,
                "--max-pending" => config.max_pending = number::<usize>(&option, &value)?.max(1),
                "--max-sessions" => config.max_sessions = number::<usize>(&option, &value)?.max(1),
                "--idle-timeout" => config.idle_timeout = secs(&value)?,
                "--shutdown-grace" => config.shutdown_grace = secs(&value)?,
                "--log" => log = value,
                _ => return Err(invalid(format!("unknown option {option}"))),
            }
        }
        Ok(Self { config, log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_line() {
        let cli = Cli::parse(
            &args("--redis redis://127.0.0.1:6380 --listen 127.0.0.1:0 --origin http://a --allow keys --deny get --max-pending 5 --idle-timeout 7 --log debug"),
            Some("tok".into()),
            None,
        )
        .unwrap();
        let c = &cli.config;
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.origins, ["http://a"]);
        assert_eq!(
            (c.max_pending, c.idle_timeout.as_secs(), cli.log.as_str()),
            (5, 7, "debug")
        );
        assert!(c.policy.permits(&[b"KEYS", b"*"]));
        assert!(!c.policy.permits(&[b"GET", b"k"]));
        assert_eq!(c.tokens.len(), 1);

        assert!(matches!(
            Cli::parse(&args("--redis redis://h"), None, None),
            Err(ConfigError::Invalid(why)) if why.contains("token")
        ));
        assert!(matches!(
            Cli::parse(&args("--token t"), None, None),
            Err(ConfigError::Invalid(why)) if why.contains("--redis")
        ));
        assert!(matches!(
            Cli::parse(&args("--redis redis://h --token t --bogus 1"), None, None),
            Err(ConfigError::Invalid(why)) if why.contains("--bogus")
        ));
        assert_eq!(
            Cli::parse(&args("--help"), None, None).err(),
            Some(ConfigError::Help)
        );
    }
}

//! The command line: `redpipe-bridge [options]` serves, `redpipe-bridge mint [options]` prints a
//! signed token (for scripts and tests; backends mint their own, see [`crate::token`]).

use std::time::Duration;

use redpipe::ConnectionInfo;

use crate::auth::Token;
use crate::channels::ChannelRules;
pub use crate::config::USAGE;
use crate::config::{AclCheck, Config, ConfigError};
use crate::token::{Grant, Secret};

/// The environment variables the command line reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `REDPIPE_BRIDGE_TOKEN`: a static token.
    pub token: Option<String>,
    /// `REDPIPE_BRIDGE_SECRET`: a token secret.
    pub secret: Option<String>,
    /// `REDPIPE_BRIDGE_LOG`: the log level.
    pub log: Option<String>,
}

impl Env {
    /// From the process's environment.
    pub fn from_process() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Self {
            token: var("REDPIPE_BRIDGE_TOKEN"),
            secret: var("REDPIPE_BRIDGE_SECRET"),
            log: var("REDPIPE_BRIDGE_LOG"),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// Serve with this configuration, logging at this level.
    Serve(Box<Config>, String),
    /// Print a token for this grant, signed with this secret.
    Mint(Secret, Box<Grant>),
}

fn invalid(why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(why.into())
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(format!("{option}: not a number: {value:?}")))
}

/// A size in bytes: digits, optionally followed by `K`, `M` or `G` (powers of 1024).
fn size(option: &str, value: &str) -> Result<usize, ConfigError> {
    let (digits, shift) = match value.as_bytes().last() {
        Some(b'K' | b'k') => (&value[..value.len() - 1], 10),
        Some(b'M' | b'm') => (&value[..value.len() - 1], 20),
        Some(b'G' | b'g') => (&value[..value.len() - 1], 30),
        _ => (value, 0),
    };
    number::<usize>(option, digits)?
        .checked_mul(1 << shift)
        .ok_or_else(|| invalid(format!("{option}: too large: {value:?}")))
}

fn secs(option: &str, value: &str) -> Result<Duration, ConfigError> {
    number::<u64>(option, value).map(Duration::from_secs)
}

/// The lines of `path` that are neither empty nor comments, numbered from 1.
fn lines(option: &str, path: &str) -> Result<Vec<(usize, String)>, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| invalid(format!("{option} {path}: {e}")))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect())
}

fn secret(origin: &str, bytes: &[u8]) -> Result<Secret, ConfigError> {
    Secret::new(bytes.trim_ascii().to_vec()).ok_or_else(|| {
        invalid(format!(
            "{origin}: a token secret must be at least {} bytes",
            crate::token::MIN_SECRET_LEN
        ))
    })
}

fn secret_file(path: &str) -> Result<Secret, ConfigError> {
    let bytes =
        std::fs::read(path).map_err(|e| invalid(format!("--token-secret-file {path}: {e}")))?;
    secret(&format!("--token-secret-file {path}"), &bytes)
}

/// Flags that take no value.
const FLAGS: &[&str] = &["--allow-missing-origin", "--help", "-h"];

/// Parses the arguments (without the program name).
pub fn parse(args: &[String], env: &Env) -> Result<Command, ConfigError> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Err(ConfigError::Help);
    }
    if args.first().is_some_and(|a| a == "mint") {
        return mint(&args[1..], env);
    }
    let mut pairs = Vec::new();
    let mut flags = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if FLAGS.contains(&arg.as_str()) {
            flags.push(arg.as_str());
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| invalid(format!("{arg} needs a value")))?;
        pairs.push((arg.as_str(), value.as_str()));
    }
    let redis = pairs
        .iter()
        .find(|(o, _)| *o == "--redis")
        .ok_or_else(|| invalid("--redis is required"))?
        .1;
    let redis: ConnectionInfo = redis
        .parse()
        .map_err(|e| invalid(format!("--redis: {e}")))?;
    let mut config = Config::new(redis);
    config.allow_missing_origin = flags.contains(&"--allow-missing-origin");
    let mut log = env.log.clone().unwrap_or_else(|| "info".into());
    if let Some(t) = &env.token {
        config.tokens.push(Token::new(t.clone()));
    }
    if let Some(s) = &env.secret {
        config
            .secrets
            .push(secret("REDPIPE_BRIDGE_SECRET", s.as_bytes())?);
    }
    for (option, value) in pairs {
        match option {
            "--redis" => {}
            "--listen" => {
                config.listen = value
                    .parse()
                    .map_err(|_| invalid(format!("--listen: not an address: {value:?}")))?;
            }
            "--token" => config.tokens.push(Token::new(value)),
            "--token-file" => {
                for (n, line) in lines(option, value)? {
                    config.tokens.push(Token::parse_line(&line).ok_or_else(|| {
                        invalid(format!(
                            "{value}:{n}: expected TOKEN or TOKEN USER PASSWORD"
                        ))
                    })?);
                }
            }
            "--token-secret-file" => config.secrets.push(secret_file(value)?),
            "--users-file" => {
                for (n, line) in lines(option, value)? {
                    config
                        .users
                        .parse_line(&line)
                        .ok_or_else(|| invalid(format!("{value}:{n}: expected USER PASSWORD")))?;
                }
            }
            "--max-token-ttl" => config.max_token_ttl = secs(option, value)?,
            "--origin" => config.origins.push(value.to_string()),
            "--failed-logins" => config.failed_logins_per_minute = number(option, value)?,
            "--allow" => {
                config
                    .policy
                    .allow(value)
                    .map_err(|e| invalid(format!("--allow {value}: {e}")))?;
            }
            "--deny" => {
                config.policy.deny(value);
            }
            "--subscribe" | "--publish" => {
                let rule =
                    ChannelRules::new([value]).map_err(|e| invalid(format!("{option}: {e}")))?;
                match option {
                    "--subscribe" => config.subscribe.extend(rule),
                    _ => config.publish.extend(rule),
                }
            }
            "--max-value" => config.policy.max_value = size(option, value)?,
            "--acl-check" => {
                config.acl_check = match value {
                    "refuse" => AclCheck::Refuse,
                    "warn" => AclCheck::Warn,
                    _ => return Err(invalid("--acl-check: refuse or warn")),
                }
            }
            "--max-frame" => config.max_frame = size(option, value)?,
            "--max-command" => config.max_command = size(option, value)?,
            "--max-pending" => config.max_pending = number(option, value)?,
            "--max-sessions" => config.max_sessions = number(option, value)?,
            "--max-per-ip" => config.max_per_ip = number(option, value)?,
            "--max-memory" => config.max_memory = size(option, value)?,
            "--idle-timeout" => config.idle_timeout = secs(option, value)?,
            "--max-session-age" => config.max_session_age = secs(option, value)?,
            "--shutdown-grace" => config.shutdown_grace = secs(option, value)?,
            "--log" => log = value.to_string(),
            _ => return Err(invalid(format!("unknown option {option}"))),
        }
    }
    config.validate()?;
    Ok(Command::Serve(Box::new(config), log))
}

/// `mint [--token-secret-file FILE] [--ttl SECS] [--user U] [--prefix P] [--command RULE]...
/// [--subscribe RULE]... [--publish RULE]...`
fn mint(args: &[String], env: &Env) -> Result<Command, ConfigError> {
    let mut key = env
        .secret
        .as_deref()
        .map(|s| secret("REDPIPE_BRIDGE_SECRET", s.as_bytes()))
        .transpose()?;
    let (mut ttl, mut user, mut prefix, mut commands) = (60, None, None, None::<Vec<String>>);
    let (mut subscribe, mut publish) = (None::<Vec<String>>, None::<Vec<String>>);
    let mut it = args.iter();
    while let Some(option) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| invalid(format!("{option} needs a value")))?;
        match option.as_str() {
            "--token-secret-file" => key = Some(secret_file(value)?),
            "--ttl" => ttl = number::<i64>(option, value)?,
            "--user" => user = Some(value.clone()),
            "--prefix" => prefix = Some(value.clone()),
            "--command" => commands.get_or_insert_default().push(value.clone()),
            "--subscribe" => subscribe.get_or_insert_default().push(value.clone()),
            "--publish" => publish.get_or_insert_default().push(value.clone()),
            _ => return Err(invalid(format!("mint: unknown option {option}"))),
        }
    }
    let key = key.ok_or_else(|| invalid("mint: --token-secret-file or REDPIPE_BRIDGE_SECRET"))?;
    let expires = crate::token::now().saturating_add_signed(ttl);
    let mut grant = Grant::until(expires);
    grant.user = user;
    grant.prefix = prefix;
    grant.commands = commands;
    grant.subscribe = subscribe;
    grant.publish = publish;
    Ok(Command::Mint(key, Box::new(grant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    const TOKEN: &str = "a-development-token-0123456789abcdef";

    fn serve(s: &str, env: &Env) -> Result<Config, ConfigError> {
        match parse(&args(s), env)? {
            Command::Serve(config, _) => Ok(*config),
            Command::Mint(..) => panic!("not a mint"),
        }
    }

    #[test]
    fn command_line() {
        let env = Env {
            token: Some(TOKEN.into()),
            ..Env::default()
        };
        let c = serve("--redis redis://127.0.0.1:6380 --listen 127.0.0.1:0 --origin http://a --allow keys --deny get --max-pending 5 --idle-timeout 7 --max-memory 64M --max-value 2K --acl-check warn --allow-missing-origin", &env).unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.origins, ["http://a"]);
        assert_eq!((c.max_pending, c.idle_timeout.as_secs()), (5, 7));
        assert_eq!((c.max_memory, c.policy.max_value), (64 << 20, 2048));
        assert_eq!(c.acl_check, AclCheck::Warn);
        assert!(c.allow_missing_origin);
        assert!(c.policy.check(&[b"KEYS", b"*"], false).is_ok());
        assert!(c.policy.check(&[b"GET", b"k"], false).is_err());
        assert_eq!(c.tokens.len(), 1);

        let defaults = serve("--redis redis://h", &env).unwrap();
        assert!(!defaults.allow_missing_origin);
        assert_eq!(defaults.acl_check, AclCheck::Refuse);

        let refused = |s: &str, env: &Env, says: &str| match serve(s, env) {
            Err(ConfigError::Invalid(why)) => assert!(why.contains(says), "{s}: {why}"),
            other => panic!("{s}: {other:?}"),
        };
        refused("--redis redis://h", &Env::default(), "secret");
        refused("--token t", &env, "--redis");
        refused("--redis redis://h --bogus 1", &env, "--bogus");
        refused(
            "--redis redis://h --token short",
            &Env::default(),
            "32 characters",
        );
        refused("--redis redis://h --allow AUTH", &env, "never");
        refused(
            "--redis redis://h --acl-check maybe",
            &env,
            "refuse or warn",
        );
        refused("--redis redis://h --max-sessions 0", &env, "above 0");
        let short_secret = Env {
            secret: Some("too short".into()),
            ..Env::default()
        };
        refused("--redis redis://h", &short_secret, "32 bytes");
        assert_eq!(parse(&args("--help"), &env).err(), Some(ConfigError::Help));
        assert_eq!(size("x", "3G").unwrap(), 3 << 30);
        assert!(size("x", "M").is_err());
    }

    #[test]
    fn mint_prints_a_token_the_bridge_accepts() {
        let env = Env {
            secret: Some("0123456789abcdef0123456789abcdef".into()),
            ..Env::default()
        };
        let Command::Mint(secret, grant) = parse(
            &args("mint --ttl 30 --user web --prefix app:u1: --command GET --command SET"),
            &env,
        )
        .unwrap() else {
            panic!("a mint");
        };
        assert_eq!(grant.user.as_deref(), Some("web"));
        assert_eq!(
            grant.commands.as_deref(),
            Some(&["GET".to_string(), "SET".to_string()][..])
        );
        let t = crate::token::mint(&secret, &grant);
        let now = crate::token::now();
        assert_eq!(
            crate::token::verify(&[secret], t.as_bytes(), now, Duration::from_secs(60)),
            Ok(*grant)
        );
        assert!(parse(&args("mint --ttl 30"), &Env::default()).is_err());
    }
}

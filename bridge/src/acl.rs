//! The start-up check of the Redis ACL users that tokens map to: can one of them run a
//! `@scripting`, `@admin` or `@dangerous` command? Then a bug in the bridge's policy, or a
//! command the operator allowed without thinking it through, is a way to wipe or take over the
//! server; the bridge refuses to start ([`AclCheck::Refuse`](crate::config::AclCheck)) or
//! warns loudly.
//!
//! The check asks Redis itself, without running anything: it logs in as the user, opens a
//! transaction, queues one command of each kind ([`PROBES`]) and discards the transaction.
//! Redis checks ACLs when it queues a command, so each answers `QUEUED` (the user may run it)
//! or `NOPERM` — and nothing runs, whatever the answer. (`MULTI` itself is checked first: if
//! the user cannot open a transaction, nothing else is sent, and the check fails.) This asks
//! about representative commands, not every command of each category.
//!
//! The recommended ACL for a page's user, confined to keys under `app:` (see `SECURITY.md`):
//!
//! ```text
//! ACL SETUSER web on >PASSWORD resetkeys ~app:* resetchannels -@all +@read +@write +@transaction +@connection -@dangerous -@admin -@scripting
//! ```

use redpipe::core::VecPipeline;
use redpipe::tokio::AsyncConnection;
use redpipe::{ConnectionInfo, cmd};

use crate::config::Config;

/// The recommended ACL rules for the users tokens map to (after `ACL SETUSER name on
/// >password`), with `~app:*` as the example key pattern.
pub const RECOMMENDED: &str = "resetkeys ~app:* resetchannels -@all +@read +@write +@transaction +@connection -@dangerous -@admin -@scripting";

/// The commands queued to learn what a user may run: the category, and the command (valid
/// arity, so that Redis answers about permission and nothing else).
pub const PROBES: &[(&str, &[&str])] = &[
    ("@scripting", &["EVAL", "return 1", "0"]),
    ("@scripting", &["EVAL_RO", "return 1", "0"]),
    ("@scripting", &["FCALL", "f", "0"]),
    ("@scripting", &["SCRIPT", "FLUSH"]),
    ("@scripting", &["FUNCTION", "FLUSH"]),
    ("@dangerous", &["FLUSHALL"]),
    ("@dangerous", &["KEYS", "*"]),
    ("@dangerous", &["SWAPDB", "0", "1"]),
    ("@dangerous", &["MIGRATE", "127.0.0.1", "1", "k", "0", "1"]),
    ("@dangerous", &["SORT", "k"]),
    ("@dangerous", &["INFO"]),
    ("@admin", &["CONFIG", "GET", "maxmemory"]),
    ("@admin", &["CLIENT", "KILL", "ID", "0"]),
    ("@admin", &["ACL", "LIST"]),
    ("@admin", &["SLOWLOG", "GET"]),
];

/// Why a user could not be checked.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError {
    /// Connecting or logging in failed.
    Connect(redpipe::Error),
    /// `MULTI` was refused, so nothing could be queued safely.
    NoTransaction(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::NoTransaction(e) => write!(f, "MULTI refused ({e}): cannot check"),
        }
    }
}

impl core::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Connect(e) => Some(e),
            Self::NoTransaction(_) => None,
        }
    }
}

/// One user's result: the probes it may run (`"EVAL (@scripting)"`), or why it could not
/// be checked.
#[derive(Debug)]
pub struct Finding {
    /// The ACL user (`None`: the `--redis` URL's, or Redis's `default`).
    pub user: Option<String>,
    /// What it may run; empty when it passed.
    pub result: Result<Vec<String>, CheckError>,
}

impl Finding {
    /// The user's name, as the log shows it.
    pub fn name(&self) -> &str {
        self.user.as_deref().unwrap_or("(the --redis URL's user)")
    }

    /// Whether the user passed.
    pub fn passed(&self) -> bool {
        matches!(&self.result, Ok(found) if found.is_empty())
    }
}

/// The users sessions may run as: the URL's (for tokens without a user), each static
/// token's and each of the users file.
fn users(config: &Config) -> Vec<(Option<String>, Option<String>)> {
    let mut out: Vec<(Option<String>, Option<String>)> = Vec::new();
    let url_user = !config.secrets.is_empty() || config.tokens.iter().any(|t| t.user.is_none());
    if url_user {
        out.push((None, None));
    }
    let named = config
        .tokens
        .iter()
        .filter_map(|t| Some((t.user.clone()?, t.password.clone().unwrap_or_default())))
        .chain(
            config
                .users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string())),
        );
    for (user, password) in named {
        if !out.iter().any(|(u, _)| u.as_deref() == Some(user.as_str())) {
            out.push((Some(user), Some(password)));
        }
    }
    out
}

/// Checks every user sessions may run as; see the [module docs](self).
pub async fn check(config: &Config) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (user, password) in users(config) {
        let mut info = config.redis.clone();
        if user.is_some() {
            info.username = user.clone();
            info.password = password;
        }
        findings.push(Finding {
            result: probe(&info).await,
            user,
        });
    }
    findings
}

/// What the user of `info` may run among [`PROBES`].
pub async fn probe(info: &ConnectionInfo) -> Result<Vec<String>, CheckError> {
    let mut c = AsyncConnection::open(info)
        .await
        .map_err(CheckError::Connect)?;
    let mut p = VecPipeline::new();
    let multi = p
        .query::<String>(cmd("MULTI"))
        .map_err(|e| CheckError::NoTransaction(e.to_string()))?;
    c.execute(&mut p).await.map_err(CheckError::Connect)?;
    if let Err(e) = multi.read(&p) {
        return Err(CheckError::NoTransaction(e.to_string()));
    }
    let mut p = VecPipeline::new();
    let mut queued = Vec::new();
    for (category, words) in PROBES {
        let h = p
            .query::<String>(cmd(words[0]).arg(&words[1..]))
            .map_err(|e| CheckError::NoTransaction(e.to_string()))?;
        queued.push((*category, words[0], h));
    }
    let _ = p.query::<String>(cmd("DISCARD"));
    c.execute(&mut p).await.map_err(CheckError::Connect)?;
    let mut found = Vec::new();
    for (category, name, h) in queued {
        // Anything but QUEUED (NOPERM, or refused for another reason): it cannot run.
        if matches!(h.read(&p), Ok(status) if status == "QUEUED") {
            found.push(format!("{name} ({category})"));
        }
    }
    Ok(found)
}

//! Who may open a session: the page's origin, then a token (a header or the first message) —
//! signed ([`crate::token`]) in production, static for development — resolved into a
//! [`Login`]: the Redis ACL user the session runs as, and what it may do.
//!
//! Static tokens are compared in constant time: every configured token is compared in full,
//! whatever the input, so the time taken says nothing about how much of a guess was right.
//! They must be at least [`MIN_STATIC_TOKEN_LEN`] characters; but a static token in a page is
//! public, so the bridge logs a warning for them at start-up: use signed tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::channels::ChannelRules;
use crate::confine::Prefix;
use crate::policy::Rules;
use crate::token::{self, Secret, TokenError};

/// The shortest static token accepted, in bytes.
pub const MIN_STATIC_TOKEN_LEN: usize = 32;

/// A static token and the Redis ACL user its sessions authenticate as.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    secret: Vec<u8>,
    /// ACL user name (`AUTH user password`); `None` keeps the URL's user.
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// `secret`, authenticating as the URL's user.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into().into_bytes(),
            user: None,
            password: None,
        }
    }

    /// `secret`, authenticating as the ACL user `user` with `password`.
    pub fn with_user(
        secret: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            secret: secret.into().into_bytes(),
            user: Some(user.into()),
            password: Some(password.into()),
        }
    }

    /// A line of a token file: `TOKEN` or `TOKEN USER PASSWORD`.
    pub fn parse_line(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace();
        let secret = words.next()?;
        match (words.next(), words.next(), words.next()) {
            (None, _, _) => Some(Self::new(secret)),
            (Some(user), Some(pw), None) => Some(Self::with_user(secret, user, pw)),
            _ => None,
        }
    }

    /// Whether the token is shorter than [`MIN_STATIC_TOKEN_LEN`] (refused by the
    /// configuration).
    pub fn is_short(&self) -> bool {
        self.secret.len() < MIN_STATIC_TOKEN_LEN
    }
}

/// `a == b` in time that depends only on `b`'s length (the secret's), not on where they
/// differ nor on `a`'s length.
fn same(a: &[u8], secret: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != secret.len());
    for (i, s) in secret.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0) ^ s;
    }
    std::hint::black_box(diff) == 0
}

/// The static token matching `presented`, comparing with every token (no early exit).
pub fn find<'t>(tokens: &'t [Token], presented: &[u8]) -> Option<&'t Token> {
    let mut found = None;
    for t in tokens {
        if same(presented, &t.secret) && found.is_none() {
            found = Some(t);
        }
    }
    found
}

/// The Redis ACL users a signed token may name (`sub`), with their passwords: the passwords
/// stay on the bridge, tokens only carry the name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Users(BTreeMap<String, String>);

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Users {
    /// Adds (or replaces) `user` with `password`.
    pub fn insert(&mut self, user: impl Into<String>, password: impl Into<String>) {
        self.0.insert(user.into(), password.into());
    }

    /// A line of a users file: `USER PASSWORD`.
    pub fn parse_line(&mut self, line: &str) -> Option<()> {
        let mut words = line.split_whitespace();
        let (Some(user), Some(password), None) = (words.next(), words.next(), words.next()) else {
            return None;
        };
        self.insert(user, password);
        Some(())
    }

    /// The users and passwords, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }
}

/// What a token opened: a session as `user` (the `--redis` URL's when `None`), with what it
/// may do.
#[derive(Clone)]
pub struct Login {
    /// The ACL user.
    pub user: Option<String>,
    pub(crate) password: Option<String>,
    /// The key prefix it is confined to.
    pub prefix: Option<Prefix>,
    /// The commands its token grants (among the policy's).
    pub commands: Option<Rules>,
    /// The channels its token lets it subscribe to; `None`: the bridge's defaults.
    pub subscribe: Option<ChannelRules>,
    /// The channels its token lets it publish to; `None`: the bridge's defaults.
    pub publish: Option<ChannelRules>,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("prefix", &self.prefix)
            .field("commands", &self.commands)
            .field("subscribe", &self.subscribe)
            .field("publish", &self.publish)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginError {
    /// No configured static token matches, and it is not a signed token.
    Invalid,
    /// A signed token was refused.
    Token(TokenError),
    /// A signed token names an ACL user the bridge has no password for.
    UnknownUser,
}

impl LoginError {
    /// A short reason a page can show (a WebSocket close reason); it says no more than an
    /// attacker may know.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Invalid | Self::UnknownUser => "invalid token",
            Self::Token(e) => e.reason(),
        }
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("no such token"),
            Self::Token(e) => write!(f, "{e}"),
            Self::UnknownUser => f.write_str("the token names a user the bridge does not know"),
        }
    }
}

impl core::error::Error for LoginError {}

/// The tokens a bridge accepts.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// Static tokens (development).
    pub tokens: &'a [Token],
    /// Secrets that sign tokens.
    pub secrets: &'a [Secret],
    /// ACL users a signed token may name.
    pub users: &'a Users,
    /// The longest a signed token may live.
    pub max_token_ttl: Duration,
}

/// Resolves `presented` at `now` (Unix seconds).
pub fn login(keys: Keys<'_>, presented: &[u8], now: u64) -> Result<Login, LoginError> {
    if let Some(t) = find(keys.tokens, presented) {
        return Ok(Login {
            user: t.user.clone(),
            password: t.password.clone(),
            prefix: None,
            commands: None,
            subscribe: None,
            publish: None,
        });
    }
    if !token::is_signed(presented) || keys.secrets.is_empty() {
        return Err(LoginError::Invalid);
    }
    let grant = token::verify(keys.secrets, presented, now, keys.max_token_ttl)
        .map_err(LoginError::Token)?;
    let password = match &grant.user {
        None => None,
        Some(user) => Some(
            keys.users
                .password(user)
                .ok_or(LoginError::UnknownUser)?
                .to_string(),
        ),
    };
    Ok(Login {
        user: grant.user,
        password,
        prefix: grant.prefix.and_then(Prefix::new),
        commands: grant.commands.map(Rules::new),
        // Checked when the token was verified.
        subscribe: grant
            .subscribe
            .map(|r| ChannelRules::new(r).unwrap_or_default()),
        publish: grant
            .publish
            .map(|r| ChannelRules::new(r).unwrap_or_default()),
    })
}

/// Why a handshake's `Origin` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginError {
    /// No `Origin` header, and the bridge requires one.
    Missing,
    /// An origin that is not on the list.
    NotAllowed(String),
}

impl OriginError {
    /// The close reason a page can show (at most 123 bytes).
    pub fn reason(&self) -> String {
        match self {
            Self::Missing => "an Origin header is required".into(),
            Self::NotAllowed(o) => {
                let o: String = o.chars().filter(|c| !c.is_control()).take(80).collect();
                format!("origin not allowed: {o}")
            }
        }
    }
}

impl fmt::Display for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl core::error::Error for OriginError {}

/// Whether a handshake's `Origin` header may open a session: browsers always send one, so it
/// must be on the list (`*` allows any); clients without one (native programs, which could
/// send anything) pass only when `allow_missing`.
pub fn check_origin(
    origin: Option<&str>,
    allowed: &[String],
    allow_missing: bool,
) -> Result<(), OriginError> {
    match origin {
        None if allow_missing => Ok(()),
        None => Err(OriginError::Missing),
        Some(o)
            if allowed
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o)) =>
        {
            Ok(())
        }
        Some(o) => Err(OriginError::NotAllowed(o.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Grant;

    const LONG: &str = "alpha-0123456789abcdef0123456789ab";

    #[test]
    fn static_tokens() {
        let tokens = [Token::new(LONG), Token::with_user("beta", "bob", "pw")];
        assert_eq!(find(&tokens, LONG.as_bytes()), Some(&tokens[0]));
        assert_eq!(
            find(&tokens, b"beta").and_then(|t| t.user.as_deref()),
            Some("bob")
        );
        for wrong in [&LONG.as_bytes()[1..], b"alphaa", b"", b"Alpha", b"beta "] {
            assert_eq!(find(&tokens, wrong), None, "{wrong:?}");
        }
        assert!(!tokens[0].is_short() && tokens[1].is_short());
        assert_eq!(Token::parse_line("t1"), Some(Token::new("t1")));
        assert_eq!(
            Token::parse_line(" t2  ann  secret "),
            Some(Token::with_user("t2", "ann", "secret"))
        );
        assert_eq!(Token::parse_line("t3 ann"), None);
        assert_eq!(Token::parse_line(""), None);
    }

    #[test]
    fn signed_tokens_name_known_users() {
        let secret = Secret::new(vec![7; 32]).unwrap();
        let mut users = Users::default();
        assert_eq!(users.parse_line("web web-pw"), Some(()));
        assert_eq!(users.parse_line("web"), None);
        let keys = Keys {
            tokens: &[Token::new(LONG)],
            secrets: std::slice::from_ref(&secret),
            users: &users,
            max_token_ttl: Duration::from_secs(600),
        };
        let mint = |g: Grant| token::mint(&secret, &g);
        let now = 1_000_000;
        let web = login(
            keys,
            mint(Grant::until(now + 60).user("web").prefix("u1:")).as_bytes(),
            now,
        )
        .unwrap();
        assert_eq!(
            (web.user.as_deref(), web.password.as_deref()),
            (Some("web"), Some("web-pw"))
        );
        assert_eq!(web.prefix, Prefix::new("u1:"));
        let url_user = login(keys, mint(Grant::until(now + 60)).as_bytes(), now).unwrap();
        assert_eq!((url_user.user, url_user.password), (None, None));
        assert_eq!(
            login(
                keys,
                mint(Grant::until(now + 60).user("root")).as_bytes(),
                now
            )
            .err(),
            Some(LoginError::UnknownUser)
        );
        assert_eq!(
            login(keys, mint(Grant::until(now)).as_bytes(), now)
                .map_err(LoginError::reason)
                .err(),
            Some("invalid token: expired")
        );
        assert!(
            login(keys, LONG.as_bytes(), now).is_ok(),
            "static still works"
        );
        assert_eq!(
            login(keys, b"a.b.c", now).err().map(LoginError::reason),
            Some("invalid token")
        );
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://app.example".to_string()];
        assert_eq!(
            check_origin(Some("https://app.example"), &allowed, false),
            Ok(())
        );
        assert_eq!(
            check_origin(Some("https://evil.example"), &allowed, true),
            Err(OriginError::NotAllowed("https://evil.example".into()))
        );
        assert_eq!(check_origin(None, &allowed, true), Ok(()));
        assert_eq!(
            check_origin(None, &allowed, false),
            Err(OriginError::Missing)
        );
        assert_eq!(check_origin(Some("null"), &["*".into()], false), Ok(()));
        assert_eq!(
            OriginError::NotAllowed("https://evil.example".into()).reason(),
            "origin not allowed: https://evil.example"
        );
        assert!(OriginError::NotAllowed("x".repeat(500)).reason().len() <= 123);
    }
}

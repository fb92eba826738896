//! Who may open a session: the token (a header or the first message), and the page's origin.
//!
//! Tokens are compared in constant time: every configured token is compared in full, whatever
//! the input, so the time taken says nothing about how much of a guess was right. Each token
//! maps to a Redis ACL user, so that Redis itself enforces per-user keys and commands on the
//! session's connection.

use std::fmt;

/// A token and the Redis ACL user its sessions authenticate as.
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

    /// Whether the token is empty (refused by the configuration).
    pub fn is_empty(&self) -> bool {
        self.secret.is_empty()
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

/// The token matching `presented`, comparing with every token (no early exit).
pub fn find<'t>(tokens: &'t [Token], presented: &[u8]) -> Option<&'t Token> {
    let mut found = None;
    for t in tokens {
        if same(presented, &t.secret) && found.is_none() {
            found = Some(t);
        }
    }
    found
}

/// Whether a handshake's `Origin` header may open a session: browsers always send one, so it
/// must be on the list (`*` allows any); clients without one (native programs, which could
/// send anything) pass when `allow_missing`, as the token still applies.
pub fn origin_allowed(origin: Option<&str>, allowed: &[String], allow_missing: bool) -> bool {
    match origin {
        None => allow_missing,
        Some(o) => allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(o)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let tokens = [Token::new("alpha"), Token::with_user("beta", "bob", "pw")];
        assert_eq!(find(&tokens, b"alpha"), Some(&tokens[0]));
        assert_eq!(
            find(&tokens, b"beta").and_then(|t| t.user.as_deref()),
            Some("bob")
        );
        for wrong in [&b"alph"[..], b"alphaa", b"", b"Alpha", b"beta "] {
            assert_eq!(find(&tokens, wrong), None, "{wrong:?}");
        }
        assert_eq!(Token::parse_line("t1"), Some(Token::new("t1")));
        assert_eq!(
            Token::parse_line(" t2  ann  secret "),
            Some(Token::with_user("t2", "ann", "secret"))
        );
        assert_eq!(Token::parse_line("t3 ann"), None);
        assert_eq!(Token::parse_line(""), None);
    }

    #[test]
    fn origins() {
        let allowed = vec!["https://app.example".to_string()];
        assert!(origin_allowed(Some("https://app.example"), &allowed, false));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            &allowed,
            true
        ));
        assert!(origin_allowed(None, &allowed, true));
        assert!(!origin_allowed(None, &allowed, false));
        assert!(origin_allowed(Some("null"), &["*".into()], false));
    }
}

//! Signed short-lived tokens: what the application's backend hands a page so that it can open
//! one session, for one user, for a minute.
//!
//! A page's token is public (any visitor reads it from the page's JavaScript), so a token that
//! never changes is a password published to every visitor. A signed token instead says, under
//! an HMAC-SHA256 made with a secret that only the backend and the bridge know: which Redis ACL
//! user the session runs as (`sub`), which key prefix confines it (`prefix`), which commands it
//! may send (`commands`, a narrowing of the bridge's policy), which Pub/Sub channels it may
//! subscribe and publish to (`subscribe`, `publish`: [`ChannelRules`](crate::ChannelRules)) and
//! until when it may open a session (`exp`, Unix seconds). The backend mints one per page load or reconnect, after its
//! own login check, with [`mint`] (Rust) or any JWT library (`HS256`):
//!
//! ```text
//! base64url({"alg":"HS256","typ":"JWT"}) . base64url(claims) . base64url(HMAC-SHA256(secret, first two parts))
//! ```
//!
//! The bridge checks the signature in constant time (with each configured secret, so that
//! secrets can be rotated), refuses `alg` other than `HS256` (no `none`), refuses expired
//! tokens, tokens not valid yet (`nbf`) and tokens that would live longer than its
//! `--max-token-ttl` (a backend minting day-long tokens by mistake). The claims are read only
//! after the signature is verified.
//!
//! ```
//! use std::time::Duration;
//! use redpipe_bridge::token::{self, Grant, Secret};
//!
//! let secret = Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
//! let grant = Grant::new(Duration::from_secs(60))
//!     .user("web")
//!     .prefix("app:u42:")
//!     .commands(["GET", "SET", "SCAN"]);
//! let t = token::mint(&secret, &grant);
//! let now = token::now();
//! let back = token::verify(&[secret], t.as_bytes(), now, Duration::from_secs(300)).unwrap();
//! assert_eq!(back, grant);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The shortest secret accepted, in bytes (as for HS256 keys: the hash's output size).
pub const MIN_SECRET_LEN: usize = 32;

/// The longest token read, in bytes.
pub const MAX_TOKEN_LEN: usize = 8192;

/// A signing secret shared by the backend that mints tokens and the bridge (kept keyed, as
/// the HMAC it starts).
#[derive(Clone)]
pub struct Secret(Hmac<Sha256>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// `bytes` as a secret, if it has at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        if bytes.len() < MIN_SECRET_LEN {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(&bytes).ok().map(Self)
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

/// What a token allows: its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grant {
    /// The Redis ACL user the session runs as (`sub`); `None`: the bridge's `--redis` URL's.
    pub user: Option<String>,
    /// The key prefix the session is confined to (`prefix`).
    pub prefix: Option<String>,
    /// The commands the session may send (`commands`: rules such as `GET` or
    /// `CLIENT SETNAME`), among those the bridge's policy allows; `None`: all of those.
    pub commands: Option<Vec<String>>,
    /// The channels the session may subscribe to (`subscribe`: rules such as `room:42` or
    /// `room:42:*`); `None`: the bridge's `--subscribe` rules.
    pub subscribe: Option<Vec<String>>,
    /// The channels the session may publish to (`publish`); `None`: the bridge's `--publish`
    /// rules.
    pub publish: Option<Vec<String>>,
    /// When the token stops opening sessions, in Unix seconds (`exp`).
    pub expires: u64,
}

impl Grant {
    /// A grant for any user and key that the bridge allows, valid for `ttl` from now.
    pub fn new(ttl: Duration) -> Self {
        Self::until(now().saturating_add(ttl.as_secs()))
    }

    /// A grant valid until `expires` (Unix seconds).
    pub fn until(expires: u64) -> Self {
        Self {
            user: None,
            prefix: None,
            commands: None,
            subscribe: None,
            publish: None,
            expires,
        }
    }

    /// For the ACL user `user`.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Confined to keys that start with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Only the commands `rules` (`"GET"`, `"CLIENT SETNAME"`).
    pub fn commands<S: Into<String>>(mut self, rules: impl IntoIterator<Item = S>) -> Self {
        self.commands = Some(rules.into_iter().map(Into::into).collect());
        self
    }

    /// Subscribing only to the channels `rules` (`"room:42"`, `"room:42:*"`).
    pub fn subscribe<S: Into<String>>(mut self, rules: impl IntoIterator<Item = S>) -> Self {
        self.subscribe = Some(rules.into_iter().map(Into::into).collect());
        self
    }

    /// Publishing only to the channels `rules`.
    pub fn publish<S: Into<String>>(mut self, rules: impl IntoIterator<Item = S>) -> Self {
        self.publish = Some(rules.into_iter().map(Into::into).collect());
        self
    }
}

/// Why a token was refused; [`TokenError::reason`] is what the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url parts of JSON, or longer than [`MAX_TOKEN_LEN`].
    Malformed,
    /// The header names an algorithm other than `HS256`.
    Algorithm,
    /// The signature does not match any configured secret.
    Signature,
    /// A claim has the wrong type, or `exp` is missing.
    Claims,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come yet.
    NotYetValid,
    /// `exp` is further away than the bridge's longest token lifetime.
    TooLongLived,
}

impl TokenError {
    /// A short reason a page can show (a WebSocket close reason).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed | Self::Algorithm | Self::Signature | Self::Claims => "invalid token",
            Self::Expired => "invalid token: expired",
            Self::NotYetValid => "invalid token: not valid yet",
            Self::TooLongLived => "invalid token: lives longer than this bridge allows",
        }
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed token",
            Self::Algorithm => "token algorithm is not HS256",
            Self::Signature => "token signature does not match",
            Self::Claims => "token claims are not as expected",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not valid yet",
            Self::TooLongLived => "token expires further away than --max-token-ttl",
        })
    }
}

impl core::error::Error for TokenError {}

/// The current time in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `presented` has the shape of a signed token (three dot-separated parts), rather
/// than a static one.
pub fn is_signed(presented: &[u8]) -> bool {
    presented.iter().filter(|&&b| b == b'.').count() == 2
}

/// A token for `grant`, signed with `secret`.
pub fn mint(secret: &Secret, grant: &Grant) -> String {
    // Inserted in the order the JavaScript helper writes them (alphabetical), so that both
    // mint the same bytes whether or not serde_json keeps insertion order (the workspace
    // enables `preserve_order` for the core's JSON fields).
    let mut claims = Map::new();
    if let Some(commands) = &grant.commands {
        claims.insert("commands".into(), json!(commands));
    }
    claims.insert("exp".into(), json!(grant.expires));
    if let Some(prefix) = &grant.prefix {
        claims.insert("prefix".into(), json!(prefix));
    }
    if let Some(publish) = &grant.publish {
        claims.insert("publish".into(), json!(publish));
    }
    if let Some(user) = &grant.user {
        claims.insert("sub".into(), json!(user));
    }
    if let Some(subscribe) = &grant.subscribe {
        claims.insert("subscribe".into(), json!(subscribe));
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let signed = format!("{header}.{body}");
    let mut mac = secret.mac();
    mac.update(signed.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// The grant of `token` if one of `secrets` signed it and it is valid at `now` (Unix
/// seconds) for no longer than `max_ttl`.
pub fn verify(
    secrets: &[Secret],
    token: &[u8],
    now: u64,
    max_ttl: Duration,
) -> Result<Grant, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split(|&b| b == b'.');
    let (Some(header), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let json = |part: &[u8]| -> Result<Map<String, Value>, TokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(TokenError::Malformed),
        }
    };
    let header = json(header)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") || header.contains_key("crit") {
        return Err(TokenError::Algorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let signed = &token[..token.len() - signature_len(token)];
    let matched = secrets.iter().any(|s| {
        let mut mac = s.mac();
        mac.update(signed);
        mac.verify_slice(&signature).is_ok()
    });
    if !matched {
        return Err(TokenError::Signature);
    }
    let claims = json(body)?;
    let string = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::Claims),
    };
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or(TokenError::Claims),
    };
    let strings = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or(TokenError::Claims),
        Some(_) => Err(TokenError::Claims),
    };
    let commands = strings("commands")?;
    let (subscribe, publish) = (strings("subscribe")?, strings("publish")?);
    for rules in [&subscribe, &publish].into_iter().flatten() {
        crate::channels::ChannelRules::new(rules).map_err(|_| TokenError::Claims)?;
    }
    let expires = time("exp")?.ok_or(TokenError::Claims)?;
    if now >= expires {
        return Err(TokenError::Expired);
    }
    if time("nbf")?.is_some_and(|nbf| now < nbf) {
        return Err(TokenError::NotYetValid);
    }
    if expires - now > max_ttl.as_secs() {
        return Err(TokenError::TooLongLived);
    }
    Ok(Grant {
        user: string("sub")?,
        prefix: string("prefix")?,
        commands,
        subscribe,
        publish,
        expires,
    })
}

/// The length of the last part of `token` and the dot before it.
fn signature_len(token: &[u8]) -> usize {
    token
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(0, |dot| token.len() - dot)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn secret(byte: u8) -> Secret {
        Secret::new(vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_and_carries_its_grant() {
        let grant = Grant::until(1_000_060)
            .user("web")
            .prefix("app:u1:")
            .commands(["GET", "CLIENT SETNAME"]);
        let t = mint(&secret(1), &grant);
        assert!(is_signed(t.as_bytes()));
        assert!(!is_signed(b"a-static-token-of-many-characters"));
        let check = |secrets: &[Secret], now| verify(secrets, t.as_bytes(), now, TTL);
        assert_eq!(check(&[secret(1)], 1_000_000), Ok(grant.clone()));
        assert_eq!(
            check(&[secret(2), secret(1)], 1_000_000),
            Ok(grant),
            "rotation"
        );
        assert_eq!(check(&[secret(2)], 1_000_000), Err(TokenError::Signature));
        assert_eq!(check(&[secret(1)], 1_000_060), Err(TokenError::Expired));
        assert_eq!(check(&[secret(1)], 999_000), Err(TokenError::TooLongLived));
        assert!(Secret::new(vec![0; 31]).is_none());
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let t = mint(&secret(1), &Grant::until(1_000_060).prefix("app:u1:"));
        let parts: Vec<&str> = t.split('.').collect();
        let check = |token: &str| verify(&[secret(1)], token.as_bytes(), 1_000_000, TTL);
        // Another prefix under the same signature.
        let body = URL_SAFE_NO_PAD.encode(r#"{"prefix":"app:","exp":1000060}"#);
        assert_eq!(
            check(&format!("{}.{body}.{}", parts[0], parts[2])),
            Err(TokenError::Signature)
        );
        // alg none, with or without a signature.
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        assert_eq!(
            check(&format!("{none}.{}.", parts[1])),
            Err(TokenError::Algorithm)
        );
        let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512"}"#);
        assert_eq!(
            check(&format!("{hs512}.{}.{}", parts[1], parts[2])),
            Err(TokenError::Algorithm)
        );
        for malformed in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            format!("{}..", parts[0]).as_str(),
        ] {
            assert!(check(malformed).is_err(), "{malformed:?}");
        }
        assert_eq!(
            check(&"x".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::Malformed)
        );
        // Claims of the wrong type, signed.
        let header = parts[0];
        let sign = |body: &str| {
            let body = URL_SAFE_NO_PAD.encode(body);
            let mut mac = secret(1).mac();
            mac.update(format!("{header}.{body}").as_bytes());
            let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            format!("{header}.{body}.{sig}")
        };
        assert_eq!(check(&sign(r#"{"exp":"soon"}"#)), Err(TokenError::Claims));
        assert_eq!(check(&sign(r#"{"sub":"web"}"#)), Err(TokenError::Claims));
        assert_eq!(
            check(&sign(r#"{"exp":1000060,"commands":"GET"}"#)),
            Err(TokenError::Claims)
        );
        assert_eq!(
            check(&sign(r#"{"exp":1000060,"nbf":1000030}"#)),
            Err(TokenError::NotYetValid)
        );
        assert!(check(&sign(r#"{"exp":1000060,"nbf":999999,"iat":999999}"#)).is_ok());
    }

    /// A token made the way the documented JavaScript helper makes one (`bridge/js/token.mjs`:
    /// Node's `crypto.createHmac("sha256", secret).update(body).digest("base64url")`), checked
    /// here byte for byte.
    #[test]
    fn a_token_minted_by_the_javascript_helper_verifies() {
        let s = Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
        // node -e 'import("./bridge/js/token.mjs").then(m => console.log(m.mintBridgeToken(
        //   "0123456789abcdef0123456789abcdef", { user: "web", prefix: "app:u1:", expires: 2000000000 })))'
        let from_js = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjIwMDAwMDAwMDAsInByZWZpeCI6ImFwcDp1MToiLCJzdWIiOiJ3ZWIifQ.YUZc8EQT3Q33LQ0IlqwaFV_jwDZx8Pijd09g11bLmYk";
        let grant = verify(
            std::slice::from_ref(&s),
            from_js.as_bytes(),
            1_999_999_999,
            TTL,
        )
        .unwrap();
        assert_eq!(
            grant,
            Grant::until(2_000_000_000).user("web").prefix("app:u1:")
        );
        assert_eq!(mint(&s, &grant), from_js, "the same bytes from Rust");

        // With channels: `{ user: "web", prefix: "app:u1:", subscribe: ["room:1:*"],
        //   publish: ["room:1:chat"], expires: 2000000000 }`.
        let from_js = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjIwMDAwMDAwMDAsInByZWZpeCI6ImFwcDp1MToiLCJwdWJsaXNoIjpbInJvb206MTpjaGF0Il0sInN1YiI6IndlYiIsInN1YnNjcmliZSI6WyJyb29tOjE6KiJdfQ.b2HdtdxxT38JLN_9yXOboeg3tXchUmLtAZ4AOSf48EY";
        let grant = verify(
            std::slice::from_ref(&s),
            from_js.as_bytes(),
            1_999_999_999,
            TTL,
        )
        .unwrap();
        assert_eq!(
            grant,
            Grant::until(2_000_000_000)
                .user("web")
                .prefix("app:u1:")
                .subscribe(["room:1:*"])
                .publish(["room:1:chat"])
        );
        assert_eq!(mint(&s, &grant), from_js, "the same bytes from Rust");
    }

    /// A channel rule with glob characters makes the whole token invalid: the bridge cannot
    /// check patterns against it exactly.
    #[test]
    fn a_token_with_a_glob_channel_rule_is_refused() {
        let s = Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
        let t = mint(&s, &Grant::until(2_000_000_000).subscribe(["room:?"]));
        assert_eq!(
            verify(&[s], t.as_bytes(), 1_999_999_999, TTL),
            Err(TokenError::Claims)
        );
    }
}

//! [`ChannelRules`]: which Pub/Sub channels a session may subscribe or publish to.
//!
//! Channels are not keys: a key prefix does not confine them, and Redis's own ACL channel rules
//! (`&pattern`) belong to the user a token maps to, shared by every page of that user. A page
//! that receives a chat room's messages must not be able to listen to every room, nor to
//! `__keyspace@0__:*` (every key name written). So a session may subscribe and publish only to
//! the channels its token names (claims `subscribe` and `publish`), or, for a token that names
//! none, the bridge's defaults (`--subscribe`, `--publish`): nothing unless configured.
//!
//! A rule is a channel name (`room:42`), or a prefix followed by one `*` (`room:42:*`, every
//! channel that starts with `room:42:`). Rules hold no other glob characters, so the checks are
//! exact without matching globs against globs:
//! - a channel (`SUBSCRIBE`, `SSUBSCRIBE`, `PUBLISH`, `SPUBLISH`) passes when it equals a rule or
//!   starts with a rule's prefix;
//! - a pattern (`PSUBSCRIBE`) passes when it equals a rule as written, or starts with a rule's
//!   prefix: every channel such a pattern matches then starts with that prefix too.

use std::fmt;

/// Why a channel rule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRuleError {
    /// The rule is empty.
    Empty,
    /// The rule has a glob character (`?`, `[`, `\`) or a `*` that is not its last character.
    Glob(String),
}

impl fmt::Display for ChannelRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty channel rule"),
            Self::Glob(rule) => write!(
                f,
                "channel rule '{rule}': a channel name, or a prefix followed by one '*' (no other glob characters)"
            ),
        }
    }
}

impl core::error::Error for ChannelRuleError {}

/// One rule: a channel, or every channel with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

/// The channels a session may subscribe or publish to; see the [module docs](self). The
/// default allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelRules(Vec<Rule>);

impl ChannelRules {
    /// The rules `rules` (`"room:42"`, `"room:42:*"`).
    pub fn new<S: AsRef<str>>(
        rules: impl IntoIterator<Item = S>,
    ) -> Result<Self, ChannelRuleError> {
        rules
            .into_iter()
            .map(|r| {
                let r = r.as_ref();
                let (body, star) = match r.strip_suffix('*') {
                    Some(body) => (body, true),
                    None => (r, false),
                };
                if r.is_empty() {
                    return Err(ChannelRuleError::Empty);
                }
                if body.contains(['*', '?', '[', '\\']) {
                    return Err(ChannelRuleError::Glob(r.into()));
                }
                let body = body.as_bytes().to_vec();
                Ok(if star {
                    Rule::Prefix(body)
                } else {
                    Rule::Exact(body)
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Adds the rules of `other`.
    pub fn extend(&mut self, other: ChannelRules) {
        self.0.extend(other.0);
    }

    /// Whether no channel is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the channel `name` is allowed.
    pub fn allows_channel(&self, name: &[u8]) -> bool {
        self.0.iter().any(|rule| match rule {
            Rule::Exact(c) => c == name,
            Rule::Prefix(p) => name.starts_with(p),
        })
    }

    /// Whether the pattern `pattern` (`PSUBSCRIBE`) matches only allowed channels.
    pub fn allows_pattern(&self, pattern: &[u8]) -> bool {
        self.0.iter().any(|rule| match rule {
            // A rule without `*` names one channel; a pattern equal to it, without glob
            // characters, matches only that channel.
            Rule::Exact(c) => c == pattern && !pattern.iter().any(|b| b"*?[\\".contains(b)),
            Rule::Prefix(p) => pattern.starts_with(p),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_patterns_pass_only_within_the_rules() {
        let r = ChannelRules::new(["news", "room:42:*"]).unwrap();
        for ok in ["news", "room:42:", "room:42:chat"] {
            assert!(r.allows_channel(ok.as_bytes()), "{ok}");
        }
        for no in ["new", "newsy", "room:4", "room:43:chat", ""] {
            assert!(!r.allows_channel(no.as_bytes()), "{no}");
        }
        for ok in ["room:42:*", "room:42:c?at", "room:42:[ab]*"] {
            assert!(r.allows_pattern(ok.as_bytes()), "{ok}");
        }
        for no in [
            "*",
            "room:*",
            "room:4*",
            "news*",
            "n?ws",
            "room:4[2]:x",
            "\\news",
        ] {
            assert!(!r.allows_pattern(no.as_bytes()), "{no}");
        }
        assert!(ChannelRules::default().is_empty());
        assert!(!ChannelRules::default().allows_channel(b"news"));
    }

    #[test]
    fn rules_with_other_glob_characters_are_refused() {
        for bad in ["a*b*", "a?", "[ab]", "a\\*", "**"] {
            assert!(
                matches!(ChannelRules::new([bad]), Err(ChannelRuleError::Glob(_))),
                "{bad}"
            );
        }
        assert_eq!(ChannelRules::new([""]), Err(ChannelRuleError::Empty));
        assert!(
            ChannelRules::new(["*"])
                .unwrap()
                .allows_channel(b"anything")
        );
    }
}

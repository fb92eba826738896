//! Why a command was not forwarded: the answer of the policy and of a session's confinement to
//! a key prefix, both. Public as `policy::Denial`; its own module so that `confine` (below the
//! policy, which holds a `Prefix`) names it without naming the policy.

/// Why a command was not forwarded; the client gets it as a `-NOPERM` error in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// The bridge's policy does not allow the command.
    Command(String),
    /// The session's token does not list the command.
    NotGranted(String),
    /// The command would make a value larger than [`Policy::max_value`](crate::policy::Policy::max_value).
    ValueLimit(String, usize),
    /// A word in a key position does not start with the session's prefix.
    OutsidePrefix(String),
    /// The command cannot be confined to a prefix (scripts, `RANDOMKEY`, ...).
    NotConfinable(String),
    /// The session's token does not allow this channel or pattern (the command, the name).
    Channel(String, String),
    /// A subscriber session sends only the subscription commands and `PING`.
    NotInSubscriber(String),
}

impl Denial {
    /// The RESP error sent in the command's place.
    pub fn to_resp(&self) -> Vec<u8> {
        let text = match self {
            Self::Command(c) => format!("this bridge does not allow the command '{c}'"),
            Self::NotGranted(c) => format!("this session's token does not grant '{c}'"),
            Self::ValueLimit(c, n) => {
                format!("'{c}' would make a value larger than the bridge's limit of {n} bytes")
            }
            Self::OutsidePrefix(c) => {
                format!("'{c}' names a key outside this session's key prefix")
            }
            Self::NotConfinable(c) => {
                format!("'{c}' is not available to a session confined to a key prefix")
            }
            Self::Channel(c, name) => {
                format!("this session's token does not allow '{c}' to channel '{name}'")
            }
            Self::NotInSubscriber(c) => format!(
                "'{c}' is not available to a subscriber session (subscriptions and PING only)"
            ),
        };
        format!("-NOPERM {text}\r\n").into_bytes()
    }
}

/// A channel name for an error message: printable, at most 64 characters, case kept.
pub(crate) fn shown_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .filter(|c| !c.is_control() && *c != '\'')
        .take(64)
        .collect()
}

/// A command name for an error message: printable, upper case, at most 64 characters.
pub(crate) fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .to_ascii_uppercase()
}

//! Lua scripts run by their SHA1 (`EVALSHA`), with the body kept for the `EVAL` fallback.

use core::fmt;

/// A Lua script and its SHA1, computed once.
///
/// Queue it with [`ScriptCommands::eval`](crate::cmd::ScriptCommands::eval): the pipeline sends
/// `EVALSHA`; when the server answers `NOSCRIPT`, the pipeline sends `EVAL` with the body (which
/// also caches the script on the server) and the handle gets that reply.
///
/// ```
/// use redpipe_core::Script;
/// let s = Script::new("return 1");
/// assert_eq!(s.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
/// ```
#[derive(Clone)]
pub struct Script<'a> {
    body: &'a str,
    sha1: [u8; 40],
}

impl<'a> Script<'a> {
    /// Hashes `body`.
    pub fn new(body: &'a str) -> Self {
        let digest = sha1_smol::Sha1::from(body).digest().bytes();
        let mut sha1 = [0u8; 40];
        for (pair, byte) in sha1.chunks_exact_mut(2).zip(digest) {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        Self { body, sha1 }
    }

    /// The Lua source.
    pub fn body(&self) -> &'a str {
        self.body
    }

    /// The lowercase hex SHA1 that `EVALSHA` names the script by.
    pub fn sha1(&self) -> &str {
        // Only ASCII hex digits are ever written.
        core::str::from_utf8(&self.sha1).unwrap_or_default()
    }

    pub(crate) fn sha1_bytes(&self) -> &[u8; 40] {
        &self.sha1
    }
}

impl fmt::Debug for Script<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Script({})", self.sha1())
    }
}

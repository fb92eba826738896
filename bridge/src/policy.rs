//! [`Policy`]: which commands a client may send through the bridge.
//!
//! The bridge is not an open proxy: a page's code runs on machines the operator does not
//! control. Redis's ACLs (the user a token maps to) decide which keys and commands a user may
//! touch; the policy is a second line that needs no ACL set-up and also covers what ACLs
//! cannot: commands that would change whose connection it is (`AUTH`, `HELLO ... AUTH`,
//! `RESET`) or the shape of the reply stream the bridge keeps aligned (`SUBSCRIBE`, `MONITOR`,
//! `CLIENT REPLY`).
//!
//! Rules name a command (`FLUSHALL`) or a command and its subcommand (`CLUSTER RESET`); the
//! most specific rule wins, an allow beats a deny at the same level.

use std::collections::HashSet;

/// Denied unless allowed: administration, replication, whole-keyspace scans and wipes, and the
/// commands that would take the connection away from its token's user or break the reply
/// stream's alignment.
pub const DEFAULT_DENY: &[&str] = &[
    // Wipe, stop or reconfigure the server.
    "FLUSHALL",
    "FLUSHDB",
    "SHUTDOWN",
    "DEBUG",
    "MODULE",
    "CONFIG",
    "ACL",
    "SAVE",
    "BGSAVE",
    "BGREWRITEAOF",
    "SWAPDB",
    "FAILOVER",
    "LATENCY",
    "SLOWLOG",
    "MEMORY",
    "LASTSAVE",
    "INFO",
    // Replication and data movement.
    "REPLICAOF",
    "SLAVEOF",
    "SYNC",
    "PSYNC",
    "REPLCONF",
    "MIGRATE",
    "CLUSTER",
    // Whole-keyspace walks that block the server.
    "KEYS",
    // Scripts and functions: killing or flushing them is administration.
    "SCRIPT KILL",
    "SCRIPT FLUSH",
    "FUNCTION KILL",
    "FUNCTION FLUSH",
    "FUNCTION DELETE",
    "FUNCTION RESTORE",
    "FUNCTION LOAD",
    // Other clients' connections, and this one's reply pattern.
    "CLIENT KILL",
    "CLIENT PAUSE",
    "CLIENT UNPAUSE",
    "CLIENT NO-EVICT",
    "CLIENT NO-TOUCH",
    "CLIENT REPLY",
    "CLIENT TRACKING",
    "MONITOR",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    // Whose connection it is: the token decides, not the client.
    "AUTH",
    "HELLO AUTH",
    "RESET",
];

/// Allowed by default although their command is denied: read-only cluster questions.
pub const DEFAULT_ALLOW: &[&str] = &[
    "CLUSTER INFO",
    "CLUSTER NODES",
    "CLUSTER SLOTS",
    "CLUSTER SHARDS",
    "CLUSTER KEYSLOT",
    "CLUSTER COUNTKEYSINSLOT",
    "CLUSTER MYID",
];

/// Commands whose subcommand is the second word, for rules of two words.
const CONTAINERS: &[&str] = &[
    "ACL", "CLIENT", "CLUSTER", "CONFIG", "DEBUG", "FUNCTION", "MEMORY", "MODULE", "OBJECT",
    "SCRIPT", "XINFO", "XGROUP", "COMMAND", "LATENCY", "SLOWLOG", "PUBSUB",
];

/// The command policy; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    allow: HashSet<String>,
    deny: HashSet<String>,
    /// Deny everything that no allow rule names.
    allow_only: bool,
}

impl Default for Policy {
    /// [`DEFAULT_DENY`] and [`DEFAULT_ALLOW`].
    fn default() -> Self {
        Self {
            allow: DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect(),
            deny: DEFAULT_DENY.iter().map(|s| s.to_string()).collect(),
            allow_only: false,
        }
    }
}

/// A rule as written (`"client  kill"`) in its canonical form (`"CLIENT KILL"`).
fn canonical(rule: &str) -> String {
    rule.split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Policy {
    /// Allows `rule` (`"KEYS"`, `"CLIENT KILL"`), overriding a deny rule of the same words.
    pub fn allow(&mut self, rule: &str) -> &mut Self {
        let rule = canonical(rule);
        self.deny.remove(&rule);
        self.allow.insert(rule);
        self
    }

    /// Denies `rule`, overriding an allow rule of the same words.
    pub fn deny(&mut self, rule: &str) -> &mut Self {
        let rule = canonical(rule);
        self.allow.remove(&rule);
        self.deny.insert(rule);
        self
    }

    /// Denies every command that no allow rule names (then only `allow` rules let anything
    /// through; the default allow rules are dropped).
    pub fn allow_only(&mut self) -> &mut Self {
        self.allow_only = true;
        self.allow.clear();
        self
    }

    /// Whether the command whose words are `words` (name first) may pass.
    pub fn permits(&self, words: &[&[u8]]) -> bool {
        let Some(name) = words.first() else {
            return false;
        };
        let name = String::from_utf8_lossy(name).to_ascii_uppercase();
        // `HELLO 3 AUTH user pass` switches users: judged as the rule "HELLO AUTH".
        if name == "HELLO" && words[1..].iter().any(|w| w.eq_ignore_ascii_case(b"AUTH")) {
            return self.decide(&[format!("{name} AUTH"), name]);
        }
        if CONTAINERS.contains(&name.as_str()) {
            if let Some(sub) = words.get(1) {
                let sub = String::from_utf8_lossy(sub).to_ascii_uppercase();
                return self.decide(&[format!("{name} {sub}"), name]);
            }
        }
        self.decide(&[name])
    }

    /// The first rule (most specific first) that names one of `keys` decides.
    fn decide(&self, keys: &[String]) -> bool {
        for key in keys {
            if self.allow.contains(key) {
                return true;
            }
            if self.deny.contains(key) {
                return false;
            }
        }
        !self.allow_only
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &Policy, command: &str) -> bool {
        let words: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
        p.permits(&words)
    }

    #[test]
    fn defaults() {
        let p = Policy::default();
        for allowed in [
            "GET k",
            "set k v",
            "HELLO 3",
            "CLUSTER INFO",
            "cluster slots",
            "SCRIPT LOAD x",
            "CLIENT SETNAME a",
            "EVAL s 0",
        ] {
            assert!(ok(&p, allowed), "{allowed}");
        }
        for denied in [
            "FLUSHALL",
            "flushdb",
            "CONFIG GET *",
            "CLUSTER RESET",
            "CLUSTER FORGET x",
            "SCRIPT KILL",
            "KEYS *",
            "AUTH user pass",
            "HELLO 3 AUTH user pass",
            "hello 3 auth u p",
            "MONITOR",
            "SUBSCRIBE c",
            "CLIENT KILL ID 3",
            "CLIENT REPLY OFF",
            "RESET",
            "ACL WHOAMI",
        ] {
            assert!(!ok(&p, denied), "{denied}");
        }
    }

    #[test]
    fn configured_rules() {
        let mut p = Policy::default();
        p.allow("keys")
            .allow("client  kill")
            .deny("GET")
            .deny("cluster info");
        assert!(ok(&p, "KEYS *"));
        assert!(ok(&p, "CLIENT KILL ID 7"));
        assert!(!ok(&p, "CLIENT PAUSE 10"));
        assert!(!ok(&p, "GET k"));
        assert!(!ok(&p, "CLUSTER INFO"));

        let mut only = Policy::default();
        only.allow_only().allow("GET").allow("SET");
        assert!(ok(&only, "GET k") && ok(&only, "SET k v"));
        assert!(!ok(&only, "INCR k") && !ok(&only, "FLUSHALL"));
        assert!(!only.permits(&[]));
    }
}

//! A coordinated failover, as an operator makes one: `CLUSTER FAILOVER` sent to a replica,
//! which takes over its primary's slots with the primary's agreement (no write is lost: the
//! primary holds its clients until the replica has caught up).

use super::*;

impl RedisCluster {
    /// Makes a replica of `primary` take over its slots (`CLUSTER FAILOVER` on that replica)
    /// and waits until the cluster has settled on the new roles: every node that answers
    /// reports `cluster_state:ok`, all agree that the replica owns the slots (so every node has
    /// seen the new epoch) and `primary` has become its replica. Returns the new primary's port.
    pub fn failover(&mut self, primary: u16) -> u16 {
        self.remember_replicas();
        let replica = self
            .replicas_of
            .get(&primary)
            .and_then(|r| r.first().copied())
            .unwrap_or_else(|| panic!("{primary} has no replica to fail over to"));
        self.ok(replica, &["CLUSTER", "FAILOVER"]);
        self.wait_until(
            &format!("replica {replica} to take over from {primary}"),
            Instant::now() + PATIENCE,
            |c| {
                let view = c.settled()?;
                let new = view.iter().find(|n| n.port == replica);
                let old = view.iter().find(|n| n.port == primary);
                match (new, old) {
                    (Some(n), Some(o)) if n.primary && !n.slots.is_empty() && !o.primary => Ok(()),
                    _ => Err(format!("{replica} has not taken over from {primary} yet")),
                }
            },
        );
        self.remember_replicas();
        replica
    }
}

//! Limits one client cannot exhaust for everyone else: connections per address ([`Gate`]),
//! failed logins per address (the gate's throttle), and a memory budget shared by all sessions
//! ([`Budget`]). Session slots themselves are a semaphore taken only after login (see
//! `session`), so connections that never log in cannot take them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Entries kept before the gate forgets addresses with nothing to remember.
const PRUNE_AT: usize = 4096;

/// One address's connections and failed logins.
#[derive(Debug)]
struct PerIp {
    connections: usize,
    /// Failed logins not yet forgiven: each adds one, and they drain at the configured rate.
    failures: f64,
    /// When `failures` was last drained.
    at: Instant,
}

impl PerIp {
    /// Drains `failures` to `now` at `per_second`.
    fn drain(&mut self, now: Instant, per_second: f64) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.failures = (self.failures - elapsed * per_second).max(0.0);
        self.at = now;
    }

    fn is_idle(&self) -> bool {
        self.connections == 0 && self.failures <= 0.0
    }
}

/// Connections and failed logins per client address.
#[derive(Debug)]
pub struct Gate {
    ips: Mutex<HashMap<IpAddr, PerIp>>,
    max_per_ip: usize,
    /// Failed logins an address may make in a burst; they are forgiven at this many a minute.
    failures_per_minute: u32,
}

/// One admitted connection; its address's count goes down when it is dropped.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut ips = self.gate.lock();
        if let Some(e) = ips.get_mut(&self.ip) {
            e.connections = e.connections.saturating_sub(1);
            e.drain(Instant::now(), self.gate.per_second());
            if e.is_idle() {
                ips.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    /// At most `max_per_ip` connections per address (0: no limit), and `failures_per_minute`
    /// failed logins per address before its logins are refused (0: no limit).
    pub fn new(max_per_ip: usize, failures_per_minute: u32) -> Arc<Self> {
        Arc::new(Self {
            ips: Mutex::new(HashMap::new()),
            max_per_ip,
            failures_per_minute,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, PerIp>> {
        // The map stays consistent whatever panicked while it was held.
        self.ips.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn per_second(&self) -> f64 {
        f64::from(self.failures_per_minute) / 60.0
    }

    /// A ticket for one more connection from `ip`, or `None` when it has its share.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Ticket> {
        let now = Instant::now();
        let mut ips = self.lock();
        if ips.len() >= PRUNE_AT && !ips.contains_key(&ip) {
            let per_second = self.per_second();
            ips.retain(|_, e| {
                e.drain(now, per_second);
                !e.is_idle()
            });
        }
        let e = ips.entry(ip).or_insert(PerIp {
            connections: 0,
            failures: 0.0,
            at: now,
        });
        if self.max_per_ip > 0 && e.connections >= self.max_per_ip {
            return None;
        }
        e.connections += 1;
        drop(ips);
        Some(Ticket {
            gate: self.clone(),
            ip,
        })
    }

    /// Whether logins from `ip` are refused for now: it failed too often.
    pub fn throttled(&self, ip: IpAddr, now: Instant) -> bool {
        if self.failures_per_minute == 0 {
            return false;
        }
        let per_second = self.per_second();
        let mut ips = self.lock();
        ips.get_mut(&ip).is_some_and(|e| {
            e.drain(now, per_second);
            e.failures >= f64::from(self.failures_per_minute)
        })
    }

    /// Records a failed login from `ip` (a refused one counts too: an address that keeps
    /// trying stays throttled, for at most two minutes after it stops).
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let per_second = self.per_second();
        let most = 2.0 * f64::from(self.failures_per_minute);
        let mut ips = self.lock();
        let e = ips.entry(ip).or_insert(PerIp {
            connections: 0,
            failures: 0.0,
            at: now,
        });
        e.drain(now, per_second);
        e.failures = (e.failures + 1.0).min(most.max(1.0));
    }

    /// Addresses remembered (for tests and logs).
    pub fn addresses(&self) -> usize {
        self.lock().len()
    }
}

/// Bytes that all sessions together may hold in their relays (unfinished commands, held
/// replies, output not yet written).
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            max,
        }
    }

    /// Moves a session's share from `*held` to `now` bytes. Growing past the budget fails and
    /// leaves the share as it was: the session must give its bytes up (it is closed).
    pub fn update(&self, held: &mut usize, now: usize) -> bool {
        if now <= *held {
            self.used.fetch_sub(*held - now, Ordering::AcqRel);
            *held = now;
            return true;
        }
        let more = now - *held;
        let grown = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|&total| total <= self.max)
            });
        if grown.is_ok() {
            *held = now;
        }
        grown.is_ok()
    }

    /// Bytes held by all sessions.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn connections_per_address() {
        let gate = Gate::new(2, 10);
        let a1 = gate.admit(ip(1)).expect("first");
        let _a2 = gate.admit(ip(1)).expect("second");
        assert!(gate.admit(ip(1)).is_none(), "a third from the same address");
        let _b = gate.admit(ip(2)).expect("another address");
        drop(a1);
        let _a3 = gate.admit(ip(1)).expect("a place freed");
        let unlimited = Gate::new(0, 0);
        let many: Vec<_> = (0..100).filter_map(|_| unlimited.admit(ip(1))).collect();
        assert_eq!(many.len(), 100);
        drop(many);
        assert_eq!(unlimited.addresses(), 0, "forgotten once idle");
    }

    #[test]
    fn failed_logins_are_throttled_then_forgiven() {
        let gate = Gate::new(0, 6); // one forgiven every 10 s
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(!gate.throttled(ip(1), t0));
            gate.failed(ip(1), t0);
        }
        assert!(gate.throttled(ip(1), t0));
        assert!(!gate.throttled(ip(2), t0), "per address");
        // One failure is forgiven every 10 s: a try now and then, not a burst.
        let at = |s| t0 + Duration::from_secs(s);
        assert!(!gate.throttled(ip(1), at(5)));
        gate.failed(ip(1), at(5));
        assert!(gate.throttled(ip(1), at(5)));
        assert!(gate.throttled(ip(1), at(9)));
        assert!(!gate.throttled(ip(1), at(11)));
        // Hammering while throttled keeps it throttled, up to twice the burst.
        for _ in 0..100 {
            gate.failed(ip(1), at(11));
        }
        assert!(gate.throttled(ip(1), at(11 + 60)));
        assert!(!gate.throttled(ip(1), at(11 + 61)));
        assert!(!Gate::new(0, 0).throttled(ip(1), t0));
    }

    #[test]
    fn the_budget_is_shared() {
        let budget = Budget::new(100);
        let (mut a, mut b) = (0, 0);
        assert!(budget.update(&mut a, 60));
        assert!(!budget.update(&mut b, 50), "60 + 50 > 100");
        assert_eq!((b, budget.used()), (0, 60));
        assert!(budget.update(&mut b, 40));
        assert!(budget.update(&mut a, 10));
        assert!(budget.update(&mut b, 90));
        assert!(budget.update(&mut a, 0) && budget.update(&mut b, 0));
        assert_eq!(budget.used(), 0);
    }
}

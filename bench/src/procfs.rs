//! What Linux's `/proc` says about CPU time and memory: where each figure's time goes.

use std::fs;

/// Nanoseconds on CPU of every thread of process `pid` (`self` for this one), from each
/// thread's `schedstat` (its first field: time spent running, in ns). `None` off Linux or when
/// the process is not visible (a remote server).
pub(crate) fn cpu_ns(pid: &str) -> Option<u64> {
    let mut total = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between the listing and the read: it then counts as nothing.
        if let Ok(s) = fs::read_to_string(path) {
            total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// A field of `/proc/self/status` in KiB (`VmHWM`: the peak resident set size).
pub(crate) fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The CPU time of a `redis-server` on this machine, found by the `process_id` in its `INFO`.
pub(crate) struct ServerCpu {
    pid: Option<String>,
}

impl ServerCpu {
    pub(crate) fn new(pid: Option<u32>) -> Self {
        let pid = pid.map(|p| p.to_string());
        // Only a server whose threads we can see (the same machine, the same PID namespace);
        // a PID from a remote server's INFO may name an unrelated local process.
        let pid = pid.filter(|p| {
            fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|comm| comm.starts_with("redis-server"))
                && cpu_ns(p).is_some()
        });
        Self { pid }
    }

    pub(crate) fn ns(&self) -> Option<u64> {
        cpu_ns(self.pid.as_deref()?)
    }

    pub(crate) fn visible(&self) -> bool {
        self.pid.is_some()
    }

    pub(crate) fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }
}

/// Pins every thread of process `pid` to `cpu` (with `taskset`, as threads started later
/// inherit it); false when that is not possible.
pub(crate) fn pin(pid: &str, cpu: usize) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), pid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Busy and total jiffies of all CPUs, from the first line of `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Waits until the machine is quiet: all CPUs together less than `busy` (a fraction of one
/// CPU) busy over a quarter of a second, this process being idle meanwhile; at most `max`.
/// Returns how long it waited. Other jobs on a shared machine (builds, CI runs) otherwise
/// land in the middle of a measurement.
pub(crate) fn wait_quiet(busy: f64, max: std::time::Duration) -> std::time::Duration {
    let start = std::time::Instant::now();
    let hz = 100.0; // USER_HZ: jiffies per second on Linux
    loop {
        let Some((b0, _)) = cpu_jiffies() else {
            return start.elapsed();
        };
        std::thread::sleep(std::time::Duration::from_millis(250));
        let Some((b1, _)) = cpu_jiffies() else {
            return start.elapsed();
        };
        let used = (b1 - b0) as f64 / hz / 0.25;
        if used < busy || start.elapsed() >= max {
            return start.elapsed();
        }
    }
}

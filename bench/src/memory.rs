//! Figures (c) and (d): heap allocations per command once warm, and the peak memory of a
//! million-command pipeline (measured in a child process, so that nothing else this benchmark
//! did raises the peak).

use std::hint::black_box;
use std::process::Command as Process;
use std::time::Instant;

use redpipe::core::VecPipeline;
use redpipe::prelude::*;
use redpipe::{Connection, ConnectionInfo};
use tokio::runtime::Runtime;

use crate::Result;
use crate::clients::{Client, Command, VALUE_100};
use crate::procfs;

/// Commands in the peak-memory pipeline.
pub(crate) const PEAK_COMMANDS: usize = 1_000_000;

/// Allocator calls (allocations + reallocations) per command of a warm client: one run of
/// `batches` × `batch` to warm up, then the same run counted. `None` when built without the
/// counting allocator.
pub(crate) fn allocs_per_command(
    client: &mut dyn Client,
    rt: &Runtime,
    c: Command,
    batch: usize,
    batches: usize,
) -> Result<Option<f64>> {
    black_box(client.run(rt, c, batch, batches)?);
    #[cfg(feature = "count-allocs")]
    {
        let region = stats_alloc::Region::new(crate::GLOBAL);
        black_box(client.run(rt, c, batch, batches)?);
        let s = region.change();
        let calls = (s.allocations + s.reallocations) as f64;
        Ok(Some(calls / (batch * batches) as f64))
    }
    #[cfg(not(feature = "count-allocs"))]
    {
        Ok(None)
    }
}

/// What a peak-memory child reports.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peak {
    /// `VmHWM` once connected, before the pipeline (KiB).
    pub(crate) base_kib: u64,
    /// `VmHWM` after the pipeline ran and every result was read (KiB).
    pub(crate) peak_kib: u64,
    /// Wall time of queueing, running and reading, in seconds.
    pub(crate) seconds: f64,
}

impl Peak {
    /// Peak growth per command, in bytes.
    pub(crate) fn bytes_per_command(&self) -> f64 {
        (self.peak_kib.saturating_sub(self.base_kib) * 1024) as f64 / PEAK_COMMANDS as f64
    }
}

/// Which client the child runs.
pub(crate) const PEAK_CLIENTS: [(&str, &str); 8] = [
    (
        "redpipe",
        "INCR: redpipe, Connection::execute of one VecPipeline (window 10 000), handles kept",
    ),
    (
        "redis-rs",
        "INCR: redis-rs, one redis::pipe() query::<Vec<i64>> on a sync Connection",
    ),
    (
        "redpipe-set100",
        "SET 100 B: redpipe, one VecPipeline, handles kept",
    ),
    (
        "pipe-set100",
        "SET 100 B: redpipe Pipe (autoexec), handles kept",
    ),
    (
        "redis-rs-set100",
        "SET 100 B: redis-rs, one redis::pipe() query::<()>",
    ),
    (
        "redpipe-get100",
        "GET 100 B: redpipe, one VecPipeline, values read as &[u8]",
    ),
    (
        "pipe-get100",
        "GET 100 B: redpipe Pipe (autoexec), values read as &[u8]",
    ),
    (
        "redis-rs-get100",
        "GET 100 B: redis-rs, one redis::pipe() query::<Vec<Option<Vec<u8>>>>",
    ),
];

/// Keys of the 100-byte workloads: `key:%012d` over 10 000, as figure (f).
fn key_of(i: usize) -> String {
    format!("key:{:012}", i % crate::work::KEYS)
}

/// Parent side: re-runs this binary with the hidden `--peak-1m <client>` mode and reads its
/// report.
pub(crate) fn measure_peak(url: &str, client: &str) -> Result<Peak> {
    let exe = std::env::current_exe()?;
    let out = Process::new(exe)
        .args(["--url", url, "--peak-1m", client])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "the --peak-1m {client} child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<&str> {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let parse = || -> Option<Peak> {
        Some(Peak {
            base_kib: field("base_kib")?.parse().ok()?,
            peak_kib: field("peak_kib")?.parse().ok()?,
            seconds: field("seconds")?.parse().ok()?,
        })
    };
    parse().ok_or_else(|| format!("unreadable --peak-1m report: {stdout}").into())
}

/// Child side: one pipeline of a million `INCR`s, every result read; prints its report.
pub(crate) fn run_peak_child(url: &str, client: &str) -> Result<()> {
    let key = black_box(Command::Incr.key());
    let (base_kib, sum, seconds) = match client {
        "redpipe" => {
            let info: ConnectionInfo = url.parse()?;
            let mut conn = Connection::open(&info)?;
            let mut p = VecPipeline::new();
            let base = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
            let t = Instant::now();
            let handles = (0..PEAK_COMMANDS)
                .map(|_| p.incr(key))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            conn.execute(&mut p)?;
            let mut sum = 0u64;
            for h in &handles {
                sum = sum.wrapping_add(h.read(&p).map_err(|e| e.to_string())? as u64);
            }
            (base, sum, t.elapsed().as_secs_f64())
        }
        "redis-rs" => {
            let mut con = redis::Client::open(url)?.get_connection()?;
            let base = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
            let t = Instant::now();
            let mut pipe = redis::pipe();
            for _ in 0..PEAK_COMMANDS {
                pipe.cmd("INCR").arg(key);
            }
            let values: Vec<i64> = pipe.query(&mut con)?;
            let sum = values.iter().fold(0u64, |s, &n| s.wrapping_add(n as u64));
            (base, sum, t.elapsed().as_secs_f64())
        }
        "redpipe-set100" | "redpipe-get100" => {
            let get = client.ends_with("get100");
            let keys: Vec<String> = (0..PEAK_COMMANDS).map(key_of).collect();
            let info: ConnectionInfo = url.parse()?;
            let mut conn = Connection::open(&info)?;
            let mut p = VecPipeline::new();
            let base = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
            let t = Instant::now();
            let mut sum = 0u64;
            if get {
                let handles = keys
                    .iter()
                    .map(|k| p.get::<Option<&[u8]>>(k))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                conn.execute(&mut p)?;
                for h in &handles {
                    let v = h.read(&p).map_err(|e| e.to_string())?;
                    sum += v.map_or(0, <[u8]>::len) as u64;
                }
            } else {
                let handles = keys
                    .iter()
                    .map(|k| p.set(k, &VALUE_100[..]))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                conn.execute(&mut p)?;
                for h in &handles {
                    h.read(&p).map_err(|e| e.to_string())?;
                    sum += 1;
                }
            }
            (base, sum, t.elapsed().as_secs_f64())
        }
        "pipe-set100" | "pipe-get100" => {
            let get = client.ends_with("get100");
            let keys: Vec<String> = (0..PEAK_COMMANDS).map(key_of).collect();
            let registry = redpipe::Connections::new();
            registry.connect(url)?;
            // Connected before the baseline, as the others are.
            registry.autoexec(None, |p| Ok(p.ping()))?.result()?;
            let base = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
            let t = Instant::now();
            let mut sum = 0u64;
            if get {
                let handles = registry.autoexec(None, |p| {
                    Ok(keys
                        .iter()
                        .map(|k| p.get(k).cast::<Option<&[u8]>>())
                        .collect::<Vec<_>>())
                })?;
                for h in &handles {
                    sum += h.result()?.map_or(0, <[u8]>::len) as u64;
                }
            } else {
                let handles = registry.autoexec(None, |p| {
                    Ok(keys
                        .iter()
                        .map(|k| p.set(k, &VALUE_100[..]))
                        .collect::<Vec<_>>())
                })?;
                for h in &handles {
                    h.result()?;
                    sum += 1;
                }
            }
            (base, sum, t.elapsed().as_secs_f64())
        }
        "redis-rs-set100" | "redis-rs-get100" => {
            let get = client.ends_with("get100");
            let keys: Vec<String> = (0..PEAK_COMMANDS).map(key_of).collect();
            let mut con = redis::Client::open(url)?.get_connection()?;
            let base = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
            let t = Instant::now();
            let mut pipe = redis::pipe();
            let sum = if get {
                for k in &keys {
                    pipe.cmd("GET").arg(k);
                }
                let values: Vec<Option<Vec<u8>>> = pipe.query(&mut con)?;
                values
                    .iter()
                    .map(|v| v.as_ref().map_or(0, Vec::len) as u64)
                    .sum()
            } else {
                for k in &keys {
                    pipe.cmd("SET").arg(k).arg(&VALUE_100[..]);
                }
                pipe.query::<()>(&mut con)?;
                keys.len() as u64
            };
            (base, sum, t.elapsed().as_secs_f64())
        }
        other => return Err(format!("unknown --peak-1m client {other:?}").into()),
    };
    let peak_kib = procfs::status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    println!(
        "base_kib={base_kib} peak_kib={peak_kib} seconds={seconds:.3} checksum={}",
        black_box(sum)
    );
    Ok(())
}

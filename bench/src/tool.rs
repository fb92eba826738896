//! `redis-benchmark`, the ceiling: one client (`-c 1`), the same batch (`-P`), run as a
//! subprocess, one test per invocation so that the server's CPU time can be told apart.

use std::process::Command as Process;

use crate::Result;
use crate::clients::Command;

/// Where `redis-benchmark` connects.
pub(crate) struct Tool {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl Tool {
    /// `redis-benchmark -c 1 -P <batch> -n <ops> -t <test> -d <size> --csv`: its ops/s.
    pub(crate) fn run(&self, c: Command, batch: usize, ops: usize) -> Result<f64> {
        let (test, size) = c.tool_args();
        let out = Process::new("redis-benchmark")
            .args(["-h", &self.host, "-p", &self.port.to_string(), "-c", "1"])
            .args(["-P", &batch.to_string(), "-n", &ops.to_string()])
            .args(["-t", test, "-d", &size.to_string(), "--csv"])
            .output()
            .map_err(|e| format!("cannot run redis-benchmark: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-benchmark failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        parse_csv(&String::from_utf8_lossy(&out.stdout), c.name())
            .ok_or_else(|| format!("no {} line in redis-benchmark's output", c.name()).into())
    }
}

/// The `rps` of test `name` in `--csv` output:
/// `"test","rps","avg_latency_ms",...` then `"SET","812743.12","0.123",...`.
fn parse_csv(csv: &str, name: &str) -> Option<f64> {
    csv.lines().find_map(|line| {
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        (fields.next()? == name).then_some(())?;
        fields.next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn reads_the_rps_of_the_named_test() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\"\n\
                   \"SET\",\"812743.12\",\"0.123\",\"0.050\"\n\
                   \"GET\",\"900000.00\",\"0.100\",\"0.040\"\n";
        assert_eq!(parse_csv(csv, "GET"), Some(900_000.0));
        assert_eq!(parse_csv(csv, "SET"), Some(812_743.12));
        assert_eq!(parse_csv(csv, "INCR"), None);
    }
}

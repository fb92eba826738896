//! Figure (a): ops/s on one connection, batches of 1 to 1000 of one command, every client beside
//! `redis-benchmark`; and the CPU time per command of the client and of the server.

use std::collections::HashMap;

use crate::clients::{self, Client, Command};
use crate::report::{self, Samples, Table};
use crate::{Bench, Cell, Result};

/// Commands per pipeline in figure (a).
const BATCHES: [usize; 4] = [1, 16, 256, 1000];

/// The contenders of figure (a), in table order; index 0 is `redis-benchmark`.
const CONTENDERS: [&str; 5] = [
    "redis-benchmark",
    "redpipe",
    "redpipe tokio",
    "redis-rs",
    "redis-rs async",
];

impl Bench {
    /// Figure (a).
    pub(crate) fn throughput(&mut self) -> Result<Vec<Table>> {
        let mut clients: Vec<Box<dyn Client>> = vec![
            Box::new(clients::RedpipeBlocking::open(&self.info)?),
            Box::new(clients::RedpipeTokio::open(&self.rt, &self.info)?),
            Box::new(clients::RedisSync::open(&self.url)?),
            Box::new(clients::RedisAsync::open(&self.rt, &self.url)?),
        ];
        let mut cells: HashMap<(Command, usize, usize), Cell> = HashMap::new();
        for rep in 0..self.plan.reps {
            for &batch in &BATCHES {
                for c in Command::ALL {
                    self.plan.settle();
                    let ops = self.plan.ops(batch);
                    let mut line = format!(
                        "(a) rep {}/{} {} ×{batch}:",
                        rep + 1,
                        self.plan.reps,
                        c.label()
                    );
                    // Rotate who goes first, so that no contender always follows the same one.
                    for k in 0..CONTENDERS.len() {
                        let who = (k + rep + batch) % CONTENDERS.len();
                        let sample = match who {
                            0 => self.measure_tool(c, batch, ops)?,
                            i => self.measure(clients[i - 1].as_mut(), c, batch, ops)?,
                        };
                        line.push_str(&format!(
                            " {} {}",
                            CONTENDERS[who],
                            report::rate(sample.rate)
                        ));
                        cells.entry((c, batch, who)).or_default().add(sample);
                    }
                    eprintln!("{line}");
                }
            }
        }
        Ok(self.throughput_tables(&cells))
    }

    fn throughput_tables(&self, cells: &HashMap<(Command, usize, usize), Cell>) -> Vec<Table> {
        let empty = Cell::default();
        let get = |c, b, who| cells.get(&(c, b, who)).unwrap_or(&empty);
        let mut header = vec!["command", "batch"];
        header.extend(CONTENDERS);
        header.extend([
            "redpipe / redis-benchmark",
            "redpipe / redis-rs",
            "redpipe tokio / redis-rs async",
            "redis-benchmark / redis-rs",
        ]);
        let mut rates = Table::new(
            format!(
                "(a) End to end, one connection: ops/s, median {}",
                self.spread()
            ),
            &header,
            2,
        );
        let mut cpu_header = vec!["command", "batch"];
        cpu_header.extend(CONTENDERS);
        let mut cpu = Table::new(
            "(a') CPU per command, ns, median: client / server (server busy, % of one core)",
            &cpu_header,
            2,
        );
        // Worst cases for the targets.
        let mut ceiling: Option<(f64, String)> = None;
        let mut sync: Option<(f64, String)> = None;
        let mut not_sync: Option<(f64, String)> = None;
        let worst = |slot: &mut Option<(f64, String)>, v: f64, at: String| {
            if slot.as_ref().is_none_or(|(w, _)| v < *w) {
                *slot = Some((v, at));
            }
        };
        for c in Command::ALL {
            for &batch in &BATCHES {
                let mut row = vec![c.label().to_string(), batch.to_string()];
                let mut cpu_row = row.clone();
                for who in 0..CONTENDERS.len() {
                    let cell = get(c, batch, who);
                    row.push(cell.rate.show(report::rate));
                    let client = if cell.client_ns.is_empty() {
                        "–".to_string()
                    } else {
                        report::ns(cell.client_ns.median())
                    };
                    let busy = cell.server_ns.median() * cell.rate.median() / 1e9;
                    cpu_row.push(if cell.server_ns.is_empty() {
                        client
                    } else {
                        format!(
                            "{client} / {} ({:.0}%)",
                            report::ns(cell.server_ns.median()),
                            busy * 100.0
                        )
                    });
                }
                let vs_tool = Samples::ratio(&get(c, batch, 1).rate, &get(c, batch, 0).rate);
                let vs_sync = Samples::ratio(&get(c, batch, 1).rate, &get(c, batch, 3).rate);
                let vs_async = Samples::ratio(&get(c, batch, 2).rate, &get(c, batch, 4).rate);
                let at = format!("{} ×{batch}", c.label());
                if batch >= 256 {
                    worst(&mut ceiling, vs_tool.median(), at.clone());
                }
                if batch >= 16 {
                    worst(&mut sync, vs_sync.median(), at.clone());
                    worst(&mut not_sync, vs_async.median(), at);
                }
                row.push(vs_tool.show(report::ratio));
                row.push(vs_sync.show(report::ratio));
                row.push(vs_async.show(report::ratio));
                // The most any client could gain over redis-rs here.
                row.push(
                    Samples::ratio(&get(c, batch, 0).rate, &get(c, batch, 3).rate)
                        .show(report::ratio),
                );
                rates.rows.push(row);
                cpu.rows.push(cpu_row);
            }
        }
        let verdict = |slot: &Option<(f64, String)>, target: f64| match slot {
            Some((v, at)) if *v >= target => format!("met (lowest {v:.2}, {at})"),
            Some((v, at)) => format!(
                "MISSED: lowest {v:.2} at {at}, {:.0}% short",
                (1.0 - v / target) * 100.0
            ),
            None => "not measured".into(),
        };
        rates.notes.push(format!(
            "target redpipe >= 0.95 x redis-benchmark at batch >= 256: {}",
            verdict(&ceiling, 0.95)
        ));
        rates.notes.push(format!(
            "target redpipe >= 1.3 x redis-rs at batch >= 16, sync: {}",
            verdict(&sync, 1.3)
        ));
        rates.notes.push(format!(
            "target redpipe >= 1.3 x redis-rs at batch >= 16, async: {}",
            verdict(&not_sync, 1.3)
        ));
        if !self.server.visible() {
            cpu.notes
                .push("the server's CPU time is not visible from here (not local)".into());
        }
        cpu.notes.push(
            "client: this process, every thread; redis-benchmark's own CPU time is not measured"
                .into(),
        );
        vec![rates, cpu]
    }
}

//! The tables of figure (g): requests per second and connections (tasks, threads), then the
//! ratios beside the targets.

use super::{Cell, Results, Shape, Who};
use crate::report::{self, Samples, Table};

/// Connections used, as `n` or `min–max` over the repetitions; then, if it opened any while
/// timed (a pool closing and reopening them), the median number opened per second.
fn conns(c: &Cell) -> String {
    let s = &c.conns;
    let mut out = if s.is_empty() {
        "–".into()
    } else if s.min() == s.max() {
        format!("{:.0}", s.min())
    } else {
        format!("{:.0}–{:.0}", s.min(), s.max())
    };
    if c.opened.max() > 0.0 {
        out.push_str(&format!(", {}/s opened", report::rate(c.opened.median())));
    }
    out
}

/// A target on a ratio: at least `goal` on every shape it applies to.
struct Target {
    name: &'static str,
    goal: f64,
    /// (numerator, denominator)
    pair: (Who, Who),
    applies: fn(Shape) -> bool,
    /// The shapes it applies to, in words.
    at: &'static str,
    /// Lowest median ratio seen, and where.
    lowest: Option<(f64, String)>,
}

impl Target {
    fn verdict(v: f64, goal: f64) -> &'static str {
        if v >= goal { "met" } else { "not met" }
    }
}

/// The tables of figure (g): rates and connections (tasks, threads), then ratios and targets.
pub(crate) fn tables(results: &Results) -> Vec<Table> {
    let spread = if results.reps > 1 {
        format!("(min–max) of {} runs", results.reps)
    } else {
        "(one run, --quick)".into()
    };
    let empty = Cell::default();
    let cell = |shape, who| results.cells.get(&(shape, who)).unwrap_or(&empty);
    let rate_table = |title: String, who: &[Who], shapes: &[Shape]| {
        let mut header = vec!["shape"];
        for w in who {
            header.extend([w.label(), "conns"]);
        }
        let mut t = Table::new(title, &header, 1);
        for &shape in shapes {
            let mut row = vec![shape.label()];
            for &w in who {
                let c = cell(shape, w);
                row.push(c.rate.show(report::rate));
                row.push(conns(c));
            }
            t.rows.push(row);
        }
        t
    };
    let (tasks, threads): (Vec<Shape>, Vec<Shape>) = Shape::ALL
        .iter()
        .partition(|s| matches!(s, Shape::Tasks { .. }));
    let mut async_table = rate_table(
        format!(
            "(g) Many tasks, one service: requests/s, median {spread}; server connections used"
        ),
        &Who::TASKS,
        &tasks,
    );
    async_table.notes.push(
        "a request = HGETALL user:N + ZSCORE board uN + GET session:N + INCR counter:N, one \
         pipeline awaited by its task; conns: the server's connected_clients during the run, \
         less this bench's own"
            .into(),
    );
    let blocking_table = rate_table(
        format!(
            "(g) Many threads, one service (blocking): requests/s, median {spread}; server connections used"
        ),
        &Who::THREADS,
        &threads,
    );

    let mut targets = [
        Target {
            name: "redpipe / redis-rs multiplexed",
            goal: 1.3,
            pair: (Who::Redpipe, Who::RedisMultiplexed),
            applies: |s| matches!(s, Shape::Tasks { tasks, .. } if tasks >= 8),
            at: "8, 64 and 256 tasks (64 on both runtimes)",
            lowest: None,
        },
        Target {
            name: "redpipe / redis-rs multiplexed",
            goal: 1.0,
            pair: (Who::Redpipe, Who::RedisMultiplexed),
            applies: |s| matches!(s, Shape::Tasks { tasks: 1, .. }),
            at: "1 task",
            lowest: None,
        },
        Target {
            name: "redpipe / fred",
            goal: 1.5,
            pair: (Who::Redpipe, Who::Fred),
            applies: |s| matches!(s, Shape::Tasks { tasks, .. } if tasks >= 8),
            at: "8, 64 and 256 tasks (64 on both runtimes)",
            lowest: None,
        },
        Target {
            name: "blocking redpipe / redis-rs r2d2",
            goal: 1.3,
            pair: (Who::RedpipeBlocking, Who::RedisR2d2),
            applies: |s| matches!(s, Shape::Threads(_)),
            at: "8 and 64 threads",
            lowest: None,
        },
    ];
    // Columns: each ratio, and after those the issue sets a target for, the target and
    // whether this row meets it.
    let columns: [(&str, (Who, Who), bool); 4] = [
        (
            "redpipe / redis-rs multiplexed",
            (Who::Redpipe, Who::RedisMultiplexed),
            true,
        ),
        ("redpipe / fred", (Who::Redpipe, Who::Fred), true),
        (
            "redpipe max_connections=1 / redis-rs multiplexed",
            (Who::RedpipeOne, Who::RedisMultiplexed),
            false,
        ),
        (
            "blocking redpipe / redis-rs r2d2",
            (Who::RedpipeBlocking, Who::RedisR2d2),
            true,
        ),
    ];
    let mut header = vec!["shape"];
    for (name, _, with_target) in &columns {
        header.push(name);
        if *with_target {
            header.push("target");
        }
    }
    let mut ratios = Table::new(
        format!("(g) Ratios (same repetition paired), median {spread}, and the issue's targets"),
        &header,
        1,
    );
    for shape in Shape::ALL {
        let mut row = vec![shape.label()];
        for (_, (a, b), with_target) in &columns {
            let r = Samples::ratio(&cell(shape, *a).rate, &cell(shape, *b).rate);
            row.push(r.show(report::ratio));
            if !*with_target {
                continue;
            }
            let target = targets
                .iter_mut()
                .find(|t| t.pair == (*a, *b) && (t.applies)(shape));
            row.push(match target {
                Some(t) if !r.is_empty() => {
                    let m = r.median();
                    if t.lowest.as_ref().is_none_or(|(v, _)| m < *v) {
                        t.lowest = Some((m, shape.label()));
                    }
                    format!("≥ {:.1}: {}", t.goal, Target::verdict(m, t.goal))
                }
                Some(t) => format!("≥ {:.1}: not measured", t.goal),
                None => String::new(),
            });
        }
        ratios.rows.push(row);
    }
    for t in &targets {
        ratios.notes.push(match &t.lowest {
            Some((v, shape)) => format!(
                "target {} >= {:.1} at {}: {} (lowest {v:.2}, {shape})",
                t.name,
                t.goal,
                t.at,
                if *v >= t.goal { "met" } else { "MISSED" }
            ),
            None => format!(
                "target {} >= {:.1} at {}: not measured",
                t.name, t.goal, t.at
            ),
        });
    }
    vec![async_table, blocking_table, ratios]
}

//! Repeated measurements, and tables printed as aligned plain text and as markdown.

/// The values of one figure over the repetitions of a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples(Vec<f64>);

impl Samples {
    pub(crate) fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub(crate) fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub(crate) fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub(crate) fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// `a[i] / b[i]` for each repetition: ratios only ever pair values of the same repetition.
    pub(crate) fn ratio(a: &Samples, b: &Samples) -> Samples {
        Samples(a.0.iter().zip(&b.0).map(|(x, y)| x / y).collect())
    }

    /// `f` of each value.
    pub(crate) fn map(&self, f: impl Fn(f64) -> f64) -> Samples {
        Samples(self.0.iter().map(|&x| f(x)).collect())
    }

    /// Median, then `(min–max)` when there are several values.
    pub(crate) fn show(&self, f: impl Fn(f64) -> String) -> String {
        if self.is_empty() {
            return "–".into();
        }
        let median = f(self.median());
        if self.0.len() == 1 {
            median
        } else {
            format!("{median} ({}–{})", f(self.min()), f(self.max()))
        }
    }
}

/// Operations per second, 3 significant digits.
pub(crate) fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

pub(crate) fn ratio(v: f64) -> String {
    format!("{v:.2}")
}

pub(crate) fn percent(v: f64) -> String {
    format!("{:+.1}%", v * 100.0)
}

pub(crate) fn ns(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A table: a title, a header and rows of cells; the first `left` columns align left.
pub(crate) struct Table {
    pub(crate) title: String,
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    pub(crate) left: usize,
    /// Lines printed under the table.
    pub(crate) notes: Vec<String>,
}

impl Table {
    pub(crate) fn new(title: impl Into<String>, header: &[&str], left: usize) -> Self {
        Self {
            title: title.into(),
            header: header.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
            left,
            notes: Vec::new(),
        }
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(cell.chars().count());
                }
            }
        }
        w
    }

    fn line(&self, cells: &[String], widths: &[usize]) -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if i < self.left {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', pad));
            } else {
                out.extend(std::iter::repeat_n(' ', pad));
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    }

    /// Aligned plain text.
    pub(crate) fn plain(&self) -> String {
        let widths = self.widths();
        let mut out = format!("{}\n", self.title);
        out.push_str(&self.line(&self.header, &widths));
        out.push('\n');
        let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        out.extend(std::iter::repeat_n('-', total));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&self.line(row, &widths));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(note);
            out.push('\n');
        }
        out
    }

    /// A markdown table under a bold title.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!("**{}**\n\n", self.title);
        out.push_str(&format!("| {} |\n|", self.header.join(" | ")));
        for i in 0..self.header.len() {
            out.push_str(if i < self.left { "---|" } else { "---:|" });
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(note);
                out.push('\n');
            }
        }
        out
    }
}

//! Percentiles and the printed table.

use std::time::Duration;

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty());
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// One line of the result table: what, the measured figure, its ceiling, and the ratio.
pub struct Row {
    pub what: String,
    pub measured: String,
    pub ceiling: String,
    pub ratio: String,
}

impl Row {
    /// `measured` against `ceiling`, both times, with their ratio.
    pub fn versus(what: impl Into<String>, measured: Duration, ceiling: Duration) -> Self {
        Self {
            what: what.into(),
            measured: ms(measured),
            ceiling: ms(ceiling),
            ratio: format!("{:.2}x", measured.as_secs_f64() / ceiling.as_secs_f64()),
        }
    }
}

pub fn print(rows: &[Row]) {
    let w = |f: fn(&Row) -> &String| rows.iter().map(|r| f(r).len()).max().unwrap_or(0);
    let (a, b, c) = (w(|r| &r.what).max(4), w(|r| &r.measured).max(8), w(|r| &r.ceiling).max(7));
    println!("{:<a$}  {:>b$}  {:>c$}  ratio", "what", "measured", "ceiling");
    println!("{}", "-".repeat(a + b + c + 12));
    for r in rows {
        println!("{:<a$}  {:>b$}  {:>c$}  {}", r.what, r.measured, r.ceiling, r.ratio);
    }
}

//! A set of named task results, printed as a fixed-width table for the terminal or as
//! JSON (`gvt eval ... --json`).
//!
//! Accuracies are fractions in JSON (as the reference prints them) and percentages in the
//! table. Empty inputs give NaN metrics: "-" in the table, `null` in JSON.
//!
//! JSON layout:
//!
//! ```json
//! {
//!   "title": "GVTBench",
//!   "tasks": [
//!     {"name": "coco_oc", "kind": "counting", "n": 10000, "correct": 5620,
//!      "accuracy": 0.562, "mae": 0.81, "rmse": 1.3,
//!      "bins": [{"label": "0-2", "min": 0, "max": 2, "n": 7411, "correct": 4500,
//!                "accuracy": 0.607, "mae": 0.5, "rmse": 0.9}],
//!      "counts": [{"label": "1", "min": 1, "max": 1, "n": 4113, "correct": 2900,
//!                  "accuracy": 0.705, "mae": 0.4, "rmse": 0.8}]},
//!     {"name": "coco_mci", "kind": "identification", "n": 10000, "correct": 8930,
//!      "accuracy": 0.893, "bins": [{"label": "1-9", "n": 5783, "correct": 5200,
//!      "accuracy": 0.899}, {"label": "10-19", ...}, {"label": ">=20", ...}]},
//!     {"name": "colour", "kind": "exact_match", "n": 2000, "correct": 1950,
//!      "accuracy": 0.975}
//!   ]
//! }
//! ```

use std::fmt;

use serde::Serialize;

use super::metrics::TaskMetrics;

/// One named result of a [`Report`]. In JSON, one object: the name, then the metrics'
/// members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportEntry {
    /// The task's name ("coco_oc", "colour", ...).
    pub name: String,
    /// Its metrics.
    #[serde(flatten)]
    pub metrics: TaskMetrics,
}

/// Named task results with a title. Serializes to the JSON layout of the
/// [module documentation](self).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// A heading (model, data set, seed...).
    pub title: String,
    /// The results, in the order they are shown.
    #[serde(rename = "tasks")]
    pub entries: Vec<ReportEntry>,
}

/// Width of each numeric column of the table.
const NUMBER_WIDTH: usize = 9;

/// One line of the table.
struct Row {
    label: String,
    n: usize,
    accuracy: f64,
    /// MAE and RMSE, for counting only.
    errors: Option<(f64, f64)>,
}

impl Row {
    fn new(label: String, n: usize, accuracy: f64, errors: Option<(f64, f64)>) -> Row {
        Row {
            label,
            n,
            accuracy,
            errors,
        }
    }
}

impl Report {
    /// An empty report.
    pub fn new(title: impl Into<String>) -> Report {
        Report {
            title: title.into(),
            entries: Vec::new(),
        }
    }

    /// Appends a result.
    pub fn push(&mut self, name: impl Into<String>, metrics: impl Into<TaskMetrics>) {
        self.entries.push(ReportEntry {
            name: name.into(),
            metrics: metrics.into(),
        });
    }

    /// The rows of the table: label, n, accuracy, MAE and RMSE (the last two for counting
    /// only). Bins follow their task, indented.
    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for entry in &self.entries {
            match &entry.metrics {
                TaskMetrics::Counting(m) => {
                    rows.push(Row::new(
                        entry.name.clone(),
                        m.n,
                        m.accuracy,
                        Some((m.mae, m.rmse)),
                    ));
                    let bins = m.bins.iter().map(|b| ("gt", b));
                    for (kind, bin) in bins.chain(m.counts.iter().map(|b| ("count", b))) {
                        rows.push(Row::new(
                            format!("  {kind} {}", bin.label()),
                            bin.n,
                            bin.accuracy,
                            Some((bin.mae, bin.rmse)),
                        ));
                    }
                }
                TaskMetrics::Identification(m) => {
                    rows.push(Row::new(entry.name.clone(), m.n, m.accuracy, None));
                    for bin in &m.bins {
                        rows.push(Row::new(
                            format!("  objects {}", bin.label),
                            bin.n,
                            bin.accuracy,
                            None,
                        ));
                    }
                }
                TaskMetrics::Accuracy(m) => {
                    rows.push(Row::new(entry.name.clone(), m.n, m.accuracy, None))
                }
            }
        }
        rows
    }

    /// The report as a table with fixed-width, right-aligned numeric columns: the title,
    /// a header, a rule, then one row per task and per bin. Ends with a newline.
    pub fn to_table(&self) -> String {
        let rows = self.rows();
        let label_width = rows
            .iter()
            .map(|row| row.label.chars().count())
            .chain([4])
            .max()
            .unwrap_or(4);
        let number = |x: f64, scale: f64, decimals: usize| {
            if x.is_nan() {
                "-".to_owned()
            } else {
                format!("{:.*}", decimals, x * scale)
            }
        };
        let mut lines = vec![self.title.clone()];
        let w = NUMBER_WIDTH;
        lines.push(format!(
            "{:<label_width$} {:>w$} {:>w$} {:>w$} {:>w$}",
            "task", "n", "acc %", "MAE", "RMSE"
        ));
        lines.push("-".repeat(label_width + 4 * (w + 1)));
        for Row {
            label,
            n,
            accuracy,
            errors,
        } in rows
        {
            let (mae, rmse) = errors.map_or((String::new(), String::new()), |(mae, rmse)| {
                (number(mae, 1.0, 4), number(rmse, 1.0, 4))
            });
            let pad = label_width.saturating_sub(label.chars().count());
            lines.push(format!(
                "{label}{:pad$} {n:>w$} {:>w$} {mae:>w$} {rmse:>w$}",
                "",
                number(accuracy, 100.0, 2),
            ));
        }
        let mut out = String::new();
        for line in lines {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The report as indented JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // Cannot fail: every map key is a string and every `Serialize` impl is infallible.
        serde_json::to_string_pretty(self).expect("a report serializes to JSON")
    }
}

impl fmt::Display for Report {
    /// The table of [`Report::to_table`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_table())
    }
}

#[cfg(test)]
mod tests {
    use super::super::metrics::{AccuracyMetrics, CountingMetrics, IdentificationMetrics};
    use super::*;

    fn sample() -> Report {
        let mut report = Report::new("GVTBench \"tiny\" — seed 7\n");
        report.push(
            "coco_oc",
            CountingMetrics::from_pairs([(0, 0), (1, 2), (3, 3), (4, 6), (7, 7), (9, 5)]),
        );
        report.push(
            "a_rather_long_task_name",
            IdentificationMetrics::from_outcomes([(1, true), (12, false), (12, true)]),
        );
        report.push(
            "colour",
            AccuracyMetrics::from_outcomes([true, true, false]),
        );
        report.push("empty", AccuracyMetrics::from_outcomes([]));
        report
    }

    #[test]
    fn table_layout() {
        let table = sample().to_table();
        print!("{table}");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "GVTBench \"tiny\" — seed 7");
        let label_width = "a_rather_long_task_name".len();
        let header = format!(
            "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
            "task", "n", "acc %", "MAE", "RMSE"
        );
        assert_eq!(lines[1], header);
        // Counting rows: accuracy 3/6 = 50.00 %, MAE 7/6, RMSE sqrt(3.5) = 1.8708.
        assert_eq!(
            lines[3],
            format!(
                "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
                "coco_oc", 6, "50.00", "1.1667", "1.8708"
            )
        );
        assert_eq!(
            lines[4],
            format!(
                "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
                "  gt 0-2", 2, "50.00", "0.5000", "0.7071"
            )
        );
        assert_eq!(
            lines[7],
            format!(
                "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
                "  gt 9-11", 1, "0.00", "4.0000", "4.0000"
            )
        );
        // Then one row per true count that occurs: 0, 1, 3, 4, 7, 9.
        assert_eq!(
            lines[8],
            format!(
                "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
                "  count 0", 1, "100.00", "0.0000", "0.0000"
            )
        );
        assert_eq!(
            lines[13],
            format!(
                "{:<label_width$} {:>9} {:>9} {:>9} {:>9}",
                "  count 9", 1, "0.00", "4.0000", "4.0000"
            )
        );
        // Identification rows end after the accuracy; the empty bin shows "-".
        assert_eq!(
            lines[14],
            format!(
                "{:<label_width$} {:>9} {:>9}",
                "a_rather_long_task_name", 3, "66.67"
            )
        );
        assert_eq!(
            lines[16],
            format!(
                "{:<label_width$} {:>9} {:>9}",
                "  objects 10-19", 2, "50.00"
            )
        );
        assert_eq!(
            lines[17],
            format!("{:<label_width$} {:>9} {:>9}", "  objects >=20", 0, "-")
        );
        assert_eq!(
            lines[18],
            format!("{:<label_width$} {:>9} {:>9}", "colour", 3, "66.67")
        );
        assert_eq!(
            lines[19],
            format!("{:<label_width$} {:>9} {:>9}", "empty", 0, "-")
        );
        assert_eq!(lines.len(), 20);
        assert_eq!(sample().to_string(), table);
    }

    /// The values of the indented JSON's `"key": value` lines, in order, as Rust's exact
    /// `f64` parser reads them (serde_json's default reader may be one unit in the last
    /// place off); `None` for `null`.
    fn numbers(json: &str, key: &str) -> Vec<Option<u64>> {
        let prefix = format!("\"{key}\": ");
        json.lines()
            .filter_map(|line| line.trim().strip_prefix(prefix.as_str()))
            .map(|value| match value.trim_end_matches(',') {
                "null" => None,
                value => Some(value.parse::<f64>().unwrap().to_bits()),
            })
            .collect()
    }

    #[test]
    fn json_numbers_read_back_bit_exact() {
        let report = sample();
        let text = report.to_json();
        let bits = |x: f64| (!x.is_nan()).then(|| x.to_bits());
        let (mut accuracy, mut mae, mut rmse) = (vec![], vec![], vec![]);
        for entry in &report.entries {
            accuracy.push(bits(entry.metrics.accuracy()));
            match &entry.metrics {
                TaskMetrics::Counting(m) => {
                    mae.push(bits(m.mae));
                    rmse.push(bits(m.rmse));
                    for bin in m.bins.iter().chain(&m.counts) {
                        accuracy.push(bits(bin.accuracy));
                        mae.push(bits(bin.mae));
                        rmse.push(bits(bin.rmse));
                    }
                }
                TaskMetrics::Identification(m) => {
                    accuracy.extend(m.bins.iter().map(|bin| bits(bin.accuracy)));
                }
                TaskMetrics::Accuracy(_) => {}
            }
        }
        assert_eq!(numbers(&text, "accuracy"), accuracy, "{text}");
        assert_eq!(numbers(&text, "mae"), mae, "{text}");
        assert_eq!(numbers(&text, "rmse"), rmse, "{text}");
        assert!(accuracy.contains(&None), "NaN metrics are written as null");
    }

    #[test]
    fn json_layout() {
        let mut report = Report::new("t");
        report.push("oc", CountingMetrics::from_pairs([(4, 6)]));
        report.push("mci", IdentificationMetrics::from_outcomes([(3, true)]));
        report.push("colour", AccuracyMetrics::from_outcomes([]));
        let compact = concat!(
            r#"{"title":"t","tasks":["#,
            r#"{"name":"oc","kind":"counting","n":1,"correct":0,"accuracy":0.0,"mae":2.0,"rmse":2.0,"bins":["#,
            r#"{"label":"3-5","min":3,"max":5,"n":1,"correct":0,"accuracy":0.0,"mae":2.0,"rmse":2.0}],"#,
            r#""counts":[{"label":"4","min":4,"max":4,"n":1,"correct":0,"accuracy":0.0,"mae":2.0,"rmse":2.0}]},"#,
            r#"{"name":"mci","kind":"identification","n":1,"correct":1,"accuracy":1.0,"bins":["#,
            r#"{"label":"1-9","n":1,"correct":1,"accuracy":1.0},"#,
            r#"{"label":"10-19","n":0,"correct":0,"accuracy":null},"#,
            r#"{"label":">=20","n":0,"correct":0,"accuracy":null}]},"#,
            r#"{"name":"colour","kind":"exact_match","n":0,"correct":0,"accuracy":null}]}"#,
        );
        assert_eq!(serde_json::to_string(&report).unwrap(), compact);
        // The indented text is the same JSON.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&report.to_json()).unwrap(),
            serde_json::from_str::<serde_json::Value>(compact).unwrap()
        );
    }

    #[test]
    fn json_members_match_the_metrics() {
        let report = sample();
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["title"].as_str(), Some(report.title.as_str()));
        let tasks = value["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), report.entries.len());
        for (task, entry) in tasks.iter().zip(&report.entries) {
            assert_eq!(task["name"].as_str(), Some(entry.name.as_str()));
            assert_eq!(task["n"].as_u64(), Some(entry.metrics.n() as u64));
            match &entry.metrics {
                TaskMetrics::Counting(m) => {
                    assert_eq!(task["kind"].as_str(), Some("counting"));
                    let bins = task["bins"].as_array().unwrap();
                    assert_eq!(bins.len(), m.bins.len());
                    for (b, bin) in bins.iter().zip(&m.bins) {
                        assert_eq!(b["label"].as_str(), Some(bin.label().as_str()));
                        assert_eq!(b["min"].as_u64(), Some(bin.min.into()));
                        assert_eq!(b["max"].as_u64(), Some(bin.max.into()));
                        assert_eq!(b["n"].as_u64(), Some(bin.n as u64));
                        assert_eq!(b["correct"].as_u64(), Some(bin.correct as u64));
                    }
                }
                TaskMetrics::Identification(m) => {
                    assert_eq!(task["kind"].as_str(), Some("identification"));
                    let bins = task["bins"].as_array().unwrap();
                    assert_eq!(bins.len(), m.bins.len());
                    for (b, bin) in bins.iter().zip(&m.bins) {
                        assert_eq!(b["label"].as_str(), Some(bin.label));
                        assert_eq!(b["n"].as_u64(), Some(bin.n as u64));
                        assert_eq!(b["accuracy"].is_null(), bin.accuracy.is_nan());
                    }
                }
                TaskMetrics::Accuracy(m) => {
                    assert_eq!(task["kind"].as_str(), Some("exact_match"));
                    assert_eq!(task["correct"].as_u64(), Some(m.correct as u64));
                    assert_eq!(task["accuracy"].is_null(), m.n == 0);
                }
            }
        }
    }

    #[test]
    fn empty_report() {
        let report = Report::new("nothing");
        assert_eq!(report.to_table().lines().count(), 3);
        assert_eq!(
            report.to_json(),
            "{\n  \"title\": \"nothing\",\n  \"tasks\": []\n}"
        );
    }
}

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
//!                "accuracy": 0.607, "mae": 0.5, "rmse": 0.9}]},
//!     {"name": "coco_mci", "kind": "identification", "n": 10000, "correct": 8930,
//!      "accuracy": 0.893, "bins": [{"label": "1-9", "n": 5783, "correct": 5200,
//!      "accuracy": 0.899}, {"label": "10-19", ...}, {"label": ">=20", ...}]},
//!     {"name": "colour", "kind": "exact_match", "n": 2000, "correct": 1950,
//!      "accuracy": 0.975}
//!   ]
//! }
//! ```

use std::fmt;

use super::json::Value;
use super::metrics::TaskMetrics;

/// One named result of a [`Report`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEntry {
    /// The task's name ("coco_oc", "colour", ...).
    pub name: String,
    /// Its metrics.
    pub metrics: TaskMetrics,
}

/// Named task results with a title.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// A heading (model, data set, seed...).
    pub title: String,
    /// The results, in the order they are shown.
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
                    for bin in &m.bins {
                        rows.push(Row::new(
                            format!("  gt {}", bin.label()),
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

    /// The report as a JSON value (layout in the [module documentation](self)).
    pub fn to_json_value(&self) -> Value {
        let count = |n: usize| Value::from_u64(n as u64);
        let tasks = self
            .entries
            .iter()
            .map(|entry| {
                let mut members = vec![("name".to_owned(), Value::String(entry.name.clone()))];
                let mut add = |key: &str, value: Value| members.push((key.to_owned(), value));
                match &entry.metrics {
                    TaskMetrics::Counting(m) => {
                        add("kind", Value::String("counting".into()));
                        add("n", count(m.n));
                        add("correct", count(m.correct));
                        add("accuracy", Value::from_f64(m.accuracy));
                        add("mae", Value::from_f64(m.mae));
                        add("rmse", Value::from_f64(m.rmse));
                        let bins = m.bins.iter().map(|bin| {
                            Value::Object(vec![
                                ("label".into(), Value::String(bin.label())),
                                ("min".into(), Value::from_u64(bin.min.into())),
                                ("max".into(), Value::from_u64(bin.max.into())),
                                ("n".into(), count(bin.n)),
                                ("correct".into(), count(bin.correct)),
                                ("accuracy".into(), Value::from_f64(bin.accuracy)),
                                ("mae".into(), Value::from_f64(bin.mae)),
                                ("rmse".into(), Value::from_f64(bin.rmse)),
                            ])
                        });
                        add("bins", Value::Array(bins.collect()));
                    }
                    TaskMetrics::Identification(m) => {
                        add("kind", Value::String("identification".into()));
                        add("n", count(m.n));
                        add("correct", count(m.correct));
                        add("accuracy", Value::from_f64(m.accuracy));
                        let bins = m.bins.iter().map(|bin| {
                            Value::Object(vec![
                                ("label".into(), Value::String(bin.label.into())),
                                ("n".into(), count(bin.n)),
                                ("correct".into(), count(bin.correct)),
                                ("accuracy".into(), Value::from_f64(bin.accuracy)),
                            ])
                        });
                        add("bins", Value::Array(bins.collect()));
                    }
                    TaskMetrics::Accuracy(m) => {
                        add("kind", Value::String("exact_match".into()));
                        add("n", count(m.n));
                        add("correct", count(m.correct));
                        add("accuracy", Value::from_f64(m.accuracy));
                    }
                }
                Value::Object(members)
            })
            .collect();
        Value::Object(vec![
            ("title".into(), Value::String(self.title.clone())),
            ("tasks".into(), Value::Array(tasks)),
        ])
    }

    /// The report as indented JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        self.to_json_value().to_json_pretty()
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
    use super::super::json;
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
        // Identification rows end after the accuracy; the empty bin shows "-".
        assert_eq!(
            lines[8],
            format!(
                "{:<label_width$} {:>9} {:>9}",
                "a_rather_long_task_name", 3, "66.67"
            )
        );
        assert_eq!(
            lines[10],
            format!(
                "{:<label_width$} {:>9} {:>9}",
                "  objects 10-19", 2, "50.00"
            )
        );
        assert_eq!(
            lines[11],
            format!("{:<label_width$} {:>9} {:>9}", "  objects >=20", 0, "-")
        );
        assert_eq!(
            lines[12],
            format!("{:<label_width$} {:>9} {:>9}", "colour", 3, "66.67")
        );
        assert_eq!(
            lines[13],
            format!("{:<label_width$} {:>9} {:>9}", "empty", 0, "-")
        );
        assert_eq!(lines.len(), 14);
        assert_eq!(sample().to_string(), table);
    }

    #[test]
    fn json_round_trips_through_the_reader() {
        let report = sample();
        let text = report.to_json();
        let value = json::parse(&text).unwrap();
        assert_eq!(value, report.to_json_value());
        assert_eq!(
            json::parse(&report.to_json_value().to_string()).unwrap(),
            value
        );
        assert_eq!(
            value.get("title").unwrap().as_str(),
            Some(report.title.as_str())
        );
        let tasks = value.get("tasks").unwrap().as_array().unwrap();
        assert_eq!(tasks.len(), report.entries.len());
        let num = |v: &Value, key: &str| v.get(key).unwrap().as_f64().unwrap();
        for (task, entry) in tasks.iter().zip(&report.entries) {
            assert_eq!(
                task.get("name").unwrap().as_str(),
                Some(entry.name.as_str())
            );
            assert_eq!(
                task.get("n").unwrap().as_u64(),
                Some(entry.metrics.n() as u64)
            );
            match &entry.metrics {
                TaskMetrics::Counting(m) => {
                    assert_eq!(task.get("kind").unwrap().as_str(), Some("counting"));
                    // Bit-exact: the writer uses the shortest text that reads back the same.
                    assert_eq!(num(task, "accuracy").to_bits(), m.accuracy.to_bits());
                    assert_eq!(num(task, "mae").to_bits(), m.mae.to_bits());
                    assert_eq!(num(task, "rmse").to_bits(), m.rmse.to_bits());
                    let bins = task.get("bins").unwrap().as_array().unwrap();
                    assert_eq!(bins.len(), m.bins.len());
                    for (b, bin) in bins.iter().zip(&m.bins) {
                        assert_eq!(b.get("label").unwrap().as_str(), Some(bin.label().as_str()));
                        assert_eq!(b.get("min").unwrap().as_u64(), Some(bin.min.into()));
                        assert_eq!(b.get("max").unwrap().as_u64(), Some(bin.max.into()));
                        assert_eq!(b.get("n").unwrap().as_u64(), Some(bin.n as u64));
                        assert_eq!(b.get("correct").unwrap().as_u64(), Some(bin.correct as u64));
                        assert_eq!(num(b, "accuracy").to_bits(), bin.accuracy.to_bits());
                        assert_eq!(num(b, "mae").to_bits(), bin.mae.to_bits());
                        assert_eq!(num(b, "rmse").to_bits(), bin.rmse.to_bits());
                    }
                }
                TaskMetrics::Identification(m) => {
                    assert_eq!(task.get("kind").unwrap().as_str(), Some("identification"));
                    assert_eq!(num(task, "accuracy").to_bits(), m.accuracy.to_bits());
                    let bins = task.get("bins").unwrap().as_array().unwrap();
                    for (b, bin) in bins.iter().zip(&m.bins) {
                        assert_eq!(b.get("label").unwrap().as_str(), Some(bin.label));
                        assert_eq!(b.get("n").unwrap().as_u64(), Some(bin.n as u64));
                        if bin.accuracy.is_nan() {
                            assert_eq!(b.get("accuracy"), Some(&Value::Null));
                        } else {
                            assert_eq!(num(b, "accuracy").to_bits(), bin.accuracy.to_bits());
                        }
                    }
                }
                TaskMetrics::Accuracy(m) if m.n == 0 => {
                    assert_eq!(task.get("accuracy"), Some(&Value::Null));
                }
                TaskMetrics::Accuracy(m) => {
                    assert_eq!(task.get("kind").unwrap().as_str(), Some("exact_match"));
                    assert_eq!(num(task, "accuracy").to_bits(), m.accuracy.to_bits());
                    assert_eq!(
                        task.get("correct").unwrap().as_u64(),
                        Some(m.correct as u64)
                    );
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

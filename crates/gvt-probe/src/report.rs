//! A probe's results: per model and level, the figures of [`LevelStats`], as JSON and CSV.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ProbeError;
use crate::record::Answer;
use crate::stats::LevelStats;
use crate::sweep::ProbeSpec;

/// One model's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCurve {
    pub name: String,
    pub levels: Vec<LevelStats>,
}

/// Everything a probe measured, recounted from its answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub spec: ProbeSpec,
    /// What the level means.
    pub parameter: String,
    pub models: Vec<ModelCurve>,
}

/// One row of `probe.csv`.
#[derive(Serialize)]
struct Row<'a> {
    model: &'a str,
    level: u32,
    label: &'a str,
    n: usize,
    correct: usize,
    accuracy: f64,
    ci_low: f64,
    ci_high: f64,
    mae: Option<f64>,
    attention_on_target: Option<f64>,
    target_area: Option<f64>,
    latency_ms: f64,
}

impl ProbeReport {
    /// The report of `answers` to `spec` by the models named `models` (answer `model` fields
    /// index it); levels without answers yet have `n = 0`.
    pub fn from_answers(spec: &ProbeSpec, models: &[String], answers: &[Answer]) -> ProbeReport {
        // One pass to sort the answers by model and level: a probe holds up to 100,000.
        let mut buckets: HashMap<(usize, u32), Vec<&Answer>> = HashMap::new();
        for a in answers {
            buckets.entry((a.model, a.level)).or_default().push(a);
        }
        let curves = models
            .iter()
            .enumerate()
            .map(|(m, name)| ModelCurve {
                name: name.clone(),
                levels: spec
                    .levels
                    .iter()
                    .map(|&level| {
                        let of_level = buckets.get(&(m, level)).map_or(&[][..], Vec::as_slice);
                        LevelStats::of(spec.sweep, level, of_level.iter().copied())
                    })
                    .collect(),
            })
            .collect();
        ProbeReport {
            spec: spec.clone(),
            parameter: spec.sweep.parameter().to_string(),
            models: curves,
        }
    }

    pub fn to_json(&self) -> String {
        // Cannot fail: plain data with string keys.
        serde_json::to_string_pretty(self).expect("a report serializes to JSON")
    }

    /// One row per model and level; empty cells where a figure does not apply.
    pub fn to_csv(&self) -> Result<String, ProbeError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let csv_error = |e: csv::Error| ProbeError::Spec(format!("writing the CSV: {e}"));
        for curve in &self.models {
            for s in &curve.levels {
                writer
                    .serialize(Row {
                        model: &curve.name,
                        level: s.level,
                        label: &s.label,
                        n: s.n,
                        correct: s.correct,
                        accuracy: s.accuracy,
                        ci_low: s.ci_low,
                        ci_high: s.ci_high,
                        mae: s.mae,
                        attention_on_target: s.attention_on_target,
                        target_area: s.target_area,
                        latency_ms: s.latency_ms,
                    })
                    .map_err(csv_error)?;
            }
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| ProbeError::Spec(format!("writing the CSV: {e}")))?;
        // Cannot fail: every field was a UTF-8 string or a number.
        Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Sweep;

    #[test]
    fn the_report_recounts_each_model_and_level() {
        let spec = ProbeSpec {
            levels: vec![1, 2],
            ..ProbeSpec::new(Sweep::Count, 2, 0)
        };
        let answer = |model, level, correct| Answer {
            model,
            level,
            index: 0,
            scene_seed: 0,
            kind: "count".into(),
            question: "q".into(),
            truth: level.to_string(),
            answer: if correct {
                level.to_string()
            } else {
                "0".into()
            },
            correct,
            attention_on_target: None,
            target_area: None,
            latency_ms: 1.0,
        };
        let answers = [
            answer(0, 1, true),
            answer(0, 1, false),
            answer(0, 2, true),
            answer(1, 1, false),
        ];
        let models = ["a, \"quoted\"".to_string(), "b".to_string()];
        let report = ProbeReport::from_answers(&spec, &models, &answers);
        let acc: Vec<Vec<(usize, usize)>> = report
            .models
            .iter()
            .map(|c| c.levels.iter().map(|s| (s.correct, s.n)).collect())
            .collect();
        assert_eq!(acc, vec![vec![(1, 2), (1, 1)], vec![(0, 1), (0, 0)]]);
        let csv = report.to_csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5, "{csv}");
        assert!(lines[0].starts_with("model,level,label,n,correct,accuracy"));
        assert!(
            lines[1].starts_with(r#""a, ""quoted""",1,1,2,1,0.5,"#),
            "{}",
            lines[1]
        );
        let back: ProbeReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(
            (&back.spec, &back.models[0].name),
            (&report.spec, &report.models[0].name)
        );
        assert_eq!(back.models[1].levels[0].n, 1);
    }
}

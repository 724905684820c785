//! What one level of a probe measured, recounted from the answers: accuracy with a Wilson
//! interval, count errors and their confusion matrix, attention on the target, latency.

use gvt_eval::parse_count;
use serde::{Deserialize, Serialize};

use crate::record::Answer;
use crate::report::ProbeReport;
use crate::sweep::Sweep;

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;
/// Counts 0 to this get their own confusion row and column; larger ones share the last.
pub const CONFUSION_MAX: usize = 10;

/// The Wilson score interval for `correct` successes in `n` trials at 95%: `(low, high)`.
/// `(0, 1)` when `n` is 0.
pub fn wilson(correct: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (trials, p) = (n as f64, correct as f64 / n as f64);
    let z2 = Z95 * Z95;
    let centre = p + z2 / (2.0 * trials);
    let spread = Z95 * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt();
    let denominator = 1.0 + z2 / trials;
    // At 0 and n successes the bound is exactly 0 or 1; rounding would leave it a hair off.
    let low = if correct == 0 {
        0.0
    } else {
        (centre - spread) / denominator
    };
    let high = if correct == n {
        1.0
    } else {
        (centre + spread) / denominator
    };
    (low, high)
}

/// One level's figures for one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelStats {
    pub level: u32,
    pub label: String,
    /// Questions answered.
    pub n: usize,
    pub correct: usize,
    /// `correct / n` (0 when `n` is 0).
    pub accuracy: f64,
    /// The 95% Wilson interval of the accuracy.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Mean absolute count error, for counting questions.
    pub mae: Option<f64>,
    /// For counting questions, `confusion[truth][answer]`, counts above [`CONFUSION_MAX`]
    /// in the last row or column.
    pub confusion: Option<Vec<Vec<usize>>>,
    /// Mean share of the answer's attention map on the target objects' boxes, over the
    /// answers that had targets in view.
    pub attention_on_target: Option<f64>,
    /// Mean share of the picture the target boxes cover, over the same answers: the
    /// attention on target that looking everywhere alike would give.
    pub target_area: Option<f64>,
    /// Mean time per question, milliseconds.
    pub latency_ms: f64,
}

impl LevelStats {
    /// The figures of `answers`, all of one model and level.
    pub fn of<'a>(
        sweep: Sweep,
        level: u32,
        answers: impl IntoIterator<Item = &'a Answer>,
    ) -> LevelStats {
        let answers: Vec<&Answer> = answers.into_iter().collect();
        let n = answers.len();
        let correct = answers.iter().filter(|a| a.correct).count();
        let (ci_low, ci_high) = wilson(correct, n);
        let mean = |values: &[f64]| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let counts: Vec<(usize, usize)> = answers
            .iter()
            .filter(|a| a.counts())
            .map(|a| {
                (
                    parse_count(&a.truth) as usize,
                    parse_count(&a.answer) as usize,
                )
            })
            .collect();
        let errors: Vec<f64> = counts.iter().map(|&(t, a)| t.abs_diff(a) as f64).collect();
        let confusion = (!counts.is_empty()).then(|| {
            let mut m = vec![vec![0; CONFUSION_MAX + 1]; CONFUSION_MAX + 1];
            for &(t, a) in &counts {
                m[t.min(CONFUSION_MAX)][a.min(CONFUSION_MAX)] += 1;
            }
            m
        });
        let shares: Vec<f64> = answers
            .iter()
            .filter_map(|a| a.attention_on_target)
            .collect();
        let areas: Vec<f64> = answers.iter().filter_map(|a| a.target_area).collect();
        let latencies: Vec<f64> = answers.iter().map(|a| a.latency_ms).collect();
        LevelStats {
            level,
            label: sweep.level_label(level),
            n,
            correct,
            accuracy: if n == 0 {
                0.0
            } else {
                correct as f64 / n as f64
            },
            ci_low,
            ci_high,
            mae: mean(&errors),
            confusion,
            attention_on_target: mean(&shares),
            target_area: mean(&areas),
            latency_ms: mean(&latencies).unwrap_or(0.0),
        }
    }
}

/// A figure plotted against the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Accuracy,
    /// Mean absolute count error (counting questions).
    Mae,
    AttentionOnTarget,
    Latency,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Accuracy,
        Metric::Mae,
        Metric::AttentionOnTarget,
        Metric::Latency,
    ];

    /// File stem and key: "accuracy", "mae", "attention", "latency".
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mae => "mae",
            Metric::AttentionOnTarget => "attention",
            Metric::Latency => "latency",
        }
    }

    /// The axis title.
    pub fn title(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy (95% Wilson interval)",
            Metric::Mae => "mean absolute count error",
            Metric::AttentionOnTarget => "attention on target boxes",
            Metric::Latency => "latency per question (ms)",
        }
    }

    /// The figure of a level, if it has one.
    pub fn value(self, s: &LevelStats) -> Option<f64> {
        if s.n == 0 {
            return None;
        }
        match self {
            Metric::Accuracy => Some(s.accuracy),
            Metric::Mae => s.mae,
            Metric::AttentionOnTarget => s.attention_on_target,
            Metric::Latency => Some(s.latency_ms),
        }
    }

    /// The metrics with at least one value in `report`.
    pub fn present_in(report: &ProbeReport) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| {
                report
                    .models
                    .iter()
                    .flat_map(|c| &c.levels)
                    .any(|s| m.value(s).is_some())
            })
            .collect()
    }
}

/// The count confusions of `levels` added up, or `None` when none of them counts.
pub fn total_confusion(levels: &[LevelStats]) -> Option<Vec<Vec<usize>>> {
    let mut total: Option<Vec<Vec<usize>>> = None;
    for m in levels.iter().filter_map(|s| s.confusion.as_ref()) {
        let sum = total.get_or_insert_with(|| vec![vec![0; CONFUSION_MAX + 1]; CONFUSION_MAX + 1]);
        for (row, add) in sum.iter_mut().zip(m) {
            row.iter_mut().zip(add).for_each(|(a, b)| *a += b);
        }
    }
    total
}

impl std::fmt::Display for LevelStats {
    /// "90.0% (59.6-98.2), MAE 0.10": accuracy, its interval, and the count error when the
    /// questions count; empty before the level has answers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.n == 0 {
            return Ok(());
        }
        write!(
            f,
            "{:.1}% ({:.1}-{:.1})",
            self.accuracy * 100.0,
            self.ci_low * 100.0,
            self.ci_high * 100.0
        )?;
        match self.mae {
            Some(mae) => write!(f, ", MAE {mae:.2}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // Brown, Cai & DasGupta (2001), and R's prop.test(correct = FALSE).
        let (lo, hi) = wilson(81, 263);
        assert!(
            (lo - 0.2553).abs() < 1e-4 && (hi - 0.3662).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{hi}");
        let (lo, hi) = wilson(10, 10);
        assert!((lo - 0.7225).abs() < 1e-4 && hi == 1.0, "{lo}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    fn answer(truth: &str, answer: &str, share: Option<f64>, ms: f64) -> Answer {
        Answer {
            model: 0,
            level: 3,
            index: 0,
            scene_seed: 0,
            kind: "count".into(),
            question: "How many stars are there in the image?".into(),
            truth: truth.into(),
            answer: answer.into(),
            correct: truth == answer,
            attention_on_target: share,
            target_area: share.map(|s| s / 2.0),
            latency_ms: ms,
        }
    }

    #[test]
    fn level_figures_come_from_the_answers() {
        let answers = [
            answer("3", "3", Some(0.5), 10.0),
            answer("3", "2", Some(0.3), 20.0),
            answer("3", "12", None, 30.0),
            answer("3", "3", Some(0.1), 40.0),
        ];
        let s = LevelStats::of(Sweep::Count, 3, &answers);
        assert_eq!((s.n, s.correct, s.accuracy), (4, 2, 0.5));
        assert_eq!(s.mae, Some((0.0 + 1.0 + 9.0 + 0.0) / 4.0));
        let m = s.confusion.as_ref().unwrap();
        assert_eq!((m[3][3], m[3][2], m[3][CONFUSION_MAX]), (2, 1, 1));
        assert!((s.attention_on_target.unwrap() - 0.3).abs() < 1e-12);
        assert!((s.target_area.unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(s.latency_ms, 25.0);
        assert_eq!((s.ci_low, s.ci_high), wilson(2, 4));
        assert_eq!(s.to_string(), "50.0% (15.0-85.0), MAE 2.50");
        assert_eq!(LevelStats::of(Sweep::Count, 3, []).to_string(), "");
        let twice = total_confusion(&[s.clone(), s.clone()]).unwrap();
        assert_eq!((twice[3][3], twice[3][CONFUSION_MAX]), (4, 2));
        assert_eq!(
            total_confusion(&[LevelStats::of(Sweep::Count, 3, [])]),
            None
        );
    }
}

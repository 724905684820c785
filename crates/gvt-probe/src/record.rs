//! One answered question of a probe: a line of `answers.jsonl`, from which every figure of
//! the report is recounted (so a resumed probe and its report always agree).

use serde::{Deserialize, Serialize};

use crate::ProbeError;

/// A question asked of one model about one trial, and what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Which model (0 for the first `--model`).
    pub model: usize,
    pub level: u32,
    /// Which scene of the level.
    pub index: usize,
    /// The seed the scene was generated from (`gvt scene --seed` does not reproduce probe
    /// edits; the trial does).
    pub scene_seed: u64,
    /// The question kind's name: "count", "color_count", "exist", "color", "position".
    pub kind: String,
    pub question: String,
    pub truth: String,
    /// The answer after GVT's post-processing (cut at the first period).
    pub answer: String,
    pub correct: bool,
    /// Share of the answer's attention map on the target objects' boxes; `None` without
    /// targets in the scene or without a map.
    pub attention_on_target: Option<f64>,
    /// Share of the picture the target boxes cover: the attention they would get by chance.
    pub target_area: Option<f64>,
    /// Wall time of the question, milliseconds.
    pub latency_ms: f64,
}

impl Answer {
    /// Whether the question asked for a count.
    pub fn counts(&self) -> bool {
        matches!(self.kind.as_str(), "count" | "color_count")
    }

    /// The answer as one line of JSON, without a newline.
    pub fn to_json_line(&self) -> String {
        // Cannot fail: strings, numbers and booleans.
        serde_json::to_string(self).expect("an answer serializes to JSON")
    }

    /// The answers of a JSONL text. A last line cut short (a probe stopped while writing)
    /// is dropped; any other bad line is an error naming its number.
    pub fn parse_lines(text: &str) -> Result<Vec<Answer>, ProbeError> {
        let lines: Vec<&str> = text.lines().collect();
        let mut answers = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(answer) => answers.push(answer),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(ProbeError::Answers(format!("line {}: {e}", i + 1)));
                }
            }
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_a_torn_last_line_is_dropped() {
        let a = Answer {
            model: 1,
            level: 4,
            index: 7,
            scene_seed: u64::MAX,
            kind: "count".into(),
            question: "How many \"stars\"?".into(),
            truth: "4".into(),
            answer: "3".into(),
            correct: false,
            attention_on_target: Some(0.25),
            target_area: Some(0.125),
            latency_ms: 12.5,
        };
        let line = a.to_json_line();
        let text = format!("{line}\n{line}\n");
        assert_eq!(
            Answer::parse_lines(&text).unwrap(),
            vec![a.clone(), a.clone()]
        );
        let torn = format!("{line}\n{}", &line[..20]);
        assert_eq!(Answer::parse_lines(&torn).unwrap(), vec![a.clone()]);
        let broken = format!("{}\n{line}\n", &line[..20]);
        let err = Answer::parse_lines(&broken).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}

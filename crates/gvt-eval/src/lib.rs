//! Evaluation metrics: GVTBench (object counting and multi-class identification) and
//! exact-match accuracy for the extra question kinds (colour, position).
//!
//! # What GVTBench measures
//!
//! GVTBench ("What Makes for Good Visual Tokenizers for Large Language Models?", arXiv
//! 2305.12223, section 3) probes *fine-grained* visual perception, which captioning and VQA
//! scores hide. It has two tasks, each built on MS-COCO and on VCR, 10,000 questions per
//! file (`coco_oc.json`, `vcr_oc.json`, `coco_mci.json`, `vcr_mci.json`):
//!
//! - **OC, object counting**: "How many {objects} are there in the image?", answered with a
//!   count ("1" ... "9" in the released files). Scored by accuracy, MAE and RMSE of the
//!   count, overall and per bin of the ground truth `gt // 3` (0-2, 3-5, 6-8, 9-11, ...).
//! - **MCI, multi-class identification**: "Does {object} exist in the image?", answered
//!   "Yes." or "No.". Scored by accuracy, overall and per bin of `n_obj_exist` (the number
//!   of annotated objects in the image, a proxy for clutter): 1-9, 10-19, 20 and more.
//!
//! # Fidelity to the released evaluation code
//!
//! The published numbers come from the authors' code (TencentARC/GVT,
//! `gvt/modules/evaluations/count.py`, `gvt/modules/evaluations/multiclass.py`, and the
//! `postprocess` function in `gvt/modules/modeling_gvt.py`). This module reproduces those
//! rules *including their quirks*, because a "cleaner" rule gives different numbers:
//!
//! - [`postprocess_generation`]: every generated answer is first cut at its first period
//!   ("Yes, there is. No." becomes "Yes, there is."); the metrics below receive that text.
//! - [`parse_count`]: the number words are replaced by plain, **case-sensitive substring**
//!   replacement, in the order `none one two three four five six seven eight nive` (sic:
//!   the reference misspells "nine", so "nine" is *not* mapped, and "Three" is not either),
//!   then the first run of decimal digits is the count, 0 when there is none.
//! - [`mci_correct`]: substring tests, so "I don't know" counts as "no" (k-**no**-w).
//!
//! Each rule's documentation lists its edge cases; the tests pin them down.
//!
//! # A property of the data worth knowing
//!
//! In `vcr_mci.json` every question whose truth is "No." is spelled "Does X **exis** in the
//! image?" and every "Yes." question "Does X exist in the image?": the question text alone
//! gives the answer away (see the `vcr_mci_typo_gives_the_answer_away` test). Models trained
//! on text derived from these files could learn it; scores on VCR-MCI should be read with
//! that in mind.
//!
//! # Layout
//!
//! - [`metrics`]: answer normalisation and the metric structs.
//! - [`gvtbench`]: the annotation files (reader, task detection) and scoring of predictions.
//! - [`report`]: a terminal table and JSON for a set of results.
//! - [`synthetic`]: a model asked about held-out generated scenes.
//! - [`real`]: a model asked GVTBench's questions about real images, answers kept in a file
//!   that a stopped run resumes.

pub mod gvtbench;
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod real;
pub mod report;
pub mod synthetic;

#[cfg(test)]
mod real_data_tests;

pub use metrics::{
    AccuracyMetrics, CountBin, CountingMetrics, IdentificationBin, IdentificationMetrics,
    TaskMetrics, exact_match, mci_correct, normalize_answer, parse_count, postprocess_generation,
};
pub use report::{Report, ReportEntry};

/// Errors of the evaluation module: unreadable or malformed annotation files, and
/// predictions that do not fit the items they score.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The text is not valid JSON. The message ends with the line and column; it is shown
    /// in this error's message, so it is not also a `source()`.
    #[error("invalid JSON: {0}")]
    Json(serde_json::Error),
    /// The JSON is valid but is not a GVTBench annotation file (e.g. not an array).
    #[error("not a GVTBench annotation file: {0}")]
    Format(String),
    /// One item of the annotation array is unusable (missing field, wrong type, number
    /// out of range).
    #[error("GVTBench item {index}: {message}")]
    Item {
        /// 0-based position in the array.
        index: usize,
        /// What was wrong.
        message: String,
    },
    /// An item's question matches neither the OC nor the MCI template.
    #[error(
        "GVTBench item {index}: question {question:?} matches neither the OC template \"How many {{objects}} are there in the image?\" nor the MCI template \"Does {{object}} exist in the image?\""
    )]
    UnknownQuestion {
        /// 0-based position in the array.
        index: usize,
        /// The question.
        question: String,
    },
    /// The items mix OC and MCI questions, so no single task can score them.
    #[error(
        "GVTBench item {index} is a {found} question but item 0 is a {expected} question; score each task separately"
    )]
    MixedTasks {
        /// 0-based position of the first item of the other task.
        index: usize,
        /// The task of item 0.
        expected: &'static str,
        /// The task of item `index`.
        found: &'static str,
    },
    /// An OC ground truth is not a non-negative integer.
    #[error("GVTBench item {index}: the OC ground truth {text:?} is not a non-negative integer")]
    BadTruth {
        /// 0-based position in the array.
        index: usize,
        /// The ground truth text.
        text: String,
    },
    /// There are not as many predictions as items.
    #[error("{items} items but {predictions} predictions: give exactly one prediction per item")]
    LengthMismatch {
        /// Number of items.
        items: usize,
        /// Number of predictions.
        predictions: usize,
    },
    /// There is nothing to evaluate.
    #[error("no GVTBench items")]
    Empty,
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error (shown in the message, so not also a `source()`).
        reason: std::io::Error,
    },
}

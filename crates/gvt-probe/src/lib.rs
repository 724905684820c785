//! Probing studies: what a multimodal model perceives, measured one property at a time.
//!
//! A probe sweeps one property of generated scenes (the count of the asked objects, the
//! number of distractors, size, occlusion, clutter, resolution, blur, noise, look-alike
//! colours, position) over levels, asks K seeded scenes per level a GVTBench-style question,
//! and measures per level:
//! - accuracy with a 95% Wilson interval;
//! - for counts, the mean absolute error and a confusion matrix;
//! - the share of the answer's attention map on the target objects' boxes;
//! - the time per question.
//!
//! The pieces, in the order a probe uses them:
//! - [`sweep`]: the sweeps, a probe's [`ProbeSpec`], and its [`Trial`]s (scene, question,
//!   target);
//! - [`look`]: how a trial's scene becomes the picture the model sees;
//! - [`run`]: asking a trial of a loaded [`gvt_core::pipeline::Pipeline`];
//! - [`record`]: the [`Answer`] lines a probe writes as it goes (and resumes from);
//! - [`stats`] and [`report`]: the figures, recounted from the answers, as JSON and CSV;
//! - [`plot`] (native), [`failure`] and [`page`]: the curves (SVG, PNG), pictures of wrong
//!   answers, and an HTML page of both.
//!
//! The CLI (`gvt probe`) and the app's Probe panel drive the same pieces.

pub mod failure;
pub mod look;
pub mod page;
#[cfg(not(target_arch = "wasm32"))]
pub mod plot;
pub mod record;
pub mod report;
pub mod run;
pub mod stats;
pub mod sweep;

pub use record::Answer;
pub use report::{ModelCurve, ProbeReport};
pub use stats::{LevelStats, Metric};
pub use sweep::{Ask, ProbeSpec, Sweep, Trial};

/// Why a probe cannot run or report.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A sweep, level or option that cannot make scenes.
    #[error("{0}")]
    Spec(String),
    #[error(transparent)]
    Scene(#[from] gvt_scene::SceneError),
    #[error(transparent)]
    Model(#[from] gvt_core::Error),
    /// A line of `answers.jsonl` that is not an answer.
    #[error("the answers file, {0}")]
    Answers(String),
    #[error("drawing a plot: {0}")]
    Plot(String),
}

use thiserror::Error;

/// What can go wrong loading or running a model on the CPU engine.
#[derive(Debug, Error)]
pub enum CpuError {
    #[error("tensor `{tensor}`: {problem}")]
    Shape { tensor: String, problem: String },
    #[error("tensor `{tensor}` is stored as {format}, which the engines do not run")]
    UnsupportedFormat { tensor: String, format: String },
    #[error("{0}")]
    InvalidInput(String),
    /// A norm, bias or other vector the engine reads as f32 holds NaN or an infinity.
    #[error("tensor `{tensor}` holds {value} at element {index}: the file's weights are broken")]
    NonFinite {
        tensor: String,
        index: usize,
        value: f32,
    },
}

pub type Result<T, E = CpuError> = std::result::Result<T, E>;

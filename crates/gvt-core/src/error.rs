//! The library's error type: every failure a user can cause (bad file, bad image, missing
//! GPU, cancelled request) ends here with a message that says what to do.

use crate::gguf::GgufError;
use crate::tokenizer::TokenizerError;

/// Errors of the GVT Lens library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The weights do not fit the model the metadata describes.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// The metadata describes a model this implementation cannot run.
    #[error("unsupported model: {0}")]
    UnsupportedModel(String),
    /// The image could not be read.
    #[error("cannot read the image: {0}")]
    Image(String),
    /// The request itself is unusable (empty question, no image for a vision model...).
    #[error("{0}")]
    InvalidInput(String),
    /// No usable compute device.
    #[error("device error: {0}")]
    Device(String),
    /// A computation failed on the device.
    #[error("computation failed on the device: {0}")]
    Execution(String),
    /// The GPU failed while it ran the model: the device was lost (a driver reset, out of
    /// memory: wgpu loses the device then) or its driver reported an error. The CPU can
    /// still run the model.
    #[error(
        "the GPU failed: {0}. Run the model on the CPU instead ({choose})",
        choose = crate::device::CHOOSE_CPU
    )]
    GpuFailed(String),
    /// The GPU engine refused a model or a buffer (names the tensor, buffer or limit).
    #[error("GPU engine: {0}")]
    Engine(gvt_gpu::GpuError),
    /// The CPU engine refused a model (names the tensor).
    #[error("CPU engine: {0}")]
    CpuEngine(gvt_cpu::CpuError),
    /// The model cannot fit the device; the message gives the figures.
    #[error("{0}")]
    OutOfMemory(String),
    /// Weights, or values computed from them, are NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// A model could not be downloaded (the browser build).
    #[error("{0}")]
    Download(String),
    /// The reason is part of the message (not a `source()`), so it is shown once.
    #[error("cannot read {path}: {reason}")]
    Io {
        path: String,
        reason: std::io::Error,
    },
}

impl From<burn::tensor::ExecutionError> for Error {
    fn from(e: burn::tensor::ExecutionError) -> Self {
        use burn::tensor::ExecutionError::*;
        match e {
            DevicePoisoned { reason } => device_lost(&reason),
            WithContext { reason } | Generic { reason, .. } => Error::Execution(reason),
        }
    }
}

impl From<burn::tensor::DataError> for Error {
    /// burn reads a device's data lazily, and a read that fails then carries the device's
    /// error only as text: "The device is poisoned\nCaused by:\n  Destroyed: ...".
    fn from(e: burn::tensor::DataError) -> Self {
        let text = e.to_string();
        match text.split_once("The device is poisoned") {
            Some((_, rest)) => device_lost(
                rest.split_once("Caused by:")
                    .and_then(|(_, r)| r.trim_start().lines().next())
                    .unwrap_or("unknown reason"),
            ),
            None => Error::Execution(text),
        }
    }
}

impl From<gvt_gpu::GpuError> for Error {
    /// A lost device or a driver error is the GPU failing (the CPU can still run the model);
    /// bad input is the request's fault.
    fn from(e: gvt_gpu::GpuError) -> Self {
        use gvt_gpu::GpuError::*;
        match e {
            DeviceLost(reason) => Error::GpuFailed(format!("the device was lost ({reason})")),
            Validation { .. } => Error::GpuFailed(e.to_string()),
            OutOfMemory { .. } => Error::OutOfMemory(format!(
                "{e}. Run the model on the CPU instead ({choose})",
                choose = crate::device::CHOOSE_CPU
            )),
            InvalidInput(message) => Error::InvalidInput(message),
            NonFinite => Error::NonFinite(e.to_string()),
            other => Error::Engine(other),
        }
    }
}

impl From<gvt_cpu::CpuError> for Error {
    fn from(e: gvt_cpu::CpuError) -> Self {
        match e {
            gvt_cpu::CpuError::InvalidInput(message) => Error::InvalidInput(message),
            e @ gvt_cpu::CpuError::NonFinite { .. } => Error::NonFinite(e.to_string()),
            other => Error::CpuEngine(other),
        }
    }
}

/// A GPU that cubecl marked poisoned: it stays lost for the rest of the process. wgpu's
/// reason reads "Destroyed: " or "Unknown: <message>".
fn device_lost(reason: &str) -> Error {
    Error::GpuFailed(format!(
        "the device was lost ({})",
        reason.trim().trim_end_matches(':')
    ))
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

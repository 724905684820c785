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
    /// A computation failed on the device (lost device, buffer over the adapter's limit...).
    #[error("computation failed on the device: {0}")]
    Execution(String),
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

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

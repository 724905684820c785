use thiserror::Error;

/// What can go wrong on the GPU; every message names the tensor, buffer or limit.
#[derive(Debug, Error)]
pub enum GpuError {
    #[error("tensor `{tensor}` is stored as {format}, which the GPU engine does not run")]
    UnsupportedFormat { tensor: String, format: String },
    #[error(
        "tensor `{tensor}`: one row takes {row_bytes} bytes, more than the adapter binds at \
         once ({limit} bytes)"
    )]
    RowTooLarge {
        tensor: String,
        row_bytes: u64,
        limit: u64,
    },
    #[error(
        "{what} needs a buffer of {bytes} bytes; the adapter's limit is {limit} bytes \
         ({limit_name})"
    )]
    BufferTooLarge {
        what: String,
        bytes: u64,
        limit: u64,
        limit_name: &'static str,
    },
    #[error("the GPU ran out of memory while allocating {what}")]
    OutOfMemory { what: String },
    #[error("tensor `{tensor}`: {problem}")]
    Shape { tensor: String, problem: String },
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("the GPU rejected {what}: {message}")]
    Validation { what: String, message: String },
    #[error("{0}")]
    InvalidInput(String),
    /// The logits of a step held NaN or infinite values.
    #[error("the logits became NaN or infinite")]
    NonFinite,
}

pub type Result<T, E = GpuError> = std::result::Result<T, E>;

/// The shared model description (`gvt-cpu`) reports tensors the same way.
impl From<gvt_cpu::CpuError> for GpuError {
    fn from(e: gvt_cpu::CpuError) -> Self {
        match e {
            gvt_cpu::CpuError::Shape { tensor, problem } => Self::Shape { tensor, problem },
            gvt_cpu::CpuError::UnsupportedFormat { tensor, format } => {
                Self::UnsupportedFormat { tensor, format }
            }
            gvt_cpu::CpuError::InvalidInput(m) => Self::InvalidInput(m),
            e @ gvt_cpu::CpuError::NonFinite { .. } => Self::InvalidInput(e.to_string()),
        }
    }
}

//! The WGSL that reads each GGUF format the engine runs (`shaders/formats/`).

pub use gvt_cpu::WeightFormat;

/// The shader source of a format.
pub(crate) trait FormatWgsl {
    fn dot_wgsl(self) -> &'static str;
    fn wgsl(self) -> &'static str;
}

impl FormatWgsl for WeightFormat {
    /// The WGSL that reads this format (`shaders/formats/`), after the shared block reader.
    /// `block_dot` for the linear kernels: one that reads the block's scales once, or the
    /// generic one over `block_group8`.
    fn dot_wgsl(self) -> &'static str {
        match self {
            Self::Q4_0 => include_str!("../../../shaders/formats/dot/q4_0.wgsl"),
            Self::Q4_1 => include_str!("../../../shaders/formats/dot/q4_1.wgsl"),
            Self::Q8_0 => include_str!("../../../shaders/formats/dot/q8_0.wgsl"),
            _ => include_str!("../../../shaders/formats/dot/generic.wgsl"),
        }
    }

    fn wgsl(self) -> &'static str {
        match self {
            Self::F32 => include_str!("../../../shaders/formats/f32.wgsl"),
            Self::F16 => include_str!("../../../shaders/formats/f16.wgsl"),
            Self::BF16 => include_str!("../../../shaders/formats/bf16.wgsl"),
            Self::Q4_0 => include_str!("../../../shaders/formats/q4_0.wgsl"),
            Self::Q4_1 => include_str!("../../../shaders/formats/q4_1.wgsl"),
            Self::Q5_0 => include_str!("../../../shaders/formats/q5_0.wgsl"),
            Self::Q5_1 => include_str!("../../../shaders/formats/q5_1.wgsl"),
            Self::Q8_0 => include_str!("../../../shaders/formats/q8_0.wgsl"),
            Self::Q4_K => include_str!("../../../shaders/formats/q4_k.wgsl"),
            Self::Q5_K => include_str!("../../../shaders/formats/q5_k.wgsl"),
            Self::Q6_K => include_str!("../../../shaders/formats/q6_k.wgsl"),
        }
    }
}

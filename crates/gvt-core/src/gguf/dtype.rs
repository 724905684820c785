//! ggml tensor types: their numeric ids in GGUF files and their block layouts.

use std::fmt;

/// A ggml tensor type, with the numeric id GGUF files store for it.
///
/// Quantized types pack `block_size()` consecutive values of a row into `type_size()`
/// bytes; plain types have a block size of 1. Ids 4, 5 and 31..=33, 36..=38 belonged to
/// types ggml has removed and are not accepted.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
}

/// Values per block of the K-quants (ggml's `QK_K`).
const QK_K: usize = 256;

impl GgmlType {
    /// Every known type, in id order.
    pub const ALL: [GgmlType; 34] = [
        Self::F32,
        Self::F16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q8_1,
        Self::Q2_K,
        Self::Q3_K,
        Self::Q4_K,
        Self::Q5_K,
        Self::Q6_K,
        Self::Q8_K,
        Self::IQ2_XXS,
        Self::IQ2_XS,
        Self::IQ3_XXS,
        Self::IQ1_S,
        Self::IQ4_NL,
        Self::IQ3_S,
        Self::IQ2_S,
        Self::IQ4_XS,
        Self::I8,
        Self::I16,
        Self::I32,
        Self::I64,
        Self::F64,
        Self::IQ1_M,
        Self::BF16,
        Self::TQ1_0,
        Self::TQ2_0,
        Self::MXFP4,
        Self::NVFP4,
        Self::Q1_0,
    ];

    /// The type with ggml id `id`, or `None` for an unknown (or removed) id.
    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.id() == id)
    }

    /// The type whose [`name`](Self::name) is `name`, ignoring ASCII case (`q8_0`, `Q4_K`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The numeric id stored in GGUF tensor infos.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Upper-case name as llama.cpp prints it in file types (`F32`, `Q4_K`, `BF16`).
    pub fn name(self) -> &'static str {
        self.layout().0
    }

    /// Number of values in one block (1 for plain types, 32 for Q8_0, 256 for K-quants).
    pub fn block_size(self) -> usize {
        self.layout().1
    }

    /// Bytes of one block.
    pub fn type_size(self) -> usize {
        self.layout().2
    }

    /// Bytes of a row of `n` values, or `None` when `n` is not a whole number of blocks
    /// or the size overflows.
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        if !n.is_multiple_of(self.block_size()) {
            return None;
        }
        (n / self.block_size()).checked_mul(self.type_size())
    }

    /// Whether values are stored in multi-value blocks (everything but the plain
    /// float and integer types).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Whether [`crate::gguf::quant::dequantize`] supports this type.
    pub fn can_dequantize(self) -> bool {
        matches!(
            self,
            Self::F32
                | Self::F16
                | Self::BF16
                | Self::F64
                | Self::I8
                | Self::I16
                | Self::I32
                | Self::I64
                | Self::Q4_0
                | Self::Q4_1
                | Self::Q5_0
                | Self::Q5_1
                | Self::Q8_0
                | Self::Q2_K
                | Self::Q3_K
                | Self::Q4_K
                | Self::Q5_K
                | Self::Q6_K
                | Self::Q8_K
        )
    }

    /// Whether [`crate::gguf::quant::quantize`] supports this type.
    pub fn can_quantize(self) -> bool {
        matches!(
            self,
            Self::F32
                | Self::F16
                | Self::BF16
                | Self::Q4_0
                | Self::Q4_1
                | Self::Q5_0
                | Self::Q5_1
                | Self::Q8_0
                | Self::Q4_K
                | Self::Q6_K
        )
    }

    /// (name, block size, bytes per block), as in ggml's type traits.
    fn layout(self) -> (&'static str, usize, usize) {
        match self {
            Self::F32 => ("F32", 1, 4),
            Self::F16 => ("F16", 1, 2),
            Self::Q4_0 => ("Q4_0", 32, 2 + 16),
            Self::Q4_1 => ("Q4_1", 32, 2 + 2 + 16),
            Self::Q5_0 => ("Q5_0", 32, 2 + 4 + 16),
            Self::Q5_1 => ("Q5_1", 32, 2 + 2 + 4 + 16),
            Self::Q8_0 => ("Q8_0", 32, 2 + 32),
            Self::Q8_1 => ("Q8_1", 32, 4 + 4 + 32),
            Self::Q2_K => ("Q2_K", QK_K, 2 + 2 + QK_K / 16 + QK_K / 4),
            Self::Q3_K => ("Q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
            Self::Q4_K => ("Q4_K", QK_K, 2 + 2 + QK_K / 2 + 12),
            Self::Q5_K => ("Q5_K", QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12),
            Self::Q6_K => ("Q6_K", QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16),
            Self::Q8_K => ("Q8_K", QK_K, 4 + QK_K + QK_K / 8),
            Self::IQ2_XXS => ("IQ2_XXS", QK_K, 2 + QK_K / 4),
            Self::IQ2_XS => ("IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32),
            Self::IQ3_XXS => ("IQ3_XXS", QK_K, 2 + QK_K / 4 + QK_K / 8),
            Self::IQ1_S => ("IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16),
            Self::IQ4_NL => ("IQ4_NL", 32, 2 + 16),
            Self::IQ3_S => ("IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4),
            Self::IQ2_S => ("IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 16),
            Self::IQ4_XS => ("IQ4_XS", QK_K, 2 + 2 + QK_K / 2 + QK_K / 64),
            Self::I8 => ("I8", 1, 1),
            Self::I16 => ("I16", 1, 2),
            Self::I32 => ("I32", 1, 4),
            Self::I64 => ("I64", 1, 8),
            Self::F64 => ("F64", 1, 8),
            Self::IQ1_M => ("IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
            Self::BF16 => ("BF16", 1, 2),
            Self::TQ1_0 => ("TQ1_0", QK_K, 2 + 4 * 13),
            Self::TQ2_0 => ("TQ2_0", QK_K, 2 + 64),
            Self::MXFP4 => ("MXFP4", 32, 1 + 16),
            Self::NVFP4 => ("NVFP4", 64, 4 + 32),
            Self::Q1_0 => ("Q1_0", 128, 2 + 16),
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

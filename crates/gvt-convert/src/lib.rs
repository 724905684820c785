//! `gvt convert`: real GVT weights into GGUF, in the layout of `docs/gguf-layout.md`.
//!
//! Inputs: the official GVT checkpoint (a PyTorch file, with or without a Lightning
//! `state_dict` nesting) for the vision half, and for the LLM a Hugging Face LLaMA folder
//! (`config.json`, safetensors or PyTorch shards, SentencePiece `tokenizer.model`) or a
//! LLaMA-family GGUF. Output: one GVT GGUF, a vision-only GGUF (the LLM stays its own
//! file), or a plain LLaMA GGUF.
//!
//! The work is split in two: [`plan`] reads only headers and checks every name and shape
//! against the configuration, so `--dry-run` shows the whole conversion and every error
//! comes before a byte is written; [`Plan::write`] then streams one tensor at a time
//! (read, convert to f32 a slice of rows, quantize, write), so peak memory is one source
//! tensor plus a few megabytes, never the model.

mod checkpoint;
mod hf;
pub mod layout;
mod plan;
pub mod sentencepiece;
pub mod source;

use std::path::PathBuf;

use gvt_core::gguf::GgmlType;

pub use plan::{Origin, Plan, PlannedTensor, plan};

/// Why a conversion cannot go on; every message names the file, tensor or key.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{}: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("writing {}: {reason}", file.display())]
    Write { file: PathBuf, reason: String },
    #[error(transparent)]
    Gguf(#[from] gvt_core::gguf::GgufError),
}

pub type Result<T> = std::result::Result<T, ConvertError>;

/// The storage type asked for with `--type`. Small tensors stay f32 and rows that are not
/// whole blocks fall back to a smaller block, as llama.cpp does (see [`OutType::dtype_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)] // ggml's names
pub enum OutType {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q4_K,
    Q6_K,
}

impl OutType {
    pub fn ggml(self) -> GgmlType {
        match self {
            OutType::F32 => GgmlType::F32,
            OutType::F16 => GgmlType::F16,
            OutType::Q8_0 => GgmlType::Q8_0,
            OutType::Q4_0 => GgmlType::Q4_0,
            OutType::Q4_1 => GgmlType::Q4_1,
            OutType::Q4_K => GgmlType::Q4_K,
            OutType::Q6_K => GgmlType::Q6_K,
        }
    }

    /// The type a tensor of `role` with rows of `row_len` values is stored in.
    ///
    /// Norms, biases and tables stay f32; the patch convolution (rows of `patch` values) is
    /// f16 at most; the LM head takes Q6_K under 4-bit types, as llama.cpp does. A type
    /// whose block does not divide the row falls back like llama.cpp's quantizer:
    /// Q4_K -> Q5_0, Q6_K -> Q8_0, 32-blocks -> F16.
    pub fn dtype_for(self, role: layout::Role, row_len: usize) -> GgmlType {
        use layout::Role;
        let want = self.ggml();
        let mut dtype = match role {
            Role::Small => return GgmlType::F32,
            Role::Conv if want == GgmlType::F32 => GgmlType::F32,
            Role::Conv => GgmlType::F16,
            Role::Output if matches!(self, OutType::Q4_0 | OutType::Q4_1 | OutType::Q4_K) => {
                GgmlType::Q6_K
            }
            Role::Matrix | Role::Embedding | Role::Output => want,
        };
        // Ends at F16, whose block is one value.
        while !row_len.is_multiple_of(dtype.block_size()) {
            dtype = match dtype {
                GgmlType::Q4_K => GgmlType::Q5_0,
                GgmlType::Q6_K => GgmlType::Q8_0,
                _ => GgmlType::F16,
            };
        }
        dtype
    }
}

/// What to convert.
#[derive(Debug, Clone)]
pub struct Options {
    /// The official GVT checkpoint (vision tower, resampler, projection).
    pub checkpoint: Option<PathBuf>,
    /// The LLM: a Hugging Face LLaMA folder or a LLaMA-family GGUF.
    pub llm: Option<PathBuf>,
    pub out_type: OutType,
    /// ViT heads; by default width / 64 (every EVA-02 size has 64-wide heads).
    pub vision_heads: Option<usize>,
    /// Resampler heads; by default inner width / 96 (GVT's perceiver has 96-wide heads).
    pub resampler_heads: Option<usize>,
    /// `general.name`; by default the input's file or folder name.
    pub name: Option<String>,
    /// List tensors the model does not use instead of refusing the checkpoint.
    pub allow_unused: bool,
}

/// Largest JSON or tokenizer file read whole (a LLaMA 3 `tokenizer.json` is 9 MB): checked
/// before the bytes are read.
const MAX_SMALL_FILE: u64 = 64 << 20;

/// Reads a small file (configuration, tokenizer) whole, after checking its size.
fn read_small(path: &std::path::Path) -> Result<Vec<u8>> {
    let fail = |reason: String| ConvertError::Read {
        file: path.to_path_buf(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if len > MAX_SMALL_FILE {
        return Err(fail(format!(
            "{len} bytes, more than the {MAX_SMALL_FILE} a configuration or tokenizer file may have"
        )));
    }
    std::fs::read(path).map_err(|e| fail(e.to_string()))
}

/// Reads and parses a JSON file, naming it on failure.
fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    serde_json::from_slice(&read_small(path)?).map_err(|e| ConvertError::Read {
        file: path.to_path_buf(),
        reason: format!("JSON: {e}"),
    })
}

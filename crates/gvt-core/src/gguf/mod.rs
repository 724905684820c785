//! Reading and writing GGUF, the single-file model format of ggml / llama.cpp.
//!
//! # The format (version 3; version 2 is identical for little-endian files)
//!
//! All numbers are little-endian. A string is a `u64` byte length followed by UTF-8 bytes
//! (no terminator).
//!
//! ```text
//! header      magic "GGUF" | version u32 | tensor_count u64 | metadata_count u64
//! metadata    metadata_count x ( key string | value_type u32 | value )
//! tensor info tensor_count x ( name string | n_dims u32 | dims u64 x n_dims
//!                              | ggml_type u32 | offset u64 )
//! padding     zeros up to a multiple of the alignment
//! data        tensor bytes; each tensor starts at data_start + offset, offsets are
//!             multiples of the alignment
//! ```
//!
//! Value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (one byte, 0 or 1),
//! 8 string, 9 array (`element_type u32 | count u64 | elements`, homogeneous), 10 u64,
//! 11 i64, 12 f64. The alignment is 32 unless the metadata key `general.alignment` (u32)
//! says otherwise.
//!
//! Tensor dims are in ggml order: `dims[0]` (`ne[0]`) is the fastest-moving axis, so the
//! row-major shape is the dims reversed. Quantized types ([`GgmlType`]) store a row as
//! blocks of `block_size()` values in `type_size()` bytes; [`quant`] converts blocks to and
//! from f32 exactly as ggml does.
//!
//! # This module
//!
//! - [`GgufFile`] parses a file held in memory, validating everything (counts against the
//!   bytes left, UTF-8, dims, types, alignment, tensor placement) so that hostile or cut-off
//!   files give a [`GgufError`] naming the key, tensor or byte offset, never a panic.
//! - [`GgufWriter`] builds files (version 3), quantizing f32 data on the way in.
//! - [`Metadata`] holds the key/value pairs with typed getters for converters and loaders.
//!
//! Nothing here knows about GVT or LLaMA tensor names; see `docs/gguf-layout.md` for those.

pub mod dtype;
pub mod error;
mod kquant;
pub mod quant;
pub mod reader;
pub mod value;
pub mod writer;

#[cfg(test)]
mod tests;

pub use dtype::GgmlType;
pub use error::GgufError;
pub use reader::{GgufBytes, GgufFile, TensorInfo, TensorView};
pub use value::{Array, Metadata, StringArray, Value};
pub use writer::{GgufWriter, StreamWriter, TensorHeader};

//! The one error type of the GGUF module.
//!
//! Every variant names what went wrong and where: the metadata key, the tensor, or the byte
//! offset in the file, so that a message about a broken download can be acted on.

use std::path::PathBuf;

use super::dtype::GgmlType;

/// Everything that can go wrong while reading, writing, or (de)quantizing GGUF data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// Reading or writing a file failed.
    #[error("cannot access GGUF file {}: {reason}", path.display())]
    Io {
        /// The file that could not be read or written.
        path: PathBuf,
        /// The underlying error (shown in the message, so not also a `source()`).
        reason: std::io::Error,
    },

    /// The file does not start with the bytes `GGUF`.
    #[error("not a GGUF file: it starts with {found}, expected \"GGUF\"")]
    BadMagic {
        /// The first four bytes, escaped for printing.
        found: String,
    },

    /// The header's version is not one this reader understands (2 and 3 are).
    #[error("unsupported GGUF version {version}: {reason}")]
    UnsupportedVersion {
        /// The version number as read (little-endian).
        version: u32,
        /// Why it is not supported and what to do about it.
        reason: &'static str,
    },

    /// The file ends before a structure that must be there.
    #[error(
        "truncated GGUF file: {section} at byte offset {offset} needs {needed} bytes, \
         but only {available} remain"
    )]
    Truncated {
        /// What was being read, e.g. `value of metadata key 'general.name'`.
        section: String,
        /// Byte offset in the file where the read started.
        offset: u64,
        /// Bytes the read needed.
        needed: u64,
        /// Bytes left in the file from `offset`.
        available: u64,
    },

    /// A count in the file (of tensors, metadata entries or array elements) is larger
    /// than the rest of the file could possibly hold.
    #[error(
        "impossible count: the file claims {count} {what} at byte offset {offset}, \
         but only {remaining} bytes remain, enough for at most {max} \
         (corrupt or truncated file)"
    )]
    CountTooLarge {
        /// What is counted, e.g. `tensors` or `elements in metadata array 'x'`.
        what: String,
        /// The count as read.
        count: u64,
        /// Byte offset of the count.
        offset: u64,
        /// Bytes left after the count.
        remaining: u64,
        /// The largest count the remaining bytes allow.
        max: u64,
    },

    /// A string's length prefix points past the end of the file.
    #[error(
        "string too long: {context} at byte offset {offset} claims {len} bytes, \
         but only {remaining} remain"
    )]
    StringTooLong {
        /// Which string, e.g. `name of tensor #3`.
        context: String,
        /// Byte offset of the length prefix.
        offset: u64,
        /// The claimed length.
        len: u64,
        /// Bytes left after the length prefix.
        remaining: u64,
    },

    /// A key, string value or tensor name is not valid UTF-8.
    #[error("{context} at byte offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which string.
        context: String,
        /// Byte offset of the string's bytes.
        offset: u64,
    },

    /// A metadata value (or array element) has a type id outside 0..=12.
    #[error(
        "metadata key '{key}': unknown value type id {type_id} at byte offset {offset} \
         (known ids are 0..=12)"
    )]
    UnknownValueType {
        /// The key whose value could not be read.
        key: String,
        /// The type id as read.
        type_id: u32,
        /// Byte offset of the type id.
        offset: u64,
    },

    /// Arrays of arrays nest deeper than [`crate::gguf::value::MAX_ARRAY_NESTING`].
    #[error("metadata key '{key}': arrays nested more than {max_depth} levels deep")]
    ArrayTooDeep {
        /// The key holding the nested array.
        key: String,
        /// The nesting limit.
        max_depth: usize,
    },

    /// The strings of one array hold more text than a
    /// [`StringArray`](crate::gguf::value::StringArray) can (4 GiB).
    #[error(
        "metadata key '{key}': the strings of the array at byte offset {offset} hold \
         {text_bytes} bytes, more than the {max} one array may hold"
    )]
    StringArrayTooLarge {
        /// The key holding the array.
        key: String,
        /// Byte offset of the array's first string.
        offset: u64,
        /// Bytes of text in all the strings.
        text_bytes: u64,
        /// The limit.
        max: u64,
    },

    /// A boolean value is neither 0 nor 1.
    #[error("metadata key '{key}': boolean byte at offset {offset} is {value}, expected 0 or 1")]
    InvalidBool {
        /// The key holding the boolean.
        key: String,
        /// The byte as read.
        value: u8,
        /// Byte offset of the boolean.
        offset: u64,
    },

    /// A metadata key appears twice.
    #[error("duplicate metadata key '{key}'")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },

    /// A tensor name appears twice.
    #[error("duplicate tensor name '{name}'")]
    DuplicateTensor {
        /// The repeated name.
        name: String,
    },

    /// A tensor has more than 4 dimensions (ggml's `GGML_MAX_DIMS`).
    #[error("tensor '{tensor}' has {n_dims} dimensions, at most 4 are allowed")]
    TooManyDims {
        /// The tensor name.
        tensor: String,
        /// The number of dimensions as read.
        n_dims: u64,
    },

    /// A tensor has a dimension of size 0.
    #[error("tensor '{tensor}' has a zero-sized dimension: dims {dims:?} (ggml order)")]
    ZeroDim {
        /// The tensor name.
        tensor: String,
        /// Its dims in ggml order.
        dims: Vec<u64>,
    },

    /// A tensor's element or byte count does not fit in the address space.
    #[error(
        "tensor '{tensor}': element count of dims {dims:?} (ggml order) overflows \
         what this platform can address"
    )]
    ElementCountOverflow {
        /// The tensor name.
        tensor: String,
        /// Its dims in ggml order.
        dims: Vec<u64>,
    },

    /// A tensor's ggml type id is not a known ggml type (a wrong dtype).
    #[error("tensor '{tensor}' has unknown ggml type id {type_id} (wrong dtype)")]
    UnknownTensorType {
        /// The tensor name.
        tensor: String,
        /// The type id as read.
        type_id: u32,
    },

    /// A tensor's row (its `ne[0]`, the last row-major axis) is not a whole number of blocks.
    #[error(
        "tensor '{tensor}': row length {row_len} is not a multiple of the {dtype} \
         block size {block_size}"
    )]
    RowNotBlockMultiple {
        /// The tensor name.
        tensor: String,
        /// The row length (`ne[0]`).
        row_len: u64,
        /// The tensor's type.
        dtype: GgmlType,
        /// The type's block size.
        block_size: usize,
    },

    /// `general.alignment` is not a non-zero power of two that fits in a u32.
    #[error("general.alignment must be a non-zero power-of-two u32, found {found}")]
    BadAlignment {
        /// The value found, printed.
        found: String,
    },

    /// A tensor's offset is not a multiple of the file's alignment.
    #[error(
        "tensor '{tensor}': data offset {offset} is not a multiple of the alignment {alignment}"
    )]
    MisalignedTensor {
        /// The tensor name.
        tensor: String,
        /// The offset relative to the data section.
        offset: u64,
        /// The file's alignment.
        alignment: usize,
    },

    /// A tensor's data lies (partly) outside the file.
    #[error(
        "tensor '{tensor}': data at file bytes {start}..{end} lies outside the file \
         ({file_size} bytes)"
    )]
    TensorOutOfBounds {
        /// The tensor name.
        tensor: String,
        /// First byte, as an absolute file offset (saturated on overflow).
        start: u64,
        /// One past the last byte, as an absolute file offset (saturated on overflow).
        end: u64,
        /// The file size.
        file_size: u64,
    },

    /// A tensor was looked up by a name the file does not have.
    #[error("tensor '{0}' not found in the GGUF file")]
    MissingTensor(String),

    /// A metadata key was looked up that the file does not have.
    #[error("metadata key '{0}' not found")]
    MissingKey(String),

    /// A metadata value has a different type than the typed getter asked for.
    #[error("metadata key '{key}' holds {found}, expected {expected}")]
    WrongType {
        /// The key.
        key: String,
        /// What the getter wanted, e.g. `u32`.
        expected: &'static str,
        /// What was there, e.g. `string` or `i32 -1 (out of range)`.
        found: String,
    },

    /// The operation is not implemented for this ggml type.
    #[error("{operation} is not supported for ggml type {dtype}")]
    UnsupportedType {
        /// The type.
        dtype: GgmlType,
        /// `dequantize` or `quantize`.
        operation: &'static str,
    },

    /// A buffer of (quantized) data has the wrong length for its element count.
    #[error("{dtype} data for {n_elements} elements must be {expected} bytes, got {actual}")]
    DataLength {
        /// The data's type.
        dtype: GgmlType,
        /// The element count.
        n_elements: usize,
        /// The byte length the element count implies.
        expected: usize,
        /// The byte length given.
        actual: usize,
    },

    /// An element count is not a whole number of blocks.
    #[error("{n_elements} values are not a multiple of the {dtype} block size {block_size}")]
    NotBlockMultiple {
        /// The type.
        dtype: GgmlType,
        /// The element count.
        n_elements: usize,
        /// The type's block size.
        block_size: usize,
    },

    /// A tensor handed to [`crate::gguf::GgufWriter`] is inconsistent.
    #[error("cannot add tensor '{tensor}': {reason}")]
    InvalidTensor {
        /// The tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
}

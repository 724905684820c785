//! Parsing and validating GGUF files.
//!
//! The parser treats the file as untrusted: every count and length is checked against
//! the bytes that remain before anything is allocated for it, every size computation is
//! checked for overflow, and every tensor is checked to lie inside the file, so a broken
//! or hostile file gives a [`GgufError`] and never a panic or a huge allocation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::dtype::GgmlType;
use super::error::GgufError;
use super::quant;
use super::value::{Array, MAX_ARRAY_NESTING, Metadata, StringArray, Value, type_name_of_id};

/// `GGUF` as the first four bytes of every file.
pub(crate) const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the data section and of every tensor when `general.alignment` is absent.
pub(crate) const DEFAULT_ALIGNMENT: usize = 32;
/// The metadata key that overrides [`DEFAULT_ALIGNMENT`].
pub(crate) const ALIGNMENT_KEY: &str = "general.alignment";
/// ggml's `GGML_MAX_DIMS`.
pub(crate) const MAX_DIMS: usize = 4;

/// Smallest possible encoding of one metadata entry: empty key (8-byte length), value
/// type (4 bytes), and a 1-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest possible encoding of one tensor info: empty name, n_dims = 0, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

/// Where and how big one tensor is, as listed in the file's tensor-info table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions in ggml order: `dims[0]` (`ne[0]`) is the fastest-moving axis.
    pub dims: Vec<u64>,
    /// Element type.
    pub dtype: GgmlType,
    /// Offset of the data, relative to the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Row-major shape (the ggml dims reversed): a `[out, in]` matrix has dims `[in, out]`.
    pub fn shape(&self) -> Vec<usize> {
        self.dims
            .iter()
            .rev()
            .map(|&d| saturating_usize(d))
            .collect()
    }

    /// Number of elements (1 for a tensor with no dims). Saturates at `usize::MAX` for
    /// hand-made infos; parsed infos are checked not to overflow.
    pub fn n_elements(&self) -> usize {
        self.dims
            .iter()
            .fold(1usize, |n, &d| n.saturating_mul(saturating_usize(d)))
    }

    /// Number of bytes of the data. Saturates at `usize::MAX` for hand-made infos whose
    /// size overflows; parsed infos are checked.
    pub fn n_bytes(&self) -> usize {
        let n = self.n_elements();
        let blocks = n / self.dtype.block_size();
        blocks.saturating_mul(self.dtype.type_size())
    }
}

fn saturating_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// The bytes of a GGUF file, shared: a memory map natively (tensors are paged in when read,
/// so a 4 GB file costs no 4 GB of RAM), or bytes already in memory (the embedded model, a
/// download in the browser). Cloning shares them; nothing copies a model's bytes.
#[derive(Clone)]
pub struct GgufBytes(Arc<dyn AsRef<[u8]> + Send + Sync>);

impl GgufBytes {
    /// The bytes, shared: engines keep tensors where they lie.
    pub fn shared(&self) -> gvt_cpu::Shared {
        self.0.clone()
    }

    /// Maps the file at `path`. The map assumes the file is not changed while it is open,
    /// as llama.cpp does; a file shortened meanwhile makes reads past its end fault. In the
    /// browser there are no files: opening one is an error that names it.
    pub fn map(path: &std::path::Path) -> Result<Self, GgufError> {
        let io = |reason| GgufError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        if meta.len() == 0 {
            // Nothing to map (mmap rejects length 0); the parser reports the empty file.
            return Ok(Vec::new().into());
        }
        // SAFETY: the map is read-only and private to this process; see above for a file
        // changed by someone else while it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Self(Arc::new(map)))
    }
}

impl std::ops::Deref for GgufBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl std::fmt::Debug for GgufBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GgufBytes({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for GgufBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Arc::new(bytes))
    }
}

impl From<&'static [u8]> for GgufBytes {
    fn from(bytes: &'static [u8]) -> Self {
        Self(Arc::new(bytes))
    }
}

/// A parsed GGUF file: header, metadata, tensor infos, and the file bytes the tensors
/// point into.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// Format version (2 or 3; they differ only in big-endian support, which this reader
    /// does not have).
    pub version: u32,
    /// All metadata, in file order.
    pub metadata: Metadata,
    /// All tensor infos, in file order.
    pub tensors: Vec<TensorInfo>,
    bytes: GgufBytes,
    data_offset: usize,
    alignment: usize,
    index: HashMap<String, usize>,
}

/// A tensor's info and its raw bytes inside the file.
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    /// The tensor's info.
    pub info: &'a TensorInfo,
    /// Exactly the tensor's data (`info.n_bytes()` bytes).
    pub bytes: &'a [u8],
}

impl TensorView<'_> {
    /// Row-major shape.
    pub fn shape(&self) -> Vec<usize> {
        self.info.shape()
    }

    /// The values as f32, dequantized as ggml does.
    pub fn to_f32(&self) -> Result<Vec<f32>, GgufError> {
        quant::dequantize(self.info.dtype, self.bytes, self.info.n_elements())
    }
}

impl GgufFile {
    /// Parses a whole GGUF file's bytes and validates every tensor's placement.
    pub fn from_bytes(bytes: impl Into<GgufBytes>) -> Result<Self, GgufError> {
        let bytes = bytes.into();
        let parsed = parse(&bytes)?;
        Ok(Self {
            version: parsed.version,
            metadata: parsed.metadata,
            tensors: parsed.tensors,
            bytes,
            data_offset: parsed.data_offset,
            alignment: parsed.alignment,
            index: parsed.index,
        })
    }

    /// Maps and parses the GGUF file at `path` (see [`GgufBytes::map`]).
    pub fn open(path: &std::path::Path) -> Result<Self, GgufError> {
        Self::from_bytes(GgufBytes::map(path)?)
    }

    /// The info of tensor `name`, if the file has it.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        // `tensors` is public and may have been edited since parsing: trust the index only
        // when it still points at the right name.
        match self.index.get(name).and_then(|&i| self.tensors.get(i)) {
            Some(info) if info.name == name => Some(info),
            _ => self.tensors.iter().find(|t| t.name == name),
        }
    }

    /// The tensor `name` with its bytes, or [`GgufError::MissingTensor`].
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>, GgufError> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_string()))?;
        let bytes = self
            .tensor_range(info)
            .and_then(|(start, end)| self.bytes.get(start..end))
            .ok_or_else(|| self.out_of_bounds(info))?;
        Ok(TensorView { info, bytes })
    }

    /// Whether the file has a tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensor_info(name).is_some()
    }

    /// Alignment of the data section and the tensors (from `general.alignment`, else 32).
    pub fn alignment(&self) -> usize {
        self.alignment
    }

    /// Size of the whole file in bytes.
    pub fn file_size(&self) -> usize {
        self.bytes.len()
    }

    /// Absolute file offset of the data section.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    /// The whole file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The whole file, shared.
    pub fn bytes(&self) -> &GgufBytes {
        &self.bytes
    }

    /// Absolute byte range of a tensor's data, if it does not overflow.
    fn tensor_range(&self, info: &TensorInfo) -> Option<(usize, usize)> {
        let start = self
            .data_offset
            .checked_add(usize::try_from(info.offset).ok()?)?;
        let end = start.checked_add(info.n_bytes())?;
        Some((start, end))
    }

    fn out_of_bounds(&self, info: &TensorInfo) -> GgufError {
        let start = (self.data_offset as u64).saturating_add(info.offset);
        GgufError::TensorOutOfBounds {
            tensor: info.name.clone(),
            start,
            end: start.saturating_add(info.n_bytes() as u64),
            file_size: self.bytes.len() as u64,
        }
    }
}

/// Everything [`parse`] extracts; the bytes stay with the caller.
struct Parsed {
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    data_offset: usize,
    alignment: usize,
    index: HashMap<String, usize>,
}

fn parse(bytes: &[u8]) -> Result<Parsed, GgufError> {
    let mut c = Cursor::new(bytes);

    // Header: magic, version, tensor count, metadata count.
    let magic = c.array::<4>().map_err(truncated("GGUF header (magic)"))?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic {
            found: format!("\"{}\"", magic.escape_ascii()),
        });
    }
    let version = c.u32().map_err(truncated("GGUF header (version)"))?;
    check_version(version)?;
    let tensor_count = c.u64().map_err(truncated("GGUF header (tensor count)"))?;
    let kv_count = c.u64().map_err(truncated("GGUF header (metadata count)"))?;
    let remaining = c.remaining() as u64;
    check_count("metadata entries", kv_count, MIN_KV_BYTES, 16, remaining)?;
    check_count("tensors", tensor_count, MIN_TENSOR_INFO_BYTES, 8, remaining)?;

    // Metadata.
    let mut metadata = Metadata::new();
    for i in 0..kv_count {
        let key = read_string(&mut c, &|| format!("key of metadata entry #{i}"))?;
        let type_offset = c.pos();
        let type_id = c
            .u32()
            .map_err(truncated(format!("value type of metadata key '{key}'")))?;
        let value = read_value(&mut c, type_id, type_offset, &key, 0)?;
        metadata.insert_new(key, value)?;
    }

    // Tensor infos.
    let mut tensors = Vec::with_capacity(capacity_for(
        tensor_count,
        MIN_TENSOR_INFO_BYTES,
        c.remaining(),
    ));
    let mut index = HashMap::new();
    for i in 0..tensor_count {
        let info = read_tensor_info(&mut c, i)?;
        match index.entry(info.name.clone()) {
            Entry::Occupied(_) => return Err(GgufError::DuplicateTensor { name: info.name }),
            Entry::Vacant(slot) => {
                slot.insert(tensors.len());
            }
        }
        tensors.push(info);
    }

    // Data section: starts at the next multiple of the alignment.
    let alignment = alignment_of(&metadata)?;
    let data_offset =
        c.pos()
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| GgufError::Truncated {
                section: "tensor data section".to_string(),
                offset: c.pos() as u64,
                needed: alignment as u64,
                available: c.remaining() as u64,
            })?;
    for info in &tensors {
        check_placement(info, alignment, data_offset, bytes.len())?;
    }

    Ok(Parsed {
        version,
        metadata,
        tensors,
        data_offset,
        alignment,
        index,
    })
}

fn check_version(version: u32) -> Result<(), GgufError> {
    let reason = match version {
        2 | 3 => return Ok(()),
        1 => {
            "GGUF v1 (2023) stored counts and lengths as 32-bit numbers and is obsolete; \
             re-convert the model with a recent llama.cpp"
        }
        v if matches!(v.swap_bytes(), 2 | 3) => {
            "this is a big-endian GGUF file; only little-endian files are supported"
        }
        0 => "version 0 does not exist; the file is corrupt",
        _ => "only versions 2 and 3 are supported; the file may be newer than this reader",
    };
    Err(GgufError::UnsupportedVersion { version, reason })
}

/// Rejects a count of items of at least `min_bytes` each that cannot fit in `remaining`.
fn check_count(
    what: &str,
    count: u64,
    min_bytes: u64,
    offset: usize,
    remaining: u64,
) -> Result<(), GgufError> {
    let max = remaining / min_bytes;
    if count > max {
        return Err(GgufError::CountTooLarge {
            what: what.to_string(),
            count,
            offset: offset as u64,
            remaining,
            max,
        });
    }
    Ok(())
}

/// A `Vec` capacity for `count` items that cannot exceed what `remaining` bytes could
/// encode, so a lying count never causes a large allocation.
fn capacity_for(count: u64, min_bytes: u64, remaining: usize) -> usize {
    let max = remaining as u64 / min_bytes.max(1);
    usize::try_from(count.min(max)).unwrap_or(0)
}

/// Smallest encoding of one value of a GGUF type (for bounding array counts).
fn min_value_bytes(type_id: u32) -> u64 {
    match type_id {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,     // empty string: its length
        9 => 4 + 8, // empty array: element type and count
        10..=12 => 8,
        _ => 1,
    }
}

/// Reads one value of type `type_id` (whose id was at `type_offset`) for `key`.
fn read_value(
    c: &mut Cursor<'_>,
    type_id: u32,
    type_offset: usize,
    key: &str,
    depth: usize,
) -> Result<Value, GgufError> {
    let value_section = || format!("value of metadata key '{key}'");
    let value = match type_id {
        0 => Value::U8(c.u8().map_err(truncated_with(value_section))?),
        1 => Value::I8(c.u8().map_err(truncated_with(value_section))? as i8),
        2 => Value::U16(u16::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        3 => Value::I16(i16::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        4 => Value::U32(c.u32().map_err(truncated_with(value_section))?),
        5 => Value::I32(i32::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        6 => Value::F32(f32::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        7 => {
            let offset = c.pos();
            let byte = c.u8().map_err(truncated_with(value_section))?;
            Value::Bool(bool_of(byte, key, offset)?)
        }
        8 => Value::String(read_str(c, &value_section)?.to_string()),
        9 => Value::Array(read_array(c, key, depth)?),
        10 => Value::U64(c.u64().map_err(truncated_with(value_section))?),
        11 => Value::I64(i64::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        12 => Value::F64(f64::from_le_bytes(
            c.array().map_err(truncated_with(value_section))?,
        )),
        _ => {
            return Err(GgufError::UnknownValueType {
                key: key.to_string(),
                type_id,
                offset: type_offset as u64,
            });
        }
    };
    Ok(value)
}

/// A GGUF bool byte at `offset`: 0 or 1, anything else is an error.
fn bool_of(byte: u8, key: &str, offset: usize) -> Result<bool, GgufError> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(GgufError::InvalidBool {
            key: key.to_string(),
            value,
            offset: offset as u64,
        }),
    }
}

fn read_array(c: &mut Cursor<'_>, key: &str, depth: usize) -> Result<Array, GgufError> {
    if depth >= MAX_ARRAY_NESTING {
        return Err(GgufError::ArrayTooDeep {
            key: key.to_string(),
            max_depth: MAX_ARRAY_NESTING,
        });
    }
    let elem_type_offset = c.pos();
    // Error texts are built only on error: arrays of arrays can have millions of elements.
    let elem_type = c.u32().map_err(truncated_with(|| {
        format!("array element type of metadata key '{key}'")
    }))?;
    let unknown_type = || GgufError::UnknownValueType {
        key: key.to_string(),
        type_id: elem_type,
        offset: elem_type_offset as u64,
    };
    if type_name_of_id(elem_type) == "unknown" {
        return Err(unknown_type());
    }
    let count_offset = c.pos();
    let count = c.u64().map_err(truncated_with(|| {
        format!("array length of metadata key '{key}'")
    }))?;
    let min_bytes = min_value_bytes(elem_type);
    let remaining = c.remaining() as u64;
    if count > remaining / min_bytes {
        return Err(GgufError::CountTooLarge {
            what: format!(
                "{} elements in the array of metadata key '{key}'",
                type_name_of_id(elem_type)
            ),
            count,
            offset: count_offset as u64,
            remaining,
            max: remaining / min_bytes,
        });
    }
    // `count` elements fit in the bytes left, so `count` is no larger than the file and
    // what is allocated for them below is bounded by it.
    let count = count as usize;
    let section = || format!("array of metadata key '{key}'");
    let array = match elem_type {
        0 => Array::U8(read_scalars(c, count, u8::from_le_bytes, section)?),
        1 => Array::I8(read_scalars(c, count, i8::from_le_bytes, section)?),
        2 => Array::U16(read_scalars(c, count, u16::from_le_bytes, section)?),
        3 => Array::I16(read_scalars(c, count, i16::from_le_bytes, section)?),
        4 => Array::U32(read_scalars(c, count, u32::from_le_bytes, section)?),
        5 => Array::I32(read_scalars(c, count, i32::from_le_bytes, section)?),
        6 => Array::F32(read_scalars(c, count, f32::from_le_bytes, section)?),
        7 => {
            let offset = c.pos();
            let bytes = c.take(count).map_err(truncated_with(section))?;
            let bools = bytes.iter().enumerate();
            Array::Bool(
                bools
                    .map(|(i, &byte)| bool_of(byte, key, offset + i))
                    .collect::<Result<_, _>>()?,
            )
        }
        8 => Array::String(read_strings(c, count, key)?),
        9 => {
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(read_array(c, key, depth + 1)?);
            }
            Array::Array(items)
        }
        10 => Array::U64(read_scalars(c, count, u64::from_le_bytes, section)?),
        11 => Array::I64(read_scalars(c, count, i64::from_le_bytes, section)?),
        12 => Array::F64(read_scalars(c, count, f64::from_le_bytes, section)?),
        _ => return Err(unknown_type()),
    };
    Ok(array)
}

/// Reads `count` little-endian numbers of `N` bytes each; `section` names them in errors.
fn read_scalars<T, const N: usize>(
    c: &mut Cursor<'_>,
    count: usize,
    from_le_bytes: fn([u8; N]) -> T,
    section: impl FnOnce() -> String,
) -> Result<Vec<T>, GgufError> {
    let n_bytes = count.saturating_mul(N);
    let bytes = c.take(n_bytes).map_err(truncated_with(section))?;
    Ok(bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut le = [0u8; N];
            le.copy_from_slice(chunk);
            from_le_bytes(le)
        })
        .collect())
}

/// Reads the `count` strings of an array of metadata key `key`.
fn read_strings(c: &mut Cursor<'_>, count: usize, key: &str) -> Result<StringArray, GgufError> {
    let context = || format!("value of metadata key '{key}'");
    // A first pass over the lengths sizes the text buffer exactly (growing it by doubling
    // could leave up to twice the text allocated) and checks the total.
    let offset = c.pos();
    let mut ahead = c.clone();
    let mut text_bytes = 0u64;
    for _ in 0..count {
        text_bytes += read_raw_string(&mut ahead, &context)?.1.len() as u64;
    }
    if text_bytes > StringArray::MAX_TEXT_BYTES as u64 {
        return Err(GgufError::StringArrayTooLarge {
            key: key.to_string(),
            offset: offset as u64,
            text_bytes,
            max: StringArray::MAX_TEXT_BYTES as u64,
        });
    }
    let mut strings = StringArray::with_capacity(count, text_bytes as usize);
    for _ in 0..count {
        strings.push(read_str(c, &context)?);
    }
    Ok(strings)
}

/// Reads a GGUF string as an owned `String`; `context` names it in errors.
fn read_string(c: &mut Cursor<'_>, context: &dyn Fn() -> String) -> Result<String, GgufError> {
    read_str(c, context).map(str::to_string)
}

/// Reads a GGUF string (u64 length + UTF-8 bytes); `context` names it in errors.
fn read_str<'a>(c: &mut Cursor<'a>, context: &dyn Fn() -> String) -> Result<&'a str, GgufError> {
    let (bytes_offset, raw) = read_raw_string(c, context)?;
    std::str::from_utf8(raw).map_err(|_| GgufError::InvalidUtf8 {
        context: context(),
        offset: bytes_offset as u64,
    })
}

/// Reads a GGUF string's length and bytes, not yet checked to be UTF-8; returns the
/// bytes' offset too.
fn read_raw_string<'a>(
    c: &mut Cursor<'a>,
    context: &dyn Fn() -> String,
) -> Result<(usize, &'a [u8]), GgufError> {
    let len_offset = c.pos();
    let len = c
        .u64()
        .map_err(truncated_with(|| format!("length of {}", context())))?;
    let remaining = c.remaining() as u64;
    if len > remaining {
        return Err(GgufError::StringTooLong {
            context: context(),
            offset: len_offset as u64,
            len,
            remaining,
        });
    }
    let bytes_offset = c.pos();
    // `len <= remaining`, so it fits in usize and `take` succeeds.
    let raw = c.take(len as usize).map_err(truncated_with(context))?;
    Ok((bytes_offset, raw))
}

fn read_tensor_info(c: &mut Cursor<'_>, i: u64) -> Result<TensorInfo, GgufError> {
    let name = read_string(c, &|| format!("name of tensor #{i}"))?;
    let n_dims = c
        .u32()
        .map_err(truncated(format!("dimension count of tensor '{name}'")))?;
    if n_dims as usize > MAX_DIMS {
        return Err(GgufError::TooManyDims {
            tensor: name,
            n_dims: n_dims.into(),
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(
            c.u64()
                .map_err(truncated(format!("dimensions of tensor '{name}'")))?,
        );
    }
    let type_id = c
        .u32()
        .map_err(truncated(format!("type of tensor '{name}'")))?;
    let offset = c
        .u64()
        .map_err(truncated(format!("data offset of tensor '{name}'")))?;

    if dims.contains(&0) {
        return Err(GgufError::ZeroDim { tensor: name, dims });
    }
    let Some(dtype) = GgmlType::from_id(type_id) else {
        return Err(GgufError::UnknownTensorType {
            tensor: name,
            type_id,
        });
    };
    let row_len = dims.first().copied().unwrap_or(1);
    let block_size = dtype.block_size();
    if row_len % block_size as u64 != 0 {
        return Err(GgufError::RowNotBlockMultiple {
            tensor: name,
            row_len,
            dtype,
            block_size,
        });
    }
    // Element and byte counts must fit in usize (and so in the address space); ggml also
    // requires the element count to fit in i64.
    let n_elements = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .and_then(|n| usize::try_from(n).ok());
    let n_bytes = n_elements.and_then(|n| (n / block_size).checked_mul(dtype.type_size()));
    if n_bytes.is_none() {
        return Err(GgufError::ElementCountOverflow { tensor: name, dims });
    }
    Ok(TensorInfo {
        name,
        dims,
        dtype,
        offset,
    })
}

/// `general.alignment` if set (any integer type that holds a power of two fitting u32),
/// else [`DEFAULT_ALIGNMENT`].
pub(crate) fn alignment_of(metadata: &Metadata) -> Result<usize, GgufError> {
    let Some(value) = metadata.get(ALIGNMENT_KEY) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    let alignment = value
        .as_u64()
        .filter(|&a| a <= u64::from(u32::MAX) && a.is_power_of_two())
        .and_then(|a| usize::try_from(a).ok());
    alignment.ok_or_else(|| GgufError::BadAlignment {
        found: format!("{} {value}", value.describe_type()),
    })
}

fn check_placement(
    info: &TensorInfo,
    alignment: usize,
    data_offset: usize,
    file_size: usize,
) -> Result<(), GgufError> {
    if !info.offset.is_multiple_of(alignment as u64) {
        return Err(GgufError::MisalignedTensor {
            tensor: info.name.clone(),
            offset: info.offset,
            alignment,
        });
    }
    let n_bytes = info.n_bytes() as u64;
    let start = (data_offset as u64).checked_add(info.offset);
    let end = start.and_then(|s| s.checked_add(n_bytes));
    match (start, end) {
        (Some(_), Some(end)) if end <= file_size as u64 => Ok(()),
        // The data starts inside the file but runs past its end: a cut-off download.
        (Some(start), Some(_)) if start < file_size as u64 => Err(GgufError::Truncated {
            section: format!("data of tensor '{}'", info.name),
            offset: start,
            needed: n_bytes,
            available: file_size as u64 - start,
        }),
        _ => Err(GgufError::TensorOutOfBounds {
            tensor: info.name.clone(),
            start: start.unwrap_or(u64::MAX),
            end: end.unwrap_or(u64::MAX),
            file_size: file_size as u64,
        }),
    }
}

/// A read that ran past the end of the input: where it started, and how much it wanted.
#[derive(Debug, Clone, Copy)]
struct Short {
    offset: usize,
    needed: usize,
    available: usize,
}

/// A bounds-checked little-endian reader over the file bytes.
#[derive(Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn pos(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let short = Short {
            offset: self.pos,
            needed: n,
            available: self.remaining(),
        };
        let end = self.pos.checked_add(n).ok_or(short)?;
        let out = self.bytes.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, Short> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Short> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Turns a [`Short`] read into [`GgufError::Truncated`] naming `section`.
fn truncated(section: impl Into<String>) -> impl FnOnce(Short) -> GgufError {
    let section = section.into();
    move |short| short.into_error(section)
}

/// Like [`truncated`], building the section name only on error.
fn truncated_with(section: impl FnOnce() -> String) -> impl FnOnce(Short) -> GgufError {
    move |short| short.into_error(section())
}

impl Short {
    fn into_error(self, section: String) -> GgufError {
        GgufError::Truncated {
            section,
            offset: self.offset as u64,
            needed: self.needed as u64,
            available: self.available as u64,
        }
    }
}

//! Building GGUF files (version 3, little-endian), e.g. to convert checkpoints or to make
//! test fixtures.

use std::collections::HashSet;
use std::io::{self, Write};

use super::dtype::GgmlType;
use super::error::GgufError;
use super::quant;
use super::reader::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS, alignment_of};
use super::value::{Array, MAX_ARRAY_NESTING, Metadata, Value, match_array};

/// The GGUF version this writer produces.
pub const GGUF_VERSION: u32 = 3;

/// Collects metadata and tensors and encodes them as one GGUF file.
///
/// Tensors are written in the order they were added, each aligned to 32 bytes (or to
/// `general.alignment` when set), like llama.cpp's own writers.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    metadata: Metadata,
    tensors: Vec<PendingTensor>,
    names: HashSet<String>,
}

#[derive(Debug, Clone)]
struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    dtype: GgmlType,
    bytes: Vec<u8>,
}

impl GgufWriter {
    /// An empty file: no metadata, no tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// The metadata to write, for bulk edits.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The metadata to write.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Sets metadata `key` to `value` (replacing an earlier value).
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        self.metadata.insert(key, value);
    }

    /// Number of tensors added so far.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    /// Adds tensor `name` of row-major `shape`, quantized to `dtype` with
    /// [`quant::quantize`]. Blocks run along the last axis, whose length must be a multiple
    /// of `dtype.block_size()`.
    pub fn add_tensor(
        &mut self,
        name: &str,
        shape: &[usize],
        dtype: GgmlType,
        values: &[f32],
    ) -> Result<(), GgufError> {
        let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
        let n_elements = check_dims(name, &dims, dtype)?;
        if values.len() != n_elements {
            return Err(invalid(
                name,
                format!(
                    "shape {shape:?} has {n_elements} elements but {} values were given",
                    values.len()
                ),
            ));
        }
        if !dtype.can_quantize() {
            return Err(GgufError::UnsupportedType {
                dtype,
                operation: "quantize",
            });
        }
        let bytes = quant::quantize(dtype, values)?;
        self.add_raw_tensor(name, &dims, dtype, bytes)
    }

    /// Adds tensor `name` with already-encoded data: `dims` in ggml order (`dims[0]` is the
    /// row length) and `bytes` exactly `dims`' element count in `dtype` blocks.
    pub fn add_raw_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        dtype: GgmlType,
        bytes: Vec<u8>,
    ) -> Result<(), GgufError> {
        let n_elements = check_dims(name, dims, dtype)?;
        let expected = (n_elements / dtype.block_size())
            .checked_mul(dtype.type_size())
            .ok_or_else(|| invalid(name, format!("dims {dims:?} overflow")))?;
        if bytes.len() != expected {
            return Err(invalid(
                name,
                format!(
                    "{dtype} data for dims {dims:?} must be {expected} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        if self.names.contains(name) {
            return Err(GgufError::DuplicateTensor {
                name: name.to_string(),
            });
        }
        self.names.insert(name.to_string());
        self.tensors.push(PendingTensor {
            name: name.to_string(),
            dims: dims.to_vec(),
            dtype,
            bytes,
        });
        Ok(())
    }

    /// Checks that the metadata can be encoded: `general.alignment`, if set, is a
    /// power of two of type u32 (llama.cpp insists on the type), and arrays nest at most
    /// [`MAX_ARRAY_NESTING`] deep.
    pub fn validate(&self) -> Result<(), GgufError> {
        validate_metadata(&self.metadata)
    }

    /// The whole file as bytes, or an error from [`validate`](Self::validate).
    pub fn try_to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        self.validate()?;
        let mut out = Vec::with_capacity(self.estimated_size());
        self.write_unchecked(&mut out)
            .expect("writing to a Vec<u8> cannot fail");
        Ok(out)
    }

    /// The whole file as bytes.
    ///
    /// # Panics
    /// If the metadata cannot be encoded (see [`validate`](Self::validate)): arrays nested
    /// too deep or an invalid `general.alignment` is a programming error.
    /// Use [`try_to_bytes`](Self::try_to_bytes) to get an error instead.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self.try_to_bytes() {
            Ok(bytes) => bytes,
            Err(e) => panic!("GgufWriter::to_bytes: {e}"),
        }
    }

    /// Streams the file to `out` (after [`validate`](Self::validate)).
    pub fn write_to(&self, out: &mut impl Write) -> Result<(), GgufError> {
        self.validate()?;
        self.write_unchecked(out).map_err(|reason| GgufError::Io {
            path: "<stream>".into(),
            reason,
        })
    }

    /// Writes the file to `path`, streaming (the file is not built in memory first).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write_to_path(&self, path: &std::path::Path) -> Result<(), GgufError> {
        self.validate()?;
        let io_error = |reason| GgufError::Io {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::create(path).map_err(io_error)?;
        let mut out = io::BufWriter::with_capacity(1 << 20, file);
        self.write_unchecked(&mut out).map_err(io_error)?;
        out.flush().map_err(io_error)?;
        Ok(())
    }

    fn estimated_size(&self) -> usize {
        let data: usize = self.tensors.iter().map(|t| t.bytes.len() + 64).sum();
        // The metadata's size in memory is close to its encoded size (large arrays).
        data + self.metadata.heap_bytes() + 4096
    }

    /// Encodes the file; the caller has validated the metadata.
    fn write_unchecked(&self, out: &mut impl Write) -> io::Result<()> {
        let headers = self.tensors.iter().map(|t| TensorHeader {
            name: t.name.clone(),
            dims: t.dims.clone(),
            dtype: t.dtype,
        });
        let headers: Vec<TensorHeader> = headers.collect();
        let alignment = alignment_of(&self.metadata).unwrap_or(DEFAULT_ALIGNMENT);
        let mut w = CountingWriter { out, written: 0 };
        write_header(&mut w, &self.metadata, &headers, alignment)?;
        for t in &self.tensors {
            w.put(&t.bytes)?;
            w.pad_to(alignment)?;
        }
        Ok(())
    }
}

/// A tensor's entry in a file's header, for [`StreamWriter`]: its data comes later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorHeader {
    pub name: String,
    /// ggml order: `dims[0]` is the row length.
    pub dims: Vec<u64>,
    pub dtype: GgmlType,
}

impl TensorHeader {
    /// The header of tensor `name` with row-major `shape`.
    pub fn new(name: impl Into<String>, shape: &[usize], dtype: GgmlType) -> Self {
        Self {
            name: name.into(),
            dims: shape.iter().rev().map(|&d| d as u64).collect(),
            dtype,
        }
    }

    /// Bytes of the tensor's data (for dims that [`StreamWriter::new`] accepts).
    pub fn n_bytes(&self) -> usize {
        let n: u64 = self.dims.iter().product();
        n as usize / self.dtype.block_size() * self.dtype.type_size()
    }

    /// Validates the dims for the dtype, naming the tensor.
    fn check(&self) -> Result<usize, GgufError> {
        let n_elements = check_dims(&self.name, &self.dims, self.dtype)?;
        (n_elements / self.dtype.block_size())
            .checked_mul(self.dtype.type_size())
            .ok_or_else(|| invalid(&self.name, format!("dims {:?} overflow", self.dims)))
    }
}

/// Writes a GGUF file whose tensors arrive one after another, so a converter holds one
/// tensor (or one slice of rows) at a time, never the whole model.
///
/// The header is written up front from the declared [`TensorHeader`]s; each tensor's data
/// must then arrive in that order through [`write`](Self::write), exactly as many bytes as
/// its dims and dtype take.
pub struct StreamWriter<W: Write> {
    out: CountingWriter<W>,
    alignment: usize,
    tensors: Vec<(String, usize)>,
    /// Index of the tensor being written and the bytes it has received.
    current: usize,
    received: usize,
}

impl<W: Write> StreamWriter<W> {
    /// Validates `metadata` and `tensors` and writes the header to `out`.
    pub fn new(metadata: &Metadata, tensors: &[TensorHeader], out: W) -> Result<Self, GgufError> {
        let mut names = HashSet::new();
        let mut sizes = Vec::with_capacity(tensors.len());
        for t in tensors {
            if !names.insert(t.name.as_str()) {
                return Err(GgufError::DuplicateTensor {
                    name: t.name.clone(),
                });
            }
            sizes.push((t.name.clone(), t.check()?));
        }
        validate_metadata(metadata)?;
        let alignment = alignment_of(metadata)?;
        let mut out = CountingWriter { out, written: 0 };
        write_header(&mut out, metadata, tensors, alignment).map_err(stream_error)?;
        Ok(Self {
            out,
            alignment,
            tensors: sizes,
            current: 0,
            received: 0,
        })
    }

    /// Appends `bytes` to the current tensor's data; a tensor that is complete is padded
    /// and the next one begins.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), GgufError> {
        while !bytes.is_empty() {
            let Some(&(_, size)) = self.tensors.get(self.current) else {
                return Err(invalid(
                    "<after the last tensor>",
                    format!("{} bytes more than the header declared", bytes.len()),
                ));
            };
            let take = (size - self.received).min(bytes.len());
            self.out.put(&bytes[..take]).map_err(stream_error)?;
            self.received += take;
            bytes = &bytes[take..];
            self.next_if_complete()?;
        }
        Ok(())
    }

    /// Name of the tensor whose data is expected next.
    pub fn current_tensor(&self) -> Option<&str> {
        self.tensors
            .get(self.current)
            .map(|(name, _)| name.as_str())
    }

    /// Checks that every declared tensor was written and hands back the output.
    pub fn finish(mut self) -> Result<W, GgufError> {
        // Zero-size tensors cannot exist (dims are checked), so only a missing write is left.
        if let Some((name, size)) = self.tensors.get(self.current) {
            return Err(invalid(
                name,
                format!("got {} of its {size} bytes of data", self.received),
            ));
        }
        self.out.out.flush().map_err(stream_error)?;
        Ok(self.out.out)
    }

    fn next_if_complete(&mut self) -> Result<(), GgufError> {
        if self.received == self.tensors[self.current].1 {
            self.current += 1;
            self.received = 0;
            self.out.pad_to(self.alignment).map_err(stream_error)?;
        }
        Ok(())
    }
}

fn stream_error(reason: io::Error) -> GgufError {
    GgufError::Io {
        path: "<stream>".into(),
        reason,
    }
}

/// Writes everything before the tensor data: header, metadata, tensor infos, padding.
fn write_header<W: Write>(
    w: &mut CountingWriter<W>,
    metadata: &Metadata,
    tensors: &[TensorHeader],
    alignment: usize,
) -> io::Result<()> {
    w.put(&MAGIC)?;
    w.put(&GGUF_VERSION.to_le_bytes())?;
    w.put(&(tensors.len() as u64).to_le_bytes())?;
    w.put(&(metadata.len() as u64).to_le_bytes())?;

    for (key, value) in metadata.iter() {
        write_string(w, key)?;
        w.put(&value.type_id().to_le_bytes())?;
        write_value(w, value)?;
    }

    let mut offset = 0usize;
    for t in tensors {
        write_string(w, &t.name)?;
        w.put(&(t.dims.len() as u32).to_le_bytes())?;
        for d in &t.dims {
            w.put(&d.to_le_bytes())?;
        }
        w.put(&t.dtype.id().to_le_bytes())?;
        w.put(&(offset as u64).to_le_bytes())?;
        offset = (offset + t.n_bytes()).next_multiple_of(alignment);
    }
    w.pad_to(alignment)
}

/// See [`GgufWriter::validate`].
fn validate_metadata(metadata: &Metadata) -> Result<(), GgufError> {
    alignment_of(metadata)?;
    if let Some(value) = metadata.get(ALIGNMENT_KEY)
        && !matches!(value, Value::U32(_))
    {
        return Err(GgufError::BadAlignment {
            found: format!("{} {value} (it must have type u32)", value.describe_type()),
        });
    }
    for (key, value) in metadata.iter() {
        check_encodable(key, value)?;
    }
    Ok(())
}

fn invalid(name: &str, reason: String) -> GgufError {
    GgufError::InvalidTensor {
        tensor: name.to_string(),
        reason,
    }
}

/// Validates ggml-order `dims` for `dtype`; returns the element count.
fn check_dims(name: &str, dims: &[u64], dtype: GgmlType) -> Result<usize, GgufError> {
    if dims.len() > MAX_DIMS {
        return Err(GgufError::TooManyDims {
            tensor: name.to_string(),
            n_dims: dims.len() as u64,
        });
    }
    if dims.contains(&0) {
        return Err(GgufError::ZeroDim {
            tensor: name.to_string(),
            dims: dims.to_vec(),
        });
    }
    let row_len = dims.first().copied().unwrap_or(1);
    if row_len % dtype.block_size() as u64 != 0 {
        return Err(GgufError::RowNotBlockMultiple {
            tensor: name.to_string(),
            row_len,
            dtype,
            block_size: dtype.block_size(),
        });
    }
    dims.iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| GgufError::ElementCountOverflow {
            tensor: name.to_string(),
            dims: dims.to_vec(),
        })
}

fn check_encodable(key: &str, value: &Value) -> Result<(), GgufError> {
    match value {
        Value::Array(array) => check_nesting(key, array, 0),
        _ => Ok(()),
    }
}

fn check_nesting(key: &str, array: &Array, depth: usize) -> Result<(), GgufError> {
    if depth >= MAX_ARRAY_NESTING {
        return Err(GgufError::ArrayTooDeep {
            key: key.to_string(),
            max_depth: MAX_ARRAY_NESTING,
        });
    }
    if let Array::Array(items) = array {
        for item in items {
            check_nesting(key, item, depth + 1)?;
        }
    }
    Ok(())
}

fn write_value<W: Write>(w: &mut CountingWriter<W>, value: &Value) -> io::Result<()> {
    match value {
        Value::U8(v) => w.put(&v.to_le_bytes()),
        Value::I8(v) => w.put(&v.to_le_bytes()),
        Value::U16(v) => w.put(&v.to_le_bytes()),
        Value::I16(v) => w.put(&v.to_le_bytes()),
        Value::U32(v) => w.put(&v.to_le_bytes()),
        Value::I32(v) => w.put(&v.to_le_bytes()),
        Value::F32(v) => w.put(&v.to_le_bytes()),
        Value::Bool(v) => w.put(&[u8::from(*v)]),
        Value::String(s) => write_string(w, s),
        Value::Array(array) => write_array(w, array),
        Value::U64(v) => w.put(&v.to_le_bytes()),
        Value::I64(v) => w.put(&v.to_le_bytes()),
        Value::F64(v) => w.put(&v.to_le_bytes()),
    }
}

fn write_array<W: Write>(w: &mut CountingWriter<W>, array: &Array) -> io::Result<()> {
    w.put(&array.element_type_id().to_le_bytes())?;
    w.put(&(array.len() as u64).to_le_bytes())?;
    // Elements are written without a type id; nested arrays carry their own element type
    // and length.
    match_array!(array,
        v => v.iter().try_for_each(|&x| write_value(w, &Value::from(x))),
        s => s.iter().try_for_each(|s| write_string(w, s)),
        a => a.iter().try_for_each(|inner| write_array(w, inner)),
    )
}

fn write_string<W: Write>(w: &mut CountingWriter<W>, s: &str) -> io::Result<()> {
    w.put(&(s.len() as u64).to_le_bytes())?;
    w.put(s.as_bytes())
}

/// A writer that knows its position, for alignment padding.
struct CountingWriter<W: Write> {
    out: W,
    written: usize,
}

impl<W: Write> CountingWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len();
        Ok(())
    }

    fn pad_to(&mut self, alignment: usize) -> io::Result<()> {
        const ZEROS: [u8; 64] = [0; 64];
        let mut pad = self.written.next_multiple_of(alignment) - self.written;
        while pad > 0 {
            let n = pad.min(ZEROS.len());
            self.put(&ZEROS[..n])?;
            pad -= n;
        }
        Ok(())
    }
}

//! Tensors in the files a converter reads: PyTorch checkpoints (zip, legacy or tar, through
//! burn's `pytorch-reader`) and safetensors. Nothing is read at open; a tensor's bytes are
//! read when it is converted, so memory holds one tensor at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gvt_core::gguf::GgmlType;

use crate::{ConvertError, Result};

/// Element types of checkpoint tensors. Weights must be one of the float types; any other
/// type is refused only if the model uses the tensor (optimizer state, step counters and
/// the like may be stored in anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceDtype {
    F32,
    F16,
    BF16,
    /// What the file calls it, for the error.
    Other(String),
}

impl SourceDtype {
    /// The GGUF type with the same element encoding, for decoding through
    /// [`gvt_core::gguf::quant`].
    pub fn ggml(&self) -> Option<GgmlType> {
        match self {
            SourceDtype::F32 => Some(GgmlType::F32),
            SourceDtype::F16 => Some(GgmlType::F16),
            SourceDtype::BF16 => Some(GgmlType::BF16),
            SourceDtype::Other(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            SourceDtype::F32 => "f32",
            SourceDtype::F16 => "f16",
            SourceDtype::BF16 => "bf16",
            SourceDtype::Other(name) => name,
        }
    }

    /// Bytes per element; 0 for a type a converter does not read.
    pub fn size(&self) -> usize {
        self.ggml().map_or(0, GgmlType::type_size)
    }
}

type ReadFn = Arc<dyn Fn() -> std::io::Result<Vec<u8>> + Send + Sync>;

/// One tensor of a source file, not yet read.
#[derive(Clone)]
pub struct SourceTensor {
    /// The name in its file (after any nesting prefix is removed).
    pub name: String,
    /// Row-major shape.
    pub shape: Vec<usize>,
    pub dtype: SourceDtype,
    /// The file it lives in, for messages.
    pub file: PathBuf,
    read: ReadFn,
}

impl std::fmt::Debug for SourceTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTensor")
            .field("name", &self.name)
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("file", &self.file)
            .finish()
    }
}

impl SourceTensor {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn n_bytes(&self) -> usize {
        self.n_elements() * self.dtype.size()
    }

    /// Refuses a tensor the model uses whose type is not a float type, naming it.
    pub fn check_dtype(&self) -> Result<GgmlType> {
        self.dtype.ggml().ok_or_else(|| {
            ConvertError::Invalid(format!(
                "tensor `{}` in {} has element type {}; weights must be f32, f16 or bf16",
                self.name,
                self.file.display(),
                self.dtype.name()
            ))
        })
    }

    /// The tensor's bytes, little-endian, row-major.
    pub fn read(&self) -> Result<Vec<u8>> {
        let bytes = (self.read)().map_err(|e| ConvertError::Read {
            file: self.file.clone(),
            reason: format!("tensor `{}`: {e}", self.name),
        })?;
        if bytes.len() != self.n_bytes() {
            return Err(ConvertError::Read {
                file: self.file.clone(),
                reason: format!(
                    "tensor `{}` has {} bytes, its shape {:?} in {} needs {}",
                    self.name,
                    bytes.len(),
                    self.shape,
                    self.dtype.name(),
                    self.n_bytes()
                ),
            });
        }
        Ok(bytes)
    }
}

/// The tensors of one or more files, by name.
#[derive(Debug, Default)]
pub struct Tensors {
    pub by_name: BTreeMap<String, SourceTensor>,
}

impl Tensors {
    /// Adds `tensor`; a name seen in an earlier file is an error naming both files.
    fn insert(&mut self, tensor: SourceTensor) -> Result<()> {
        if let Some(old) = self.by_name.get(&tensor.name) {
            return Err(ConvertError::Invalid(format!(
                "tensor `{}` is in both {} and {}",
                tensor.name,
                old.file.display(),
                tensor.file.display()
            )));
        }
        self.by_name.insert(tensor.name.clone(), tensor);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&SourceTensor> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// A PyTorch checkpoint (`torch.save`: zip, legacy pickle or tar). Nested dictionaries
    /// give dotted names (`state_dict.model.visual_encoder...`); the caller strips the
    /// nesting it knows.
    pub fn add_pytorch(&mut self, path: &Path) -> Result<()> {
        let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| ConvertError::Read {
            file: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        for (name, tensor) in reader.into_tensors() {
            use pytorch_reader::DType as T;
            let dtype = match tensor.dtype() {
                T::F32 => SourceDtype::F32,
                T::F16 => SourceDtype::F16,
                T::BF16 => SourceDtype::BF16,
                other => SourceDtype::Other(format!("{other:?}")),
            };
            let shape = tensor.shape().to_vec();
            let (_, _, _, read) = tensor.into_parts();
            self.insert(SourceTensor {
                name,
                shape,
                dtype,
                file: path.to_path_buf(),
                read: Arc::new(read),
            })?;
        }
        Ok(())
    }

    /// A safetensors file. Only the header is read here; each tensor is read later with
    /// positioned reads, not a memory map, so pages of converted tensors do not pile up in
    /// the process's resident memory.
    pub fn add_safetensors(&mut self, path: &Path) -> Result<()> {
        let fail = |reason: String| ConvertError::Read {
            file: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| fail(e.to_string()))?;
        let file_len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let mut len = [0u8; 8];
        read_at(&file, &mut len, 0).map_err(|e| fail(format!("header length: {e}")))?;
        let header_len = u64::from_le_bytes(len);
        // safetensors' own limit on the header (100 MB); checked before allocating.
        if header_len > 100_000_000 || 8 + header_len > file_len {
            return Err(fail(format!(
                "header of {header_len} bytes does not fit the file ({file_len} bytes) or \
                 safetensors' 100 MB limit"
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        read_at(&file, &mut header, 8).map_err(|e| fail(format!("header: {e}")))?;
        let metadata: safetensors::tensor::Metadata =
            serde_json::from_slice(&header).map_err(|e| fail(format!("header: {e}")))?;
        let data_start = 8 + header_len;
        if data_start + metadata.data_len() as u64 != file_len {
            return Err(fail(format!(
                "the header describes {} bytes of data but the file has {}",
                metadata.data_len(),
                file_len - data_start
            )));
        }
        let file = Arc::new(file);
        for (name, info) in metadata.tensors() {
            use safetensors::Dtype as T;
            let dtype = match info.dtype {
                T::F32 => SourceDtype::F32,
                T::F16 => SourceDtype::F16,
                T::BF16 => SourceDtype::BF16,
                other => SourceDtype::Other(format!("{other:?}")),
            };
            let (start, end) = info.data_offsets;
            let file = Arc::clone(&file);
            let read = move || {
                let mut bytes = vec![0u8; end - start];
                read_at(&file, &mut bytes, data_start + start as u64)?;
                Ok(bytes)
            };
            self.insert(SourceTensor {
                name,
                shape: info.shape.clone(),
                dtype,
                file: path.to_path_buf(),
                read: Arc::new(read),
            })?;
        }
        Ok(())
    }

    /// Renames every tensor whose name starts with `prefix` to the rest of its name.
    pub fn strip_prefix(&mut self, prefix: &str) {
        if prefix.is_empty() {
            return;
        }
        let by_name = std::mem::take(&mut self.by_name);
        self.by_name = by_name
            .into_values()
            .map(|mut t| {
                if let Some(rest) = t.name.strip_prefix(prefix) {
                    t.name = rest.to_string();
                }
                (t.name.clone(), t)
            })
            .collect();
    }
}

#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

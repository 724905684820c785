//! The conversion plan (every output tensor, its source and type, and the metadata) and
//! its execution, one tensor at a time.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use gvt_core::gguf::quant::quantize;
use gvt_core::gguf::{GgmlType, GgufFile, Metadata, StreamWriter, TensorHeader, Value};
use gvt_core::model::{LlmConfig, ResamplerConfig, VisionConfig};
use gvt_core::tokenizer::chat::VICUNA_V1_1;

use crate::checkpoint::Checkpoint;
use crate::hf::HfLlama;
use crate::layout::{self, Entry};
use crate::source::{SourceTensor, Tensors};
use crate::{ConvertError, Options, Result};

/// Where an output tensor's data comes from.
#[derive(Debug, Clone)]
pub enum From {
    /// A checkpoint tensor, converted (and for LLM q/k, its rows permuted).
    Source {
        tensor: SourceTensor,
        permute_heads: Option<usize>,
    },
    /// A tensor of a GGUF file, copied as it is.
    Gguf {
        file: PathBuf,
        offset: u64,
        n_bytes: usize,
    },
}

/// One tensor of the output.
#[derive(Debug, Clone)]
pub struct PlannedTensor {
    pub header: TensorHeader,
    /// Row-major shape.
    pub shape: Vec<usize>,
    pub from: From,
}

impl PlannedTensor {
    /// Bytes it takes in the output.
    pub fn out_bytes(&self) -> u64 {
        let n: usize = self.shape.iter().product();
        (n / self.header.dtype.block_size() * self.header.dtype.type_size()) as u64
    }

    /// Bytes read from the input for it.
    pub fn in_bytes(&self) -> u64 {
        match &self.from {
            From::Source { tensor, .. } => tensor.n_bytes() as u64,
            From::Gguf { n_bytes, .. } => *n_bytes as u64,
        }
    }
}

/// Everything a conversion will write, checked before anything is.
#[derive(Debug)]
pub struct Plan {
    pub metadata: Metadata,
    pub tensors: Vec<PlannedTensor>,
    /// The model in one line.
    pub summary: String,
    /// What was left out and why (derived buffers, optimizer state, unused tensors).
    pub notes: Vec<String>,
}

/// Reads the inputs' headers and plans the conversion.
pub fn plan(opts: &Options) -> Result<Plan> {
    let checkpoint = opts
        .checkpoint
        .as_deref()
        .map(|p| Checkpoint::open(p, opts))
        .transpose()?;
    let llm = match opts.llm.as_deref() {
        None => None,
        Some(p) if p.is_dir() => Some(Llm::Hf(Box::new(HfLlama::open(p)?))),
        Some(p) => Some(Llm::Gguf(open_gguf(p)?)),
    };
    let mut metadata = Metadata::new();
    let mut tensors = Vec::new();
    let mut notes = Vec::new();
    let name = opts.name.clone().unwrap_or_else(|| {
        let input = opts.checkpoint.as_deref().or(opts.llm.as_deref());
        input
            .and_then(Path::file_stem)
            .map_or("converted".into(), |s| s.to_string_lossy().into_owned())
    });

    let summary = match (&checkpoint, &llm) {
        (None, None) => {
            return Err(ConvertError::Invalid(
                "nothing to convert: give --checkpoint, --llm, or both".into(),
            ));
        }
        (None, Some(Llm::Gguf(_))) => {
            return Err(ConvertError::Invalid(
                "--llm is already a GGUF file; add --checkpoint to merge a vision half into it"
                    .into(),
            ));
        }
        (Some(ck), llm) => {
            if let Some(llm) = llm
                && llm.width() != ck.llm_width
            {
                return Err(ConvertError::Invalid(format!(
                    "the checkpoint's llm_proj writes width {}, but the LLM is {} wide",
                    ck.llm_width,
                    llm.width()
                )));
            }
            metadata.insert("general.architecture", "gvt".into());
            ck.vision.write_metadata(&mut metadata);
            ck.resampler.write_metadata(&mut metadata);
            let entries = layout::vision(&ck.vision, &ck.resampler, ck.llm_width);
            tensors.extend(match_entries(&entries, &ck.tensors, opts, &mut notes)?);
            if !ck.prefix.is_empty() {
                notes.push(format!("checkpoint names nested under `{}`", ck.prefix));
            }
            if !ck.outside.is_empty() {
                notes.push(format!(
                    "{} tensors outside the model's state skipped (e.g. `{}`)",
                    ck.outside.len(),
                    ck.outside[0]
                ));
            }
            // gvt-core's own checks on sizes (head width, grid), naming the key.
            let invalid = |e: gvt_core::Error| ConvertError::Invalid(e.to_string());
            VisionConfig::from_metadata(&metadata).map_err(invalid)?;
            ResamplerConfig::from_metadata(&metadata, ck.vision.width).map_err(invalid)?;
            format!("{}; {}", ck.vision.summary(), ck.resampler.summary())
        }
        (None, Some(Llm::Hf(_))) => {
            metadata.insert("general.architecture", "llama".into());
            String::new()
        }
    };
    let mut summary = summary;
    match &llm {
        Some(Llm::Hf(hf)) => {
            let prefix = "llama";
            hf.config.write_metadata(&mut metadata, prefix);
            hf.vocab.write_metadata(&mut metadata);
            let template = if checkpoint.is_some() {
                Some(VICUNA_V1_1.to_string())
            } else {
                hf.chat_template.clone()
            };
            if let Some(template) = template {
                metadata.insert("tokenizer.chat_template", template.into());
            }
            notes.push(format!("LLM weights from {} files", hf.files.len()));
            let entries = layout::llama(&hf.config);
            tensors.extend(match_entries(&entries, &hf.tensors, opts, &mut notes)?);
            push_summary(&mut summary, &hf.config);
        }
        Some(Llm::Gguf(g)) => {
            for (key, value) in g.metadata.iter() {
                if let Some(rest) = key.strip_prefix(&format!("{}.", g.arch)) {
                    metadata.insert(format!("llama.{rest}"), value.clone());
                } else if key.starts_with("tokenizer.") {
                    metadata.insert(key, value.clone());
                }
            }
            if metadata.get("tokenizer.chat_template").is_none() {
                metadata.insert("tokenizer.chat_template", VICUNA_V1_1.into());
            }
            tensors.extend(g.tensors.iter().cloned());
            push_summary(&mut summary, &g.config);
        }
        None => {
            summary.push_str("; vision only (give the LLM with `gvt ask --llm`)");
        }
    }
    metadata.insert("general.name", name.into());
    metadata.insert(
        "general.converted_by",
        Value::from(format!("gvt convert {}", env!("CARGO_PKG_VERSION"))),
    );
    Ok(Plan {
        metadata,
        tensors,
        summary,
        notes,
    })
}

fn push_summary(summary: &mut String, l: &LlmConfig) {
    if !summary.is_empty() {
        summary.push_str("; ");
    }
    let _ = write!(
        summary,
        "LLM width {} x {} layers, {} heads ({} KV), vocab {}",
        l.width, l.depth, l.heads, l.kv_heads, l.vocab_size
    );
}

enum Llm {
    Hf(Box<HfLlama>),
    Gguf(GgufLlm),
}

impl Llm {
    fn width(&self) -> usize {
        match self {
            Llm::Hf(hf) => hf.config.width,
            Llm::Gguf(g) => g.config.width,
        }
    }
}

/// A LLaMA-family GGUF whose tensors are copied as they are.
struct GgufLlm {
    arch: String,
    metadata: Metadata,
    config: LlmConfig,
    tensors: Vec<PlannedTensor>,
}

fn open_gguf(path: &Path) -> Result<GgufLlm> {
    let file = GgufFile::open(path)?;
    let arch = file.metadata.get_str("general.architecture")?.to_string();
    let embd = file
        .tensor_info("token_embd.weight")
        .ok_or_else(|| ConvertError::Read {
            file: path.to_path_buf(),
            reason: "no `token_embd.weight`: not an LLM".into(),
        })?;
    let rows = embd.shape().first().copied().unwrap_or(0);
    let config = LlmConfig::from_metadata(&file.metadata, rows, !file.contains("output.weight"))
        .map_err(|e| ConvertError::Read {
            file: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if file.metadata.get_str("general.architecture")? == "gvt" {
        return Err(ConvertError::Read {
            file: path.to_path_buf(),
            reason: "already a GVT file".into(),
        });
    }
    let tensors = file
        .tensors
        .iter()
        .map(|t| PlannedTensor {
            header: TensorHeader {
                name: t.name.clone(),
                dims: t.dims.clone(),
                dtype: t.dtype,
            },
            shape: t.shape(),
            from: From::Gguf {
                file: path.to_path_buf(),
                offset: (file.data_offset() as u64) + t.offset,
                n_bytes: t.n_bytes(),
            },
        })
        .collect();
    Ok(GgufLlm {
        arch,
        metadata: file.metadata.clone(),
        config,
        tensors,
    })
}

/// Pairs each expected entry with its source tensor, checking shapes; a missing tensor, a
/// wrong shape or (unless allowed) a tensor no entry uses is an error naming them.
fn match_entries(
    entries: &[Entry],
    tensors: &Tensors,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<Vec<PlannedTensor>> {
    let mut out = Vec::with_capacity(entries.len());
    let mut missing = Vec::new();
    for e in entries {
        let Some(t) = tensors.get(&e.source) else {
            missing.push(e.source.as_str());
            continue;
        };
        if t.shape != e.shape {
            return Err(ConvertError::Invalid(format!(
                "tensor `{}` in {} has shape {:?}, but the model's configuration needs {:?}",
                e.source,
                t.file.display(),
                t.shape,
                e.shape
            )));
        }
        let row_len = e.shape.last().copied().unwrap_or(1);
        let dtype = opts.out_type.dtype_for(e.role, row_len);
        out.push(PlannedTensor {
            header: TensorHeader::new(e.gguf.clone(), &e.shape, dtype),
            shape: e.shape.clone(),
            from: From::Source {
                tensor: t.clone(),
                permute_heads: e.permute_heads,
            },
        });
    }
    if !missing.is_empty() {
        return Err(ConvertError::Invalid(format!(
            "{} tensors missing from the input, e.g. {}",
            missing.len(),
            quoted(&missing)
        )));
    }
    let used: std::collections::HashSet<&str> = entries.iter().map(|e| e.source.as_str()).collect();
    let (derived, unused): (Vec<&str>, Vec<&str>) = tensors
        .names()
        .filter(|n| !used.contains(n))
        .partition(|n| layout::is_derived_buffer(n));
    if !derived.is_empty() {
        notes.push(format!(
            "{} derived buffers skipped (recomputed at run time), e.g. `{}`",
            derived.len(),
            derived[0]
        ));
    }
    if !unused.is_empty() {
        let what = format!(
            "{} tensors the model does not use: {}",
            unused.len(),
            quoted(&unused)
        );
        if !opts.allow_unused {
            return Err(ConvertError::Invalid(format!(
                "{what} (is this the right file? --allow-unused skips them)"
            )));
        }
        notes.push(format!("skipped {what}"));
    }
    Ok(out)
}

/// Up to five names, quoted, and how many more.
fn quoted(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    if names.len() > 5 {
        s.push(format!("and {} more", names.len() - 5));
    }
    s.join(", ")
}

/// Values converted at a time: a slice of rows, whatever the tensor's size.
const CHUNK_VALUES: usize = 1 << 20;

impl Plan {
    /// Size of the output file's tensor data.
    pub fn output_bytes(&self) -> u64 {
        self.tensors.iter().map(PlannedTensor::out_bytes).sum()
    }

    /// The largest input tensor, in bytes: with a few megabytes of buffers, the most
    /// memory a conversion holds.
    pub fn largest_input_tensor(&self) -> u64 {
        self.tensors
            .iter()
            .map(PlannedTensor::in_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Tensors per output type, for the plan's summary line.
    pub fn type_counts(&self) -> Vec<(GgmlType, usize)> {
        let mut counts: Vec<(GgmlType, usize)> = Vec::new();
        for t in &self.tensors {
            match counts.iter_mut().find(|(d, _)| *d == t.header.dtype) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.header.dtype, 1)),
            }
        }
        counts
    }

    /// Writes the GGUF to `path` (through `path.partial`, renamed when complete, so a
    /// stopped conversion never leaves a file that looks whole). `progress(done, total,
    /// tensor)` is called with output bytes as each slice is written.
    pub fn write(&self, path: &Path, progress: &mut dyn FnMut(u64, u64, &str)) -> Result<()> {
        let partial = path.with_extension(match path.extension() {
            Some(ext) => format!("{}.partial", ext.to_string_lossy()),
            None => "partial".into(),
        });
        let fail = |reason: String| ConvertError::Write {
            file: path.to_path_buf(),
            reason,
        };
        let file = File::create(&partial).map_err(|e| fail(e.to_string()))?;
        let headers: Vec<TensorHeader> = self.tensors.iter().map(|t| t.header.clone()).collect();
        let result = (|| {
            let out = BufWriter::with_capacity(1 << 20, file);
            let mut w = StreamWriter::new(&self.metadata, &headers, out)?;
            let total = self.output_bytes();
            let mut done = 0u64;
            for t in &self.tensors {
                let name = t.header.name.as_str();
                write_tensor(t, &mut w, &mut |bytes| {
                    done += bytes;
                    progress(done, total, name);
                })?;
            }
            w.finish()?;
            Ok(())
        })();
        match result {
            Ok(()) => std::fs::rename(&partial, path).map_err(|e| fail(e.to_string())),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// The plan for people: one line per tensor, then totals (`gvt convert --dry-run`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "model: {}", self.summary);
        for t in &self.tensors {
            let (source, how) = match &t.from {
                From::Source {
                    tensor,
                    permute_heads,
                } => {
                    let how = match permute_heads {
                        Some(h) => format!(" (rows permuted for RoPE, {h} heads)"),
                        None => String::new(),
                    };
                    (format!("{} {}", tensor.name, tensor.dtype.name()), how)
                }
                From::Gguf { .. } => ("copied".to_string(), String::new()),
            };
            let _ = writeln!(
                s,
                "  {:<28} {:<18} {:<5} <- {source}{how}",
                t.header.name,
                format!("{:?}", t.shape),
                t.header.dtype.name(),
            );
        }
        for note in &self.notes {
            let _ = writeln!(s, "note: {note}");
        }
        let types: Vec<String> = self
            .type_counts()
            .iter()
            .map(|(d, n)| format!("{n} {}", d.name()))
            .collect();
        let _ = writeln!(
            s,
            "{} tensors ({}), {} of tensor data; {} metadata keys; largest input tensor {}",
            self.tensors.len(),
            types.join(", "),
            human_bytes(self.output_bytes()),
            self.metadata.len(),
            human_bytes(self.largest_input_tensor())
        );
        s
    }
}

/// Streams one tensor: read its source, convert a slice of rows at a time, write.
fn write_tensor<W: std::io::Write>(
    t: &PlannedTensor,
    w: &mut StreamWriter<W>,
    written: &mut dyn FnMut(u64),
) -> Result<()> {
    match &t.from {
        From::Gguf {
            file,
            offset,
            n_bytes,
        } => {
            let read_fail = |e: std::io::Error| ConvertError::Read {
                file: file.clone(),
                reason: format!("tensor `{}`: {e}", t.header.name),
            };
            let f = File::open(file).map_err(read_fail)?;
            let mut buf = vec![0u8; (*n_bytes).min(CHUNK_VALUES * 4)];
            let mut at = 0usize;
            while at < *n_bytes {
                let n = (*n_bytes - at).min(buf.len());
                crate::source::read_at(&f, &mut buf[..n], offset + at as u64).map_err(read_fail)?;
                w.write(&buf[..n])?;
                written(n as u64);
                at += n;
            }
        }
        From::Source {
            tensor,
            permute_heads,
        } => {
            let bytes = tensor.read()?;
            let row_len = t.shape.last().copied().unwrap_or(1);
            let rows = t.shape.iter().product::<usize>() / row_len;
            let chunk_rows = (CHUNK_VALUES / row_len).max(1);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            // Each core converts and quantizes its own slice of rows; slices are written in
            // order, so the output does not depend on the number of cores.
            for start in (0..rows).step_by(chunk_rows * threads) {
                let slices = (0..threads)
                    .map(|i| start + i * chunk_rows..(start + (i + 1) * chunk_rows).min(rows))
                    .filter(|r| !r.is_empty());
                let encoded: Vec<_> = std::thread::scope(|s| {
                    let tasks: Vec<_> = slices
                        .map(|r| {
                            let (bytes, permute_heads) = (&bytes, *permute_heads);
                            s.spawn(move || {
                                encode_rows(tensor, bytes, r, rows, permute_heads, t.header.dtype)
                            })
                        })
                        .collect();
                    tasks
                        .into_iter()
                        .map(|task| task.join().expect("quantizing rows does not panic"))
                        .collect()
                });
                for slice in encoded {
                    let slice = slice?;
                    w.write(&slice)?;
                    written(slice.len() as u64);
                }
            }
        }
    }
    Ok(())
}

/// Rows `range` of a source tensor (with the RoPE permutation when asked), as f32, encoded
/// in `dtype`.
fn encode_rows(
    tensor: &SourceTensor,
    bytes: &[u8],
    range: std::ops::Range<usize>,
    rows: usize,
    permute_heads: Option<usize>,
    dtype: GgmlType,
) -> std::result::Result<Vec<u8>, gvt_core::gguf::GgufError> {
    let row_bytes = bytes.len() / rows;
    let mut values = Vec::with_capacity(range.len() * row_bytes / tensor.dtype.size());
    for row in range {
        let from = match permute_heads {
            Some(heads) => layout::permuted_row(row, rows, heads),
            None => row,
        };
        tensor.dtype.extend_f32(
            &bytes[from * row_bytes..(from + 1) * row_bytes],
            &mut values,
        );
    }
    quantize(dtype, &values)
}

pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.1} KB", n / 1e3)
    }
}

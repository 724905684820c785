//! The conversion plan (every output tensor, its source and type, and the metadata) and
//! its execution, one tensor at a time.

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use gvt_core::gguf::quant::{dequantize_into, quantize};
use gvt_core::gguf::{GgmlType, GgufError, GgufFile, Metadata, StreamWriter, TensorHeader, Value};
use gvt_core::model::{Bytes, LlmConfig, ResamplerConfig, VisionConfig};
use gvt_core::tokenizer::chat::VICUNA_V1_1;

use crate::checkpoint::Checkpoint;
use crate::hf::HfLlama;
use crate::layout::{self, Entry};
use crate::source::{SourceTensor, Tensors};
use crate::{ConvertError, Options, Result};

/// Where an output tensor's data comes from.
#[derive(Debug, Clone)]
pub enum Origin {
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
    pub origin: Origin,
}

impl PlannedTensor {
    /// Bytes it takes in the output.
    pub fn out_bytes(&self) -> u64 {
        self.header.n_bytes() as u64
    }

    /// Bytes read from the input for it.
    pub fn in_bytes(&self) -> u64 {
        match &self.origin {
            Origin::Source { tensor, .. } => tensor.n_bytes() as u64,
            Origin::Gguf { n_bytes, .. } => *n_bytes as u64,
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
    let mut notes = Vec::new();
    let llm = match opts.llm.as_deref() {
        None => None,
        Some(p) if p.is_dir() => Some(Llm::Hf(Box::new(HfLlama::open(p, &mut notes)?))),
        Some(p) => Some(Llm::Gguf(open_gguf(p, opts, &mut notes)?)),
    };
    let mut metadata = Metadata::new();
    let mut tensors = Vec::new();
    let name = opts.name.clone().unwrap_or_else(|| {
        let input = opts.checkpoint.as_deref().or(opts.llm.as_deref());
        // A folder's whole name (`vicuna-7b-v1.1`), a file's without its extension.
        let name = input.and_then(|p| match p.is_dir() {
            true => p.file_name(),
            false => p.file_stem(),
        });
        name.map_or("converted".into(), |s| s.to_string_lossy().into_owned())
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
            hf.config.write_metadata(&mut metadata, "llama");
            let c = &hf.config;
            LlmConfig::from_metadata(&metadata, c.vocab_size, c.tied_output)
                .map_err(|e| ConvertError::Invalid(format!("config.json: {e}")))?;
            hf.vocab.write_metadata(&mut metadata);
            if let Some(template) = &hf.chat_template {
                metadata.insert("tokenizer.chat_template", template.as_str().into());
            }
            notes.push(format!("LLM weights from {} files", hf.files.len()));
            let entries = layout::llama(&hf.config);
            tensors.extend(match_entries(&entries, &hf.tensors, opts, &mut notes)?);
            push_summary(&mut summary, &hf.config);
        }
        Some(Llm::Gguf(g)) => {
            // The LLM's keys move under `llama.`; its `general.*` keys stay, but for those
            // that describe the file rather than the model.
            const FILE_KEYS: [&str; 4] = ["architecture", "name", "alignment", "file_type"];
            for (key, value) in g.metadata.iter() {
                if let Some(rest) = key.strip_prefix(&format!("{}.", g.arch)) {
                    metadata.insert(format!("llama.{rest}"), value.clone());
                } else if key.starts_with("tokenizer.") {
                    metadata.insert(key, value.clone());
                } else if let Some(rest) = key.strip_prefix("general.")
                    && !FILE_KEYS.contains(&rest)
                {
                    metadata.insert(key, value.clone());
                }
            }
            tensors.extend(g.tensors.iter().cloned());
            push_summary(&mut summary, &g.config);
        }
        None => {
            summary.push_str("; vision only (give the LLM with `gvt ask --llm`)");
        }
    }
    if checkpoint.is_some() && llm.is_some() {
        // GVT's LLM was tuned in Vicuna v1.1's conversation format, whatever the file says.
        metadata.insert("tokenizer.chat_template", VICUNA_V1_1.into());
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

fn open_gguf(path: &Path, opts: &Options, notes: &mut Vec<String>) -> Result<GgufLlm> {
    let fail = |reason: String| ConvertError::Read {
        file: path.to_path_buf(),
        reason,
    };
    let file = GgufFile::open(path)?;
    let md = &file.metadata;
    let arch = md.get_str("general.architecture")?.to_string();
    if arch == "gvt" {
        return Err(fail("already a GVT file".into()));
    }
    let key = |k: &str| format!("{arch}.{k}");
    if md.opt_u32("split.count")?.is_some_and(|n| n > 1) {
        return Err(fail(
            "one part of a split GGUF: merge the parts first (llama-gguf-split --merge)".into(),
        ));
    }
    if md.opt_u32(&key("expert_count"))?.is_some_and(|n| n > 0) {
        return Err(fail("a mixture of experts, not a dense LLaMA".into()));
    }
    if let Some(kind) = md.get(&key("rope.scaling.type")).and_then(|v| v.as_str())
        && kind != "none"
    {
        return Err(fail(format!(
            "RoPE scaling `{kind}` is not supported (plain RoPE only)"
        )));
    }
    let embd = file
        .tensor_info("token_embd.weight")
        .ok_or_else(|| fail("no `token_embd.weight`: not an LLM".into()))?;
    let rows = embd.shape().first().copied().unwrap_or(0);
    let config = LlmConfig::from_metadata(md, rows, !file.contains("output.weight"))
        .map_err(|e| fail(e.to_string()))?;

    // Its tensors must be the LLaMA layout's, with the shapes its metadata gives.
    let expected = layout::llama(&config);
    let mut missing = Vec::new();
    for e in &expected {
        match file.tensor_info(&e.gguf) {
            None => missing.push(e.gguf.as_str()),
            Some(t) if t.shape() != e.shape => {
                return Err(fail(format!(
                    "tensor `{}` has shape {:?}, but the metadata's sizes need {:?}",
                    e.gguf,
                    t.shape(),
                    e.shape
                )));
            }
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        return Err(fail(format!(
            "{} tensors missing, e.g. {}",
            missing.len(),
            quoted(&missing)
        )));
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|e| e.gguf.as_str()).collect();
    let unused: Vec<&str> = file
        .tensors
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| !known.contains(n))
        .collect();
    report_unused(&unused, opts, notes)?;
    let tensors = file
        .tensors
        .iter()
        .filter(|t| known.contains(t.name.as_str()))
        .map(|t| PlannedTensor {
            header: TensorHeader {
                name: t.name.clone(),
                dims: t.dims.clone(),
                dtype: t.dtype,
            },
            shape: t.shape(),
            origin: Origin::Gguf {
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

/// Tensors the model does not use: an error naming them, or with `--allow-unused` a note.
fn report_unused(unused: &[&str], opts: &Options, notes: &mut Vec<String>) -> Result<()> {
    if unused.is_empty() {
        return Ok(());
    }
    let what = format!(
        "{} tensors the model does not use: {}",
        unused.len(),
        quoted(unused)
    );
    if !opts.allow_unused {
        return Err(ConvertError::Invalid(format!(
            "{what} (is this the right file? --allow-unused skips them)"
        )));
    }
    notes.push(format!("skipped {what}"));
    Ok(())
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
        t.check_dtype()?;
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
            origin: Origin::Source {
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
        if path.is_dir() {
            return Err(fail("is a folder".into()));
        }
        let file = File::create(&partial).map_err(|e| fail(e.to_string()))?;
        let headers: Vec<TensorHeader> = self.tensors.iter().map(|t| t.header.clone()).collect();
        // The writer's errors (a full disk, say) are about the output file: name it.
        let named = |e: ConvertError| match e {
            ConvertError::Gguf(GgufError::Io { reason, .. }) => fail(reason.to_string()),
            other => other,
        };
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
            let out = w.finish()?;
            let file = out.into_inner().map_err(|e| fail(e.error().to_string()))?;
            file.sync_all().map_err(|e| fail(e.to_string()))?;
            std::fs::rename(&partial, path).map_err(|e| fail(e.to_string()))
        })()
        .map_err(named);
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// The plan for people: one line per tensor, then totals (`gvt convert --dry-run`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "model: {}", self.summary);
        for t in &self.tensors {
            let (source, how) = match &t.origin {
                Origin::Source {
                    tensor,
                    permute_heads,
                } => {
                    let how = match permute_heads {
                        Some(h) => format!(" (rows permuted for RoPE, {h} heads)"),
                        None => String::new(),
                    };
                    (format!("{} {}", tensor.name, tensor.dtype.name()), how)
                }
                Origin::Gguf { .. } => ("copied".to_string(), String::new()),
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
            Bytes(self.output_bytes()),
            self.metadata.len(),
            Bytes(self.largest_input_tensor())
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
    match &t.origin {
        Origin::Gguf {
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
        Origin::Source {
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
    let source = tensor
        .dtype
        .ggml()
        .expect("planned tensors have a float type");
    let row_bytes = bytes.len() / rows;
    let row_len = row_bytes / source.type_size();
    let mut values = vec![0f32; range.len() * row_len];
    for (row, out) in range.zip(values.chunks_exact_mut(row_len)) {
        let from = match permute_heads {
            Some(heads) => layout::permuted_row(row, rows, heads),
            None => row,
        };
        dequantize_into(
            source,
            &bytes[from * row_bytes..(from + 1) * row_bytes],
            out,
        )?;
    }
    quantize(dtype, &values)
}

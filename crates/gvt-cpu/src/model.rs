//! The model description both engines share: the tensors a part of the model reads, by
//! their GGUF names and sizes.

use crate::{Result, TensorBytes};

/// Where a loader finds tensors by name.
pub type TensorSource<'a, 'b> = dyn FnMut(&str) -> Result<TensorBytes<'b>> + 'a;

/// A tensor a model reads: its GGUF name and `[cols, rows]` (vectors are `[width, 1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: [usize; 2],
    /// Read as f32 values (norms, biases, embeddings added to tokens) or as a reshaped
    /// matrix (a convolution): it must be stored as F32, F16 or BF16.
    pub float: bool,
}

impl TensorSpec {
    pub fn new(name: String, cols: usize, rows: usize) -> Self {
        Self {
            name,
            shape: [cols, rows],
            float: rows == 1,
        }
    }

    /// A tensor that must be stored as F32, F16 or BF16.
    pub fn float(name: String, cols: usize, rows: usize) -> Self {
        Self {
            float: true,
            ..Self::new(name, cols, rows)
        }
    }

    /// Whether this is a vector (a norm's weight, a bias) rather than a matrix.
    pub fn is_vector(&self) -> bool {
        self.shape[1] == 1
    }
}

/// The decoder's sizes (from GGUF metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmDims {
    pub vocab: usize,
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn_hidden: usize,
    pub rms_eps: f64,
    pub rope_base: f64,
    pub context: usize,
    pub tied_output: bool,
}

impl LlmDims {
    /// Refuses heads an engine cannot run: `head_dim` must be even and at most
    /// `max_head_dim`, and the query heads must share the key/value heads evenly.
    pub fn check(&self, engine: &str, max_head_dim: usize) -> Result<()> {
        if self.head_dim > max_head_dim || !self.head_dim.is_multiple_of(2) {
            return Err(crate::CpuError::InvalidInput(format!(
                "head size {} is not supported by the {engine} (even, at most {max_head_dim})",
                self.head_dim
            )));
        }
        if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return Err(crate::CpuError::InvalidInput(format!(
                "{} heads do not share {} key/value heads evenly",
                self.heads, self.kv_heads
            )));
        }
        Ok(())
    }

    /// Layer `i`'s tensors: attn_norm, q, k, v, o, ffn_norm, gate, up, down.
    pub fn layer_tensors(&self, i: usize) -> [TensorSpec; 9] {
        let n = |part: &str| format!("blk.{i}.{part}.weight");
        let (e, f) = (self.width, self.ffn_hidden);
        let (q, kv) = (self.heads * self.head_dim, self.kv_heads * self.head_dim);
        [
            TensorSpec::new(n("attn_norm"), e, 1),
            TensorSpec::new(n("attn_q"), e, q),
            TensorSpec::new(n("attn_k"), e, kv),
            TensorSpec::new(n("attn_v"), e, kv),
            TensorSpec::new(n("attn_output"), q, e),
            TensorSpec::new(n("ffn_norm"), e, 1),
            TensorSpec::new(n("ffn_gate"), e, f),
            TensorSpec::new(n("ffn_up"), e, f),
            TensorSpec::new(n("ffn_down"), f, e),
        ]
    }

    /// The whole model's tensors: the embedding, the output head unless it is tied, the
    /// final norm, then every layer's.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let e = self.width;
        let mut all = vec![TensorSpec::new("token_embd.weight".into(), e, self.vocab)];
        if !self.tied_output {
            all.push(TensorSpec::new("output.weight".into(), e, self.vocab));
        }
        all.push(TensorSpec::new("output_norm.weight".into(), e, 1));
        all.extend((0..self.depth).flat_map(|i| self.layer_tensors(i)));
        all
    }
}

/// The visual path's sizes (from GGUF metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct VisionDims {
    pub image_size: usize,
    pub patch_size: usize,
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub ffn_hidden: usize,
    pub norm_eps: f64,
    pub ln_vision_eps: f64,
    pub rope_theta: f64,
    pub resampler: ResamplerDims,
    /// Width of the visual tokens the LLM takes.
    pub llm_width: usize,
}

/// The Perceiver Resampler's sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResamplerDims {
    pub width: usize,
    pub depth: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub latents: usize,
    pub ffn_hidden: usize,
    pub norm_eps: f64,
}

impl VisionDims {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// CLS and the patches.
    pub fn tokens(&self) -> usize {
        1 + self.grid() * self.grid()
    }

    /// Each head's size.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }

    /// Every tensor the visual path reads, `[cols, rows]` in ggml order (vectors `[n, 1]`;
    /// the convolution `[p, p * 3 * width]`, its four dimensions as stored read as rows).
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let (d, p, f) = (self.width, self.patch_size, self.ffn_hidden);
        let r = &self.resampler;
        let inner = r.heads * r.head_dim;
        let mut all = Vec::new();
        let mut matrix = |name: String, cols: usize, rows: usize, bias: bool| {
            if bias {
                all.push(TensorSpec::new(format!("{name}.bias"), rows, 1));
            }
            all.push(TensorSpec::new(format!("{name}.weight"), cols, rows));
        };
        matrix("mm.proj".into(), d, self.llm_width, true);
        for i in 0..self.depth {
            let n = |part: &str| format!("v.blk.{i}.{part}");
            for (part, cols, rows, bias) in [
                ("attn_q", d, d, true),
                ("attn_k", d, d, false),
                ("attn_v", d, d, true),
                ("attn_out", d, d, true),
                ("ffn_gate", d, f, true),
                ("ffn_up", d, f, true),
                ("ffn_down", f, d, true),
            ] {
                matrix(n(part), cols, rows, bias);
            }
        }
        for i in 0..r.depth {
            let n = |part: &str| format!("r.blk.{i}.{part}");
            for (part, cols, rows) in [
                ("attn_q", d, inner),
                ("attn_kv", d, 2 * inner),
                ("attn_out", inner, d),
                ("ffn_up", d, r.ffn_hidden),
                ("ffn_down", r.ffn_hidden, d),
            ] {
                matrix(n(part), cols, rows, false);
            }
        }
        all.push(TensorSpec::float(
            "v.patch_embd.weight".into(),
            p,
            p * 3 * d,
        ));
        all.push(TensorSpec::new("v.patch_embd.bias".into(), d, 1));
        all.push(TensorSpec::float("v.pos_embd".into(), d, self.tokens()));
        all.push(TensorSpec::new("v.cls_token".into(), d, 1));
        all.push(TensorSpec::new("r.media_pos".into(), d, 1));
        all.push(TensorSpec::new("r.latents".into(), d, r.latents));
        let mut norm = |name: String, width: usize| {
            all.push(TensorSpec::new(format!("{name}.weight"), width, 1));
            all.push(TensorSpec::new(format!("{name}.bias"), width, 1));
        };
        for i in 0..self.depth {
            for (part, width) in [("norm1", d), ("attn_ln", d), ("norm2", d), ("ffn_ln", f)] {
                norm(format!("v.blk.{i}.{part}"), width);
            }
        }
        for i in 0..r.depth {
            for part in ["norm_media", "norm_latents", "ffn_norm"] {
                norm(format!("r.blk.{i}.{part}"), d);
            }
        }
        norm("v.ln_vision".into(), d);
        norm("r.norm".into(), d);
        all
    }
}

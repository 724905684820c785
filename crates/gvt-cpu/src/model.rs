//! The model description both engines share: the tensors a part of the model reads, by
//! their GGUF names and sizes.

use crate::{Result, TensorBytes};

/// Where a loader finds tensors by name.
pub type TensorSource<'a, 'b> = dyn FnMut(&str) -> Result<TensorBytes<'b>> + 'a;

/// Tensor `spec` from `tensors`, refused unless it has `spec`'s shape.
pub fn fetch<'b>(tensors: &mut TensorSource<'_, 'b>, spec: &TensorSpec) -> Result<TensorBytes<'b>> {
    let t = tensors(&spec.name)?;
    if t.shape != spec.shape {
        return Err(crate::CpuError::Shape {
            tensor: spec.name.clone(),
            problem: format!("shape {:?}, expected {:?}", t.shape, spec.shape),
        });
    }
    Ok(t)
}

/// A small tensor (a norm, a bias, an embedding added to tokens) as f32 values, in any
/// format; a NaN or an infinity is refused by name, since the model would answer garbage.
pub fn f32_values(t: TensorBytes<'_>) -> Result<Vec<f32>> {
    t.row_bytes().map_err(|problem| crate::CpuError::Shape {
        tensor: t.name.into(),
        problem,
    })?;
    let mut values = vec![0f32; t.shape[0] * t.shape[1]];
    t.format.decode(t.bytes, &mut values);
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(values),
        Some(index) => Err(crate::CpuError::NonFinite {
            tensor: t.name.into(),
            index,
            value: values[index],
        }),
    }
}

/// A tensor a model reads: its GGUF name and `[cols, rows]` (vectors are `[width, 1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: [usize; 2],
    /// Read as f32 values (norms, biases, embeddings added to tokens) or as a reshaped
    /// matrix (a convolution, which must be stored without blocks); random weights of the
    /// layout give these F16.
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

    /// A tensor read as floats, not as a matrix of blocks.
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

    /// The resampler's cross-attention as captured: `[layers, heads, latents, tokens +
    /// latents]` (the latents attend to the image tokens and to themselves).
    pub fn resampler_attention(&self) -> [usize; 4] {
        let r = &self.resampler;
        [r.depth, r.heads, r.latents, self.tokens() + r.latents]
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

/// Reads a model part's tensors by name as one engine holds them: matrices in their GGUF
/// blocks, and vectors (norms) as f32 values.
pub trait Tensors {
    type Matrix: Matrix;
    type Vector;
    type Error: From<crate::CpuError>;
    fn matrix(&mut self, spec: &TensorSpec) -> Result<Self::Matrix, Self::Error>;
    /// A tensor stored as `spec` says, read as the `[cols, rows]` matrix of the same values
    /// (a convolution's weights); only formats without blocks can be.
    fn matrix_as(
        &mut self,
        spec: &TensorSpec,
        shape: [usize; 2],
    ) -> Result<Self::Matrix, Self::Error>;
    fn vector(&mut self, spec: &TensorSpec) -> Result<Self::Vector, Self::Error>;
    /// A tensor as f32 values on the host.
    fn values(&mut self, spec: &TensorSpec) -> Result<Vec<f32>, Self::Error>;
    /// Values computed on the host (`what` names them), as the engine holds a vector.
    fn vector_of(&mut self, what: &str, values: Vec<f32>) -> Result<Self::Vector, Self::Error>;
}

/// What the engines report about a matrix they hold.
pub trait Matrix {
    fn format(&self) -> crate::WeightFormat;
    /// Bytes as stored.
    fn stored_bytes(&self) -> u64;
}

impl Matrix for crate::Weight {
    fn format(&self) -> crate::WeightFormat {
        self.format
    }
    fn stored_bytes(&self) -> u64 {
        self.bytes().len() as u64
    }
}

/// One decoder layer's weights, in an engine's matrix (`M`) and vector (`V`) types.
pub struct LlmLayer<M, V> {
    pub attn_norm: V,
    pub q: M,
    pub k: M,
    pub v: M,
    pub o: M,
    pub ffn_norm: V,
    pub gate: M,
    pub up: M,
    pub down: M,
}

/// A LLaMA-family decoder's weights: the embedding, the output head unless it is tied, the
/// final norm and the layers. Both engines hold their weights in this one layout.
pub struct LlmWeights<M, V> {
    pub embed: M,
    pub output: Option<M>,
    pub norm: V,
    pub layers: Vec<LlmLayer<M, V>>,
}

impl<M: Matrix, V> LlmWeights<M, V> {
    /// Reads every tensor `dims` names, in file order of use.
    pub fn load<T>(dims: &LlmDims, tensors: &mut T) -> Result<Self, T::Error>
    where
        T: Tensors<Matrix = M, Vector = V>,
    {
        let e = dims.width;
        let embed = tensors.matrix(&TensorSpec::new("token_embd.weight".into(), e, dims.vocab))?;
        let output = if dims.tied_output {
            None
        } else {
            Some(tensors.matrix(&TensorSpec::new("output.weight".into(), e, dims.vocab))?)
        };
        // No capacity from the metadata: a hostile depth must fail on its first missing
        // tensor, not on an allocation.
        let mut layers = Vec::new();
        for i in 0..dims.depth {
            let [attn_norm, q, k, v, o, ffn_norm, gate, up, down] = dims.layer_tensors(i);
            layers.push(LlmLayer {
                attn_norm: tensors.vector(&attn_norm)?,
                q: tensors.matrix(&q)?,
                k: tensors.matrix(&k)?,
                v: tensors.matrix(&v)?,
                o: tensors.matrix(&o)?,
                ffn_norm: tensors.vector(&ffn_norm)?,
                gate: tensors.matrix(&gate)?,
                up: tensors.matrix(&up)?,
                down: tensors.matrix(&down)?,
            });
        }
        let norm = tensors.vector(&TensorSpec::new("output_norm.weight".into(), e, 1))?;
        Ok(Self {
            embed,
            output,
            norm,
            layers,
        })
    }

    /// The matrix the logits come from: the output head, or the embedding when tied.
    pub fn head(&self) -> &M {
        self.output.as_ref().unwrap_or(&self.embed)
    }

    /// Every weight matrix, the embedding and output head included.
    pub fn matrices(&self) -> impl Iterator<Item = &M> {
        self.layers
            .iter()
            .flat_map(|l| [&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down])
            .chain(std::iter::once(&self.embed))
            .chain(self.output.as_ref())
    }

    /// Bytes of weight matrices as stored.
    pub fn weight_bytes(&self) -> u64 {
        self.matrices().map(M::stored_bytes).sum()
    }

    /// Bytes of weights a decode step reads: every matrix, the output head whole, and one
    /// row of the embedding (unless it is the head too).
    pub fn bytes_per_token(&self) -> u64 {
        match &self.output {
            Some(_) => self.weight_bytes() - self.embed.stored_bytes(),
            None => self.weight_bytes(),
        }
    }

    /// Formats of the matrices, e.g. "Q4_1 x 210, Q8_0 x 1".
    pub fn formats(&self) -> String {
        let mut counts: Vec<(crate::WeightFormat, usize)> = Vec::new();
        for w in self.matrices() {
            match counts.iter_mut().find(|(f, _)| *f == w.format()) {
                Some((_, n)) => *n += 1,
                None => counts.push((w.format(), 1)),
            }
        }
        counts
            .iter()
            .map(|(f, n)| format!("{f} x {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A LayerNorm's weight and bias.
pub struct LayerNorm<V> {
    pub weight: V,
    pub bias: V,
}

/// A linear layer and its bias, if it has one.
pub struct Linear<M, V> {
    pub weight: M,
    pub bias: Option<V>,
}

/// One block of the vision tower.
pub struct VisionBlock<M, V> {
    pub norm1: LayerNorm<V>,
    pub q: Linear<M, V>,
    pub k: Linear<M, V>,
    pub v: Linear<M, V>,
    pub attn_ln: LayerNorm<V>,
    pub out: Linear<M, V>,
    pub norm2: LayerNorm<V>,
    pub gate: Linear<M, V>,
    pub up: Linear<M, V>,
    pub ffn_ln: LayerNorm<V>,
    pub down: Linear<M, V>,
}

/// One layer of the Perceiver Resampler.
pub struct ResamplerLayer<M, V> {
    pub norm_media: LayerNorm<V>,
    pub norm_latents: LayerNorm<V>,
    pub q: Linear<M, V>,
    pub kv: Linear<M, V>,
    pub out: Linear<M, V>,
    pub ffn_norm: LayerNorm<V>,
    pub up: Linear<M, V>,
    pub down: Linear<M, V>,
}

/// GVT's visual path: the ViT, `ln_vision`, the resampler and the projection. Both engines
/// hold their weights in this one layout.
pub struct VisionWeights<M, V> {
    /// The convolution as a `[3 * p * p, width]` matrix over flattened patches.
    pub patch: Linear<M, V>,
    /// `[tokens, width]`: the position embeddings, with the CLS token added to row 0.
    pub start: V,
    pub blocks: Vec<VisionBlock<M, V>>,
    /// `ln_vision`, its bias with the resampler's `media_pos` added (both are added to
    /// every image token).
    pub ln_vision: LayerNorm<V>,
    /// `[latents, width]`.
    pub latents: M,
    pub layers: Vec<ResamplerLayer<M, V>>,
    pub norm: LayerNorm<V>,
    pub proj: Linear<M, V>,
}

impl VisionDims {
    /// Refuses a visual path an engine cannot run.
    pub fn check(&self, max_head_dim: usize) -> Result<()> {
        let (d, p) = (self.width, self.patch_size);
        let shaped = self.heads > 0
            && d.is_multiple_of(self.heads)
            && self.head_dim().is_multiple_of(4)
            && self.head_dim() <= max_head_dim
            && self.resampler.head_dim <= max_head_dim
            && p > 0
            && self.grid() > 0;
        if !shaped {
            return Err(crate::CpuError::InvalidInput(format!(
                "a vision tower of width {d} in {} heads over {p} px patches of {} px images \
                 (the head size must be a multiple of 4 for the 2-D RoPE, at most \
                 {max_head_dim})",
                self.heads, self.image_size
            )));
        }
        if self.resampler.width != d {
            return Err(crate::CpuError::InvalidInput(format!(
                "the resampler's width {} differs from the vision tower's {d}",
                self.resampler.width
            )));
        }
        Ok(())
    }
}

impl<M: Matrix, V> VisionWeights<M, V> {
    /// Reads every tensor `dims` names.
    pub fn load<T>(dims: &VisionDims, t: &mut T) -> Result<Self, T::Error>
    where
        T: Tensors<Matrix = M, Vector = V>,
    {
        let (d, p, f) = (dims.width, dims.patch_size, dims.ffn_hidden);
        let r = &dims.resampler;
        let inner = r.heads * r.head_dim;
        fn layer_norm<T: Tensors>(
            t: &mut T,
            name: &str,
            width: usize,
        ) -> Result<LayerNorm<T::Vector>, T::Error> {
            Ok(LayerNorm {
                weight: t.vector(&TensorSpec::new(format!("{name}.weight"), width, 1))?,
                bias: t.vector(&TensorSpec::new(format!("{name}.bias"), width, 1))?,
            })
        }
        fn linear<T: Tensors>(
            t: &mut T,
            name: &str,
            [cols, rows]: [usize; 2],
            bias: bool,
        ) -> Result<Linear<T::Matrix, T::Vector>, T::Error> {
            Ok(Linear {
                weight: t.matrix(&TensorSpec::new(format!("{name}.weight"), cols, rows))?,
                bias: match bias {
                    true => Some(t.vector(&TensorSpec::new(format!("{name}.bias"), rows, 1))?),
                    false => None,
                },
            })
        }
        let conv = TensorSpec::new("v.patch_embd.weight".into(), p, p * 3 * d);
        let patch = Linear {
            weight: t.matrix_as(&conv, [3 * p * p, d])?,
            bias: Some(t.vector(&TensorSpec::new("v.patch_embd.bias".into(), d, 1))?),
        };
        let mut start = t.values(&TensorSpec::float("v.pos_embd".into(), d, dims.tokens()))?;
        let cls = t.values(&TensorSpec::new("v.cls_token".into(), d, 1))?;
        start.iter_mut().zip(&cls).for_each(|(s, c)| *s += c);
        let start = t.vector_of("v.pos_embd + v.cls_token", start)?;
        let mut blocks = Vec::new();
        for i in 0..dims.depth {
            let n = |part: &str| format!("v.blk.{i}.{part}");
            blocks.push(VisionBlock {
                norm1: layer_norm(t, &n("norm1"), d)?,
                q: linear(t, &n("attn_q"), [d, d], true)?,
                k: linear(t, &n("attn_k"), [d, d], false)?,
                v: linear(t, &n("attn_v"), [d, d], true)?,
                attn_ln: layer_norm(t, &n("attn_ln"), d)?,
                out: linear(t, &n("attn_out"), [d, d], true)?,
                norm2: layer_norm(t, &n("norm2"), d)?,
                gate: linear(t, &n("ffn_gate"), [d, f], true)?,
                up: linear(t, &n("ffn_up"), [d, f], true)?,
                ffn_ln: layer_norm(t, &n("ffn_ln"), f)?,
                down: linear(t, &n("ffn_down"), [f, d], true)?,
            });
        }
        let weight = t.vector(&TensorSpec::new("v.ln_vision.weight".into(), d, 1))?;
        let mut bias = t.values(&TensorSpec::new("v.ln_vision.bias".into(), d, 1))?;
        let media_pos = t.values(&TensorSpec::new("r.media_pos".into(), d, 1))?;
        bias.iter_mut().zip(&media_pos).for_each(|(b, m)| *b += m);
        let ln_vision = LayerNorm {
            weight,
            bias: t.vector_of("v.ln_vision.bias + r.media_pos", bias)?,
        };
        let latents = t.matrix(&TensorSpec::new("r.latents".into(), d, r.latents))?;
        let mut layers = Vec::new();
        for i in 0..r.depth {
            let n = |part: &str| format!("r.blk.{i}.{part}");
            layers.push(ResamplerLayer {
                norm_media: layer_norm(t, &n("norm_media"), d)?,
                norm_latents: layer_norm(t, &n("norm_latents"), d)?,
                q: linear(t, &n("attn_q"), [d, inner], false)?,
                kv: linear(t, &n("attn_kv"), [d, 2 * inner], false)?,
                out: linear(t, &n("attn_out"), [inner, d], false)?,
                ffn_norm: layer_norm(t, &n("ffn_norm"), d)?,
                up: linear(t, &n("ffn_up"), [d, r.ffn_hidden], false)?,
                down: linear(t, &n("ffn_down"), [r.ffn_hidden, d], false)?,
            });
        }
        Ok(Self {
            patch,
            start,
            blocks,
            ln_vision,
            latents,
            layers,
            norm: layer_norm(t, "r.norm", d)?,
            proj: linear(t, "mm.proj", [d, dims.llm_width], true)?,
        })
    }

    /// Bytes of weight matrices as stored.
    pub fn weight_bytes(&self) -> u64 {
        let linears = self
            .blocks
            .iter()
            .flat_map(|b| [&b.q, &b.k, &b.v, &b.out, &b.gate, &b.up, &b.down])
            .chain(
                self.layers
                    .iter()
                    .flat_map(|l| [&l.q, &l.kv, &l.out, &l.up, &l.down]),
            )
            .chain([&self.patch, &self.proj]);
        linears.map(|l| l.weight.stored_bytes()).sum::<u64>() + self.latents.stored_bytes()
    }
}

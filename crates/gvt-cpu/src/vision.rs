//! GVT's visual path on the CPU kernels: the EVA-02-style ViT, `ln_vision`, the Perceiver
//! Resampler and the projection into the LLM's width, the same steps as the GPU engine's
//! (`gvt-gpu`'s `vision.rs`):
//! `patches -> + pos -> depth x (norm1, q/k/v, 2-D RoPE, attention, sub-LN, out + residual,
//! norm2, gate, up * silu(gate), sub-LN, down + residual) -> ln_vision (+ media_pos) ->
//! layers x (norms, q, kv, cross-attention, out + residual, norm, up + GELU, down + residual)
//! -> norm -> projection`.

use std::sync::Arc;

use crate::kernels::attention::{KeysValues, full_attention};
use crate::kernels::linear::{Linear as Job, linear};
use crate::kernels::norm::{add_bias, gelu, layer_norm, swiglu};
use crate::kernels::quantize::Q16;
use crate::kernels::rope::{rope, vision_table};
use crate::llm::Loader;
use crate::model::{TensorSource, TensorSpec, VisionDims};
use crate::{Cpu, CpuError, Result, Shared, Weight};

/// A LayerNorm's weight and bias.
struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl LayerNorm {
    fn apply(&self, eps: f64, x: &[f32], y: &mut [f32]) {
        layer_norm(x, &self.weight, &self.bias, eps as f32, y);
    }
}

/// A linear layer and its bias, if it has one.
struct Linear {
    weight: Weight,
    bias: Option<Vec<f32>>,
}

impl Linear {
    /// Adds the bias (when there is one) to the rows of `y`.
    fn bias(&self, y: &mut [f32]) {
        if let Some(b) = &self.bias {
            add_bias(y, b);
        }
    }
}

struct Block {
    norm1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    attn_ln: LayerNorm,
    out: Linear,
    norm2: LayerNorm,
    gate: Linear,
    up: Linear,
    ffn_ln: LayerNorm,
    down: Linear,
}

struct ResamplerLayer {
    norm_media: LayerNorm,
    norm_latents: LayerNorm,
    q: Linear,
    kv: Linear,
    out: Linear,
    ffn_norm: LayerNorm,
    up: Linear,
    down: Linear,
}

/// The visual path's weights, read in place.
pub struct CpuVisual {
    cpu: Cpu,
    dims: VisionDims,
    /// The convolution as a `[3 * p * p, width]` matrix over flattened patches.
    patch: Linear,
    /// `[tokens, width]`: the position embeddings, with the CLS token added to row 0.
    start: Vec<f32>,
    /// The 2-D RoPE table of the patch grid ([`vision_table`]).
    rope: Vec<f32>,
    blocks: Vec<Block>,
    /// `ln_vision`, its bias with the resampler's `media_pos` added.
    ln_vision: LayerNorm,
    /// `[latents, width]`.
    latents: Vec<f32>,
    layers: Vec<ResamplerLayer>,
    norm: LayerNorm,
    proj: Linear,
}

/// Reads the visual path's tensors by name.
struct Parts<'l, 's, 'a, 'b, 'p> {
    load: &'l mut Loader<'s, 'a, 'b, 'p>,
}

impl Parts<'_, '_, '_, '_, '_> {
    fn layer_norm(&mut self, name: &str, width: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.values(&format!("{name}.weight"), width, 1)?,
            bias: self.values(&format!("{name}.bias"), width, 1)?,
        })
    }

    fn linear(&mut self, name: &str, cols: usize, rows: usize, bias: bool) -> Result<Linear> {
        let spec = TensorSpec::new(format!("{name}.weight"), cols, rows);
        Ok(Linear {
            weight: self.load.matrix(&spec)?,
            bias: bias
                .then(|| self.values(&format!("{name}.bias"), rows, 1))
                .transpose()?,
        })
    }

    fn values(&mut self, name: &str, cols: usize, rows: usize) -> Result<Vec<f32>> {
        self.load.values(&TensorSpec::new(name.into(), cols, rows))
    }
}

impl CpuVisual {
    /// Reads the visual path, in place where the tensors lie in `owner`; `on_progress` gets
    /// each tensor's bytes.
    pub fn load(
        cpu: &Cpu,
        dims: VisionDims,
        tensors: &mut TensorSource<'_, '_>,
        owner: Option<&Shared>,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        let (d, p, f) = (dims.width, dims.patch_size, dims.ffn_hidden);
        let r = &dims.resampler;
        let shaped = dims.heads > 0
            && d.is_multiple_of(dims.heads)
            && dims.head_dim().is_multiple_of(4)
            && dims.head_dim() <= crate::kernels::attention::MAX_HEAD_DIM
            && r.head_dim <= crate::kernels::attention::MAX_HEAD_DIM
            && p > 0
            && dims.grid() > 0;
        if !shaped {
            return Err(CpuError::InvalidInput(format!(
                "a vision tower of width {d} in {} heads over {} px patches of {} px images \
                 (the head size must be a multiple of 4 for the 2-D RoPE)",
                dims.heads, p, dims.image_size
            )));
        }
        if r.width != d {
            return Err(CpuError::InvalidInput(format!(
                "the resampler's width {} differs from the vision tower's {d}",
                r.width
            )));
        }
        let mut loader = Loader {
            tensors,
            owner,
            on_progress,
        };
        let mut parts = Parts { load: &mut loader };
        let conv = TensorSpec::new("v.patch_embd.weight".into(), p, p * 3 * d);
        let patch = Linear {
            weight: parts.load.matrix_as(&conv, [3 * p * p, d])?,
            bias: Some(parts.values("v.patch_embd.bias", d, 1)?),
        };
        let mut start = parts.values("v.pos_embd", d, dims.tokens())?;
        let cls = parts.values("v.cls_token", d, 1)?;
        start.iter_mut().zip(&cls).for_each(|(s, c)| *s += c);
        let blocks = (0..dims.depth)
            .map(|i| {
                let n = |part: &str| format!("v.blk.{i}.{part}");
                Ok(Block {
                    norm1: parts.layer_norm(&n("norm1"), d)?,
                    q: parts.linear(&n("attn_q"), d, d, true)?,
                    k: parts.linear(&n("attn_k"), d, d, false)?,
                    v: parts.linear(&n("attn_v"), d, d, true)?,
                    attn_ln: parts.layer_norm(&n("attn_ln"), d)?,
                    out: parts.linear(&n("attn_out"), d, d, true)?,
                    norm2: parts.layer_norm(&n("norm2"), d)?,
                    gate: parts.linear(&n("ffn_gate"), d, f, true)?,
                    up: parts.linear(&n("ffn_up"), d, f, true)?,
                    ffn_ln: parts.layer_norm(&n("ffn_ln"), f)?,
                    down: parts.linear(&n("ffn_down"), f, d, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut ln_vision = parts.layer_norm("v.ln_vision", d)?;
        let media_pos = parts.values("r.media_pos", d, 1)?;
        (ln_vision.bias.iter_mut().zip(&media_pos)).for_each(|(b, m)| *b += m);
        let latents = parts.values("r.latents", d, r.latents)?;
        let inner = r.heads * r.head_dim;
        let layers = (0..r.depth)
            .map(|i| {
                let n = |part: &str| format!("r.blk.{i}.{part}");
                Ok(ResamplerLayer {
                    norm_media: parts.layer_norm(&n("norm_media"), d)?,
                    norm_latents: parts.layer_norm(&n("norm_latents"), d)?,
                    q: parts.linear(&n("attn_q"), d, inner, false)?,
                    kv: parts.linear(&n("attn_kv"), d, 2 * inner, false)?,
                    out: parts.linear(&n("attn_out"), inner, d, false)?,
                    ffn_norm: parts.layer_norm(&n("ffn_norm"), d)?,
                    up: parts.linear(&n("ffn_up"), d, r.ffn_hidden, false)?,
                    down: parts.linear(&n("ffn_down"), r.ffn_hidden, d, false)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = parts.layer_norm("r.norm", d)?;
        let proj = parts.linear("mm.proj", d, dims.llm_width, true)?;
        Ok(Self {
            cpu: cpu.clone(),
            rope: vision_table(dims.grid(), dims.head_dim(), dims.rope_theta),
            patch,
            start,
            blocks,
            ln_vision,
            latents,
            layers,
            norm,
            proj,
            dims,
        })
    }

    pub fn dims(&self) -> &VisionDims {
        &self.dims
    }

    /// Bytes of weight matrices.
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
        linears.map(|l| l.weight.bytes().len() as u64).sum()
    }
}

/// An image's visual tokens, and the resampler's attention when it was captured.
pub struct VisualTokens {
    /// `[latents, llm_width]` row-major.
    pub embeds: Vec<f32>,
    /// `[layers, heads, latents, tokens + latents]` row-major.
    pub attention: Option<Vec<f32>>,
}

/// Encodes images; keeps whether the resampler's attention is captured.
pub struct VisualSession {
    model: Arc<CpuVisual>,
    capture: bool,
    q16: Q16,
}

impl VisualSession {
    pub fn new(model: Arc<CpuVisual>, capture: bool) -> Self {
        Self {
            model,
            capture,
            q16: Q16::default(),
        }
    }

    pub fn model(&self) -> &Arc<CpuVisual> {
        &self.model
    }

    /// Whether the session keeps the resampler's attention.
    pub fn captures(&self) -> bool {
        self.capture
    }

    /// The visual tokens of one image: normalised pixels `[3, size, size]`, channel-major.
    pub fn encode(&mut self, pixels: &[f32]) -> Result<VisualTokens> {
        let model = &*self.model;
        let cpu = &model.cpu;
        let m = &model.dims;
        let r = &m.resampler;
        let (s, p, d, f) = (m.image_size, m.patch_size, m.width, m.ffn_hidden);
        if pixels.len() != 3 * s * s {
            return Err(CpuError::InvalidInput(format!(
                "{} pixel values for a {s} x {s} RGB image",
                pixels.len()
            )));
        }
        let (tokens, l) = (m.tokens(), r.latents);
        let (heads, hd) = (m.heads, m.head_dim());
        let inner = r.heads * r.head_dim;
        let q16 = &mut self.q16;
        let zeros = |n: usize| vec![0f32; n];

        // The patch embedding onto rows 1.. of the positions.
        let mut x = model.start.clone();
        let patches = patch_rows(pixels, s, p);
        linear(
            cpu,
            &patches,
            &mut [Job::add(&model.patch.weight, &mut x[d..])],
            q16,
        );
        model.patch.bias(&mut x[d..]);

        let eps = m.norm_eps;
        let (mut xn, mut q, mut k, mut v) = (
            zeros(tokens * d),
            zeros(tokens * d),
            zeros(tokens * d),
            zeros(tokens * d),
        );
        let (mut att, mut att_n) = (zeros(tokens * d), zeros(tokens * d));
        let (mut gate, mut up, mut up_n) =
            (zeros(tokens * f), zeros(tokens * f), zeros(tokens * f));
        let pairs = hd / 2;
        let (cos, sin) = model.rope.split_at(tokens * pairs);
        for b in &model.blocks {
            b.norm1.apply(eps, &x, &mut xn);
            linear(
                cpu,
                &xn,
                &mut [
                    Job::store(&b.q.weight, &mut q),
                    Job::store(&b.k.weight, &mut k),
                    Job::store(&b.v.weight, &mut v),
                ],
                q16,
            );
            b.q.bias(&mut q);
            b.k.bias(&mut k);
            b.v.bias(&mut v);
            for t in 0..tokens {
                let (c, sn) = (&cos[t * pairs..][..pairs], &sin[t * pairs..][..pairs]);
                rope(&mut q[t * d..][..d], hd, c, sn);
                rope(&mut k[t * d..][..d], hd, c, sn);
            }
            let kv = KeysValues {
                k: &k,
                v: &v,
                stride: d,
                k_at: 0,
                v_at: 0,
                len: tokens,
            };
            full_attention(cpu, heads, hd, &q, kv, &mut att, None);
            b.attn_ln.apply(eps, &att, &mut att_n);
            linear(cpu, &att_n, &mut [Job::add(&b.out.weight, &mut x)], q16);
            b.out.bias(&mut x);
            b.norm2.apply(eps, &x, &mut xn);
            linear(
                cpu,
                &xn,
                &mut [
                    Job::store(&b.gate.weight, &mut gate),
                    Job::store(&b.up.weight, &mut up),
                ],
                q16,
            );
            b.gate.bias(&mut gate);
            b.up.bias(&mut up);
            swiglu(&mut gate, &up);
            b.ffn_ln.apply(eps, &gate, &mut up_n);
            linear(cpu, &up_n, &mut [Job::add(&b.down.weight, &mut x)], q16);
            b.down.bias(&mut x);
        }
        let mut media = zeros(tokens * d);
        model.ln_vision.apply(m.ln_vision_eps, &x, &mut media);

        let reps = r.norm_eps;
        let keys = tokens + l;
        let mut latents = model.latents.clone();
        let mut kv_in = zeros(keys * d);
        let mut rq = zeros(l * inner);
        let mut kv = zeros(keys * 2 * inner);
        let mut r_att = zeros(l * inner);
        let mut ff_in = zeros(l * d);
        let mut ff = zeros(l * r.ffn_hidden);
        let per_layer = r.heads * l * keys;
        let mut probs = self.capture.then(|| zeros(r.depth * per_layer));
        for (i, layer) in model.layers.iter().enumerate() {
            let (media_n, latents_n) = kv_in.split_at_mut(tokens * d);
            layer.norm_media.apply(reps, &media, media_n);
            layer.norm_latents.apply(reps, &latents, latents_n);
            linear(
                cpu,
                latents_n,
                &mut [Job::store(&layer.q.weight, &mut rq)],
                q16,
            );
            linear(
                cpu,
                &kv_in,
                &mut [Job::store(&layer.kv.weight, &mut kv)],
                q16,
            );
            let keys_values = KeysValues {
                k: &kv,
                v: &kv,
                stride: 2 * inner,
                k_at: 0,
                v_at: inner,
                len: keys,
            };
            let probs = probs
                .as_mut()
                .map(|p| &mut p[i * per_layer..(i + 1) * per_layer]);
            full_attention(
                cpu,
                r.heads,
                r.head_dim,
                &rq,
                keys_values,
                &mut r_att,
                probs,
            );
            linear(
                cpu,
                &r_att,
                &mut [Job::add(&layer.out.weight, &mut latents)],
                q16,
            );
            layer.ffn_norm.apply(reps, &latents, &mut ff_in);
            linear(
                cpu,
                &ff_in,
                &mut [Job::store(&layer.up.weight, &mut ff)],
                q16,
            );
            gelu(&mut ff);
            linear(
                cpu,
                &ff,
                &mut [Job::add(&layer.down.weight, &mut latents)],
                q16,
            );
        }
        let mut out = zeros(l * d);
        model.norm.apply(reps, &latents, &mut out);
        let mut embeds = zeros(l * m.llm_width);
        linear(
            cpu,
            &out,
            &mut [Job::store(&model.proj.weight, &mut embeds)],
            q16,
        );
        model.proj.bias(&mut embeds);
        Ok(VisualTokens {
            embeds,
            attention: probs,
        })
    }
}

/// The image's patches as rows `[grid^2, 3 * p * p]`, in the convolution weight's order
/// (channel, then row and column inside the patch), patches row-major.
pub fn patch_rows(pixels: &[f32], size: usize, p: usize) -> Vec<f32> {
    let grid = size / p;
    let mut rows = Vec::with_capacity(grid * grid * 3 * p * p);
    for gy in 0..grid {
        for gx in 0..grid {
            for c in 0..3 {
                for ky in 0..p {
                    let at = (c * size + gy * p + ky) * size + gx * p;
                    rows.extend_from_slice(&pixels[at..at + p]);
                }
            }
        }
    }
    rows
}

//! GVT's visual path on the CPU kernels: the EVA-02-style ViT, `ln_vision`, the Perceiver
//! Resampler and the projection into the LLM's width, the same steps as the GPU engine's
//! (`gvt-gpu`'s `vision.rs`):
//! `patches -> + pos -> depth x (norm1, q/k/v, 2-D RoPE, attention, sub-LN, out + residual,
//! norm2, gate, up * silu(gate), sub-LN, down + residual) -> ln_vision (+ media_pos) ->
//! layers x (norms, q, kv, cross-attention, out + residual, norm, up + GELU, down + residual)
//! -> norm -> projection`.

use std::sync::Arc;

use crate::kernels::attention::{KeysValues, full_attention};
use crate::kernels::linear::{Linear as Job, Scratch, linear};
use crate::kernels::norm::{add_bias, gelu, layer_norm, swiglu};
use crate::kernels::rope::{rope, vision_table};
use crate::llm::Loader;
use crate::model::{TensorSource, VisionDims, VisionWeights};
use crate::{Cpu, CpuError, Result, Shared, Weight};

type LayerNorm = crate::model::LayerNorm<Vec<f32>>;
type Linear = crate::model::Linear<Weight, Vec<f32>>;

fn layer_norm_rows(n: &LayerNorm, eps: f64, x: &[f32], y: &mut [f32]) {
    layer_norm(x, &n.weight, &n.bias, eps as f32, y);
}

/// Adds `l`'s bias (when it has one) to the rows of `y`.
fn bias(l: &Linear, y: &mut [f32]) {
    if let Some(b) = &l.bias {
        add_bias(y, b);
    }
}

/// The visual path's weights, read in place.
pub struct CpuVisual {
    cpu: Cpu,
    dims: VisionDims,
    weights: VisionWeights<Weight, Vec<f32>>,
    /// `[latents, width]`, decoded once.
    latents: Vec<f32>,
    /// The 2-D RoPE table of the patch grid ([`vision_table`]).
    rope: Vec<f32>,
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
        dims.check(crate::kernels::attention::MAX_HEAD_DIM)?;
        let mut loader = Loader {
            tensors,
            owner,
            on_progress,
        };
        let weights = VisionWeights::load(&dims, &mut loader)?;
        let l = &weights.latents;
        let mut latents = vec![0f32; l.rows * l.cols];
        for (r, row) in latents.chunks_exact_mut(l.cols).enumerate() {
            l.decode_row(r, row);
        }
        Ok(Self {
            cpu: cpu.clone(),
            rope: vision_table(dims.grid(), dims.head_dim(), dims.rope_theta),
            latents,
            weights,
            dims,
        })
    }

    pub fn dims(&self) -> &VisionDims {
        &self.dims
    }

    /// Bytes of weight matrices.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.weight_bytes()
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
    scratch: Scratch,
}

impl VisualSession {
    pub fn new(model: Arc<CpuVisual>, capture: bool) -> Self {
        Self {
            model,
            capture,
            scratch: Scratch::default(),
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
        let (cpu, w) = (&model.cpu, &model.weights);
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
        let scratch = &mut self.scratch;
        let zeros = |n: usize| vec![0f32; n];

        // The patch embedding onto rows 1.. of the positions.
        let mut x = w.start.clone();
        let patches = patch_rows(pixels, s, p);
        linear(
            cpu,
            &patches,
            &mut [Job::add(&w.patch.weight, &mut x[d..])],
            scratch,
        );
        bias(&w.patch, &mut x[d..]);

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
        for b in &w.blocks {
            layer_norm_rows(&b.norm1, eps, &x, &mut xn);
            linear(
                cpu,
                &xn,
                &mut [
                    Job::store(&b.q.weight, &mut q),
                    Job::store(&b.k.weight, &mut k),
                    Job::store(&b.v.weight, &mut v),
                ],
                scratch,
            );
            bias(&b.q, &mut q);
            bias(&b.k, &mut k);
            bias(&b.v, &mut v);
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
            layer_norm_rows(&b.attn_ln, eps, &att, &mut att_n);
            linear(cpu, &att_n, &mut [Job::add(&b.out.weight, &mut x)], scratch);
            bias(&b.out, &mut x);
            layer_norm_rows(&b.norm2, eps, &x, &mut xn);
            linear(
                cpu,
                &xn,
                &mut [
                    Job::store(&b.gate.weight, &mut gate),
                    Job::store(&b.up.weight, &mut up),
                ],
                scratch,
            );
            bias(&b.gate, &mut gate);
            bias(&b.up, &mut up);
            swiglu(&mut gate, &up);
            layer_norm_rows(&b.ffn_ln, eps, &gate, &mut up_n);
            linear(cpu, &up_n, &mut [Job::add(&b.down.weight, &mut x)], scratch);
            bias(&b.down, &mut x);
        }
        let mut media = zeros(tokens * d);
        layer_norm_rows(&w.ln_vision, m.ln_vision_eps, &x, &mut media);

        let reps = r.norm_eps;
        let keys = tokens + l;
        let mut latents = model.latents.clone();
        let mut kv_in = zeros(keys * d);
        let mut rq = zeros(l * inner);
        let mut kv = zeros(keys * 2 * inner);
        let mut r_att = zeros(l * inner);
        let mut ff_in = zeros(l * d);
        let mut ff = zeros(l * r.ffn_hidden);
        let per_layer = m.resampler_attention()[1..].iter().product::<usize>();
        let mut probs = self.capture.then(|| zeros(r.depth * per_layer));
        for (i, layer) in w.layers.iter().enumerate() {
            let (media_n, latents_n) = kv_in.split_at_mut(tokens * d);
            layer_norm_rows(&layer.norm_media, reps, &media, media_n);
            layer_norm_rows(&layer.norm_latents, reps, &latents, latents_n);
            linear(
                cpu,
                latents_n,
                &mut [Job::store(&layer.q.weight, &mut rq)],
                scratch,
            );
            linear(
                cpu,
                &kv_in,
                &mut [Job::store(&layer.kv.weight, &mut kv)],
                scratch,
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
                scratch,
            );
            layer_norm_rows(&layer.ffn_norm, reps, &latents, &mut ff_in);
            linear(
                cpu,
                &ff_in,
                &mut [Job::store(&layer.up.weight, &mut ff)],
                scratch,
            );
            gelu(&mut ff);
            linear(
                cpu,
                &ff,
                &mut [Job::add(&layer.down.weight, &mut latents)],
                scratch,
            );
        }
        let mut out = zeros(l * d);
        layer_norm_rows(&w.norm, reps, &latents, &mut out);
        let mut embeds = zeros(l * m.llm_width);
        linear(
            cpu,
            &out,
            &mut [Job::store(&w.proj.weight, &mut embeds)],
            scratch,
        );
        bias(&w.proj, &mut embeds);
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

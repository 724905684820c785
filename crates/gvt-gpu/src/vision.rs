//! GVT's visual path on the engine's kernels: the EVA-02-style ViT, `ln_vision`, the
//! Perceiver Resampler and the projection into the LLM's width. Tensor names follow
//! `docs/gguf-layout.md`.
//!
//! An image is one command buffer:
//! `patches -> + pos -> depth x (norm1, q/k/v, 2-D RoPE, attention, sub-LN, out + residual,
//! norm2, gate, up * silu(gate), sub-LN, down + residual) -> ln_vision (+ media_pos) ->
//! layers x (norms, q, kv, cross-attention, out + residual, norm, up + GELU, down + residual)
//! -> norm -> projection`.
//! Only the visual tokens (and, when asked, the resampler's attention) are read back.

use std::sync::Arc;

use crate::kernels::embed::embed;
use crate::kernels::full_attention::{KeysValues, full_attention};
use crate::kernels::linear::{Epilogue, Io, linear};
use crate::kernels::norm::{Norm, Rows, norm};
use crate::kernels::rope::{rope_rows, vision_table};
use crate::kernels::{Dispatch, Step};
pub use gvt_cpu::model::{ResamplerDims, VisionDims, VisionWeights};
use gvt_cpu::vision::patch_rows;

use crate::load::{Loader, TensorSource};
use crate::{Gpu, GpuError, GpuValues, Result, Weight};

type LayerNorm = gvt_cpu::model::LayerNorm<wgpu::Buffer>;
type Linear = gvt_cpu::model::Linear<Weight, wgpu::Buffer>;

/// The norm kernel's view of a LayerNorm.
fn layer(n: &LayerNorm) -> Norm<'_> {
    Norm::Layer {
        weight: &n.weight,
        bias: &n.bias,
    }
}

/// The visual path's weights on the GPU.
pub struct GpuVisual {
    gpu: Gpu,
    dims: VisionDims,
    weights: VisionWeights<Weight, wgpu::Buffer>,
    /// The 2-D RoPE table of the patch grid ([`vision_table`]).
    rope: wgpu::Buffer,
}

impl GpuVisual {
    /// Uploads the visual path; `on_progress` gets each tensor's bytes.
    pub fn load(
        gpu: &Gpu,
        dims: VisionDims,
        tensors: &mut TensorSource<'_, '_>,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        dims.check(crate::kernels::attention::MAX_HEAD_DIM)?;
        let mut loader = Loader {
            gpu,
            tensors,
            on_progress,
        };
        let weights = VisionWeights::load(&dims, &mut loader)?;
        let table = vision_table(dims.grid(), dims.head_dim(), dims.rope_theta);
        Ok(Self {
            rope: gpu.storage_with("vision rope table", bytemuck::cast_slice(&table))?,
            weights,
            gpu: gpu.clone(),
            dims,
        })
    }

    pub fn dims(&self) -> &VisionDims {
        &self.dims
    }

    /// Bytes of weights on the GPU.
    pub fn weight_bytes(&self) -> u64 {
        self.weights.weight_bytes()
    }
}

/// Visual tokens, and the resampler's attention when the session captures it, left on the
/// GPU: the LLM's prompt takes the tokens from there, and the attention is read when the
/// overlay is drawn. Both stay valid until the session encodes the next image.
pub struct VisualTokens {
    /// `[latents, llm_width]` row-major.
    pub embeds: GpuValues,
    /// `[layers, heads, latents, tokens + latents]` row-major.
    pub attention: Option<GpuValues>,
}

/// A dispatch and the positions it runs over.
struct Op {
    dispatch: Dispatch,
    t: u32,
}

/// The activations of one image and the prebuilt dispatches. Reusable for any number of
/// images.
pub struct VisualSession {
    model: Arc<GpuVisual>,
    patches: wgpu::Buffer,
    x: wgpu::Buffer,
    embeds: wgpu::Buffer,
    probs: wgpu::Buffer,
    capture: bool,
    ops: Vec<Op>,
}

/// Per-step uniforms for the distinct position counts of an image's dispatches.
struct Steps {
    tokens: wgpu::Buffer,
    patches: wgpu::Buffer,
    latents: wgpu::Buffer,
    keys: wgpu::Buffer,
}

impl VisualSession {
    /// Allocates the activations of one image; `capture` keeps the resampler's attention
    /// for reading.
    pub async fn new(model: Arc<GpuVisual>, capture: bool) -> Result<Self> {
        let gpu = model.gpu.clone();
        gpu.checked("the image encoder's activations", || {
            Self::build(model, capture)
        })
        .await
    }

    fn build(model: Arc<GpuVisual>, capture: bool) -> Result<Self> {
        let gpu = &model.gpu;
        let m = &model.dims;
        let r = &m.resampler;
        let (d, f, p) = (m.width, m.ffn_hidden, m.patch_size);
        let (tokens, n, l) = (m.tokens(), m.grid() * m.grid(), r.latents);
        let (heads, hd) = (m.heads, m.head_dim());
        let inner = r.heads * r.head_dim;
        let floats = |what: &str, count: usize| gpu.storage(what, count as u64 * 4);
        let step = |t: usize| {
            let step = Step {
                t: t as u32,
                ..Step::default()
            };
            gpu.uniform("step", bytemuck::bytes_of(&step))
        };
        let steps = Steps {
            tokens: step(tokens),
            patches: step(n),
            latents: step(l),
            keys: step(tokens + l),
        };
        let patches = floats("image patches", n * 3 * p * p)?;
        let x = floats("image tokens", tokens * d)?;
        let xn = floats("normed image tokens", tokens * d)?;
        let q = floats("vision queries", tokens * d)?;
        let k = floats("vision keys", tokens * d)?;
        let v = floats("vision values", tokens * d)?;
        let att = floats("vision attention output", tokens * d)?;
        let att_n = floats("normed vision attention output", tokens * d)?;
        let gate = floats("vision gate", tokens * f)?;
        let up = floats("vision up", tokens * f)?;
        let up_n = floats("normed vision up", tokens * f)?;
        let scores = floats("vision attention scores", heads * tokens * tokens)?;
        let media = floats("media tokens", tokens * d)?;
        let kv_in = floats("normed media and latents", (tokens + l) * d)?;
        let latents = floats("latents", l * d)?;
        let rows: Vec<u32> = (0..l as u32).collect();
        let latent_rows = gpu.storage_with("latent rows", bytemuck::cast_slice(&rows))?;
        let rq = floats("resampler queries", l * inner)?;
        let kv = floats("resampler keys and values", (tokens + l) * 2 * inner)?;
        let r_att = floats("resampler attention output", l * inner)?;
        let ff_in = floats("resampler feed-forward input", l * d)?;
        let ff = floats("resampler feed-forward hidden", l * r.ffn_hidden)?;
        let out = floats("resampled latents", l * d)?;
        let embeds = floats("visual tokens", l * m.llm_width)?;
        let per_layer = m.resampler_attention()[1..].iter().product::<usize>();
        let probs = floats("resampler attention", r.depth * per_layer)?;

        let mut ops = Vec::new();
        let mut push = |dispatches: Vec<Dispatch>, t: usize| {
            ops.extend(dispatches.into_iter().map(|dispatch| Op {
                dispatch,
                t: t as u32,
            }))
        };
        let lin = |w: &Linear, io: Io<'_>, epilogue: Epilogue, step: &wgpu::Buffer| {
            linear(gpu, &w.weight, io.bias(w.bias.as_ref()), epilogue, step)
        };
        let ln = |n: &LayerNorm, (width, eps): (usize, f64), x, y, rows, step| {
            vec![norm(gpu, layer(n), width, eps, x, y, rows, step)]
        };
        let (eps, ts) = (m.norm_eps, &steps.tokens);

        push(
            embed(
                gpu,
                &model.weights.latents,
                &latent_rows,
                0,
                &latents,
                &steps.latents,
            ),
            l,
        );
        // The patch embedding onto rows 1.. of the positions (copied into x first).
        let to_x = Io::new(&patches, &x).rows(0, 1);
        push(
            lin(&model.weights.patch, to_x, Epilogue::ADD, &steps.patches),
            n,
        );
        for b in &model.weights.blocks {
            push(ln(&b.norm1, (d, eps), &x, &xn, Rows::SAME, ts), tokens);
            push(lin(&b.q, Io::new(&xn, &q), Epilogue::STORE, ts), tokens);
            push(lin(&b.k, Io::new(&xn, &k), Epilogue::STORE, ts), tokens);
            push(lin(&b.v, Io::new(&xn, &v), Epilogue::STORE, ts), tokens);
            push(vec![rope_rows(gpu, heads, hd, &q, &model.rope, ts)], tokens);
            push(vec![rope_rows(gpu, heads, hd, &k, &model.rope, ts)], tokens);
            let keys = KeysValues {
                k: &k,
                v: &v,
                stride: d,
                k_at: 0,
                v_at: 0,
                len: tokens,
            };
            let attend = full_attention(gpu, heads, hd, tokens, &q, keys, &att, &scores, 0)?;
            push(vec![attend], tokens);
            push(
                ln(&b.attn_ln, (d, eps), &att, &att_n, Rows::SAME, ts),
                tokens,
            );
            push(lin(&b.out, Io::new(&att_n, &x), Epilogue::ADD, ts), tokens);
            push(ln(&b.norm2, (d, eps), &x, &xn, Rows::SAME, ts), tokens);
            push(
                lin(&b.gate, Io::new(&xn, &gate), Epilogue::STORE, ts),
                tokens,
            );
            let to_up = Io::new(&xn, &up).gate(&gate);
            push(lin(&b.up, to_up, Epilogue::SILU_MUL, ts), tokens);
            push(ln(&b.ffn_ln, (f, eps), &up, &up_n, Rows::SAME, ts), tokens);
            push(lin(&b.down, Io::new(&up_n, &x), Epilogue::ADD, ts), tokens);
        }
        let ln_vision = (d, m.ln_vision_eps);
        push(
            ln(
                &model.weights.ln_vision,
                ln_vision,
                &x,
                &media,
                Rows::SAME,
                ts,
            ),
            tokens,
        );

        let (reps, tl) = (r.norm_eps, &steps.latents);
        for (i, layer) in model.weights.layers.iter().enumerate() {
            push(
                ln(&layer.norm_media, (d, reps), &media, &kv_in, Rows::SAME, ts),
                tokens,
            );
            let after_media = Rows::At { x: 0, y: tokens };
            push(
                ln(
                    &layer.norm_latents,
                    (d, reps),
                    &latents,
                    &kv_in,
                    after_media,
                    tl,
                ),
                l,
            );
            let to_q = Io::new(&kv_in, &rq).rows(tokens, 0);
            push(lin(&layer.q, to_q, Epilogue::STORE, tl), l);
            push(
                lin(
                    &layer.kv,
                    Io::new(&kv_in, &kv),
                    Epilogue::STORE,
                    &steps.keys,
                ),
                tokens + l,
            );
            let keys = KeysValues {
                k: &kv,
                v: &kv,
                stride: 2 * inner,
                k_at: 0,
                v_at: inner,
                len: tokens + l,
            };
            let at = i * per_layer;
            let attend =
                full_attention(gpu, r.heads, r.head_dim, l, &rq, keys, &r_att, &probs, at)?;
            push(vec![attend], l);
            push(
                lin(&layer.out, Io::new(&r_att, &latents), Epilogue::ADD, tl),
                l,
            );
            push(
                ln(&layer.ffn_norm, (d, reps), &latents, &ff_in, Rows::SAME, tl),
                l,
            );
            push(lin(&layer.up, Io::new(&ff_in, &ff), Epilogue::GELU, tl), l);
            push(
                lin(&layer.down, Io::new(&ff, &latents), Epilogue::ADD, tl),
                l,
            );
        }
        push(
            ln(
                &model.weights.norm,
                (d, reps),
                &latents,
                &out,
                Rows::SAME,
                tl,
            ),
            l,
        );
        push(
            lin(
                &model.weights.proj,
                Io::new(&out, &embeds),
                Epilogue::STORE,
                tl,
            ),
            l,
        );
        Ok(Self {
            patches,
            x,
            embeds,
            probs,
            capture,
            ops,
            model,
        })
    }

    /// Whether the session reads the resampler's attention back.
    pub fn captures(&self) -> bool {
        self.capture
    }

    /// The visual tokens of one image: normalised pixels `[3, size, size]`, channel-major.
    /// Submits the work and returns without waiting for it.
    pub async fn encode(&mut self, pixels: &[f32]) -> Result<VisualTokens> {
        let m = &self.model.dims;
        let (s, p, d) = (m.image_size, m.patch_size, m.width);
        if pixels.len() != 3 * s * s {
            return Err(GpuError::InvalidInput(format!(
                "{} pixel values for a {s} x {s} RGB image",
                pixels.len()
            )));
        }
        let gpu = self.model.gpu.clone();
        let watch = gpu.watch("encoding an image");
        {
            let queue = gpu.queue();
            queue.write_buffer(
                &self.patches,
                0,
                bytemuck::cast_slice(&patch_rows(pixels, s, p)),
            );
            let mut encoder = gpu.device().create_command_encoder(&Default::default());
            let tokens = m.tokens() as u64;
            encoder.copy_buffer_to_buffer(
                &self.model.weights.start,
                0,
                &self.x,
                0,
                tokens * d as u64 * 4,
            );
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for op in &self.ops {
                    op.dispatch.encode(&mut pass, op.t);
                }
            }
            queue.submit([encoder.finish()]);
        }
        watch.done().await?;
        let l = m.resampler.latents;
        let probs = m.resampler_attention().iter().product();
        Ok(VisualTokens {
            embeds: GpuValues::new(&gpu, &self.embeds, l * m.llm_width),
            attention: self
                .capture
                .then(|| GpuValues::new(&gpu, &self.probs, probs)),
        })
    }
}

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
pub use gvt_cpu::model::{ResamplerDims, VisionDims};
use gvt_cpu::vision::patch_rows;

use crate::load::{Loader, TensorSource, TensorSpec};
use crate::{Gpu, GpuError, GpuValues, Result, Weight};

/// A LayerNorm's weight and bias.
struct LayerNorm {
    weight: wgpu::Buffer,
    bias: wgpu::Buffer,
}

impl LayerNorm {
    fn norm(&self) -> Norm<'_> {
        Norm::Layer {
            weight: &self.weight,
            bias: &self.bias,
        }
    }
}

/// A linear layer and its bias, if it has one.
struct Linear {
    weight: Weight,
    bias: Option<wgpu::Buffer>,
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

/// The visual path's weights on the GPU.
pub struct GpuVisual {
    gpu: Gpu,
    dims: VisionDims,
    /// The convolution as a `[3 * p * p, width]` matrix over flattened patches.
    patch: Linear,
    /// `[tokens, width]`: the position embeddings, with the CLS token added to row 0 (the
    /// patch embedding is added onto rows 1.. of a copy).
    start: wgpu::Buffer,
    /// The 2-D RoPE table of the patch grid ([`vision_table`]).
    rope: wgpu::Buffer,
    blocks: Vec<Block>,
    /// `ln_vision`, its bias with the resampler's `media_pos` added (both are added to
    /// every image token).
    ln_vision: LayerNorm,
    /// `[latents, width]` as stored; each image's latents start as a gather of its rows.
    latents: Weight,
    layers: Vec<ResamplerLayer>,
    norm: LayerNorm,
    proj: Linear,
}

/// Reads the visual path's tensors by name.
struct Parts<'l, 'g, 's, 'a, 'b, 'p> {
    load: &'l mut Loader<'g, 's, 'a, 'b, 'p>,
}

impl Parts<'_, '_, '_, '_, '_, '_> {
    fn layer_norm(&mut self, name: &str, width: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.vector(&format!("{name}.weight"), width)?,
            bias: self.vector(&format!("{name}.bias"), width)?,
        })
    }

    fn linear(&mut self, name: &str, cols: usize, rows: usize, bias: bool) -> Result<Linear> {
        let spec = TensorSpec::new(format!("{name}.weight"), cols, rows);
        Ok(Linear {
            weight: self.load.matrix(&spec)?,
            bias: bias
                .then(|| self.vector(&format!("{name}.bias"), rows))
                .transpose()?,
        })
    }

    fn vector(&mut self, name: &str, n: usize) -> Result<wgpu::Buffer> {
        self.load.vector(&TensorSpec::new(name.into(), n, 1))
    }

    fn values(&mut self, name: &str, cols: usize, rows: usize) -> Result<Vec<f32>> {
        self.load.values(&TensorSpec::new(name.into(), cols, rows))
    }
}

impl GpuVisual {
    /// Uploads the visual path; `on_progress` gets each tensor's bytes.
    pub fn load(
        gpu: &Gpu,
        dims: VisionDims,
        tensors: &mut TensorSource<'_, '_>,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Self> {
        let (d, p, f) = (dims.width, dims.patch_size, dims.ffn_hidden);
        let r = &dims.resampler;
        let shaped = dims.heads > 0
            && d.is_multiple_of(dims.heads)
            && dims.head_dim().is_multiple_of(4)
            && p > 0
            && dims.grid() > 0;
        if !shaped {
            return Err(GpuError::InvalidInput(format!(
                "a vision tower of width {d} in {} heads over {} px patches of {} px images \
                 (the head size must be a multiple of 4 for the 2-D RoPE)",
                dims.heads, p, dims.image_size
            )));
        }
        if r.width != d {
            return Err(GpuError::InvalidInput(format!(
                "the resampler's width {} differs from the vision tower's {d}",
                r.width
            )));
        }
        let mut loader = Loader {
            gpu,
            tensors,
            on_progress,
        };
        let mut parts = Parts { load: &mut loader };
        let conv = TensorSpec::new("v.patch_embd.weight".into(), p, p * 3 * d);
        let patch = Linear {
            weight: parts.load.matrix_as(&conv, [3 * p * p, d])?,
            bias: Some(parts.vector("v.patch_embd.bias", d)?),
        };
        let tokens = dims.tokens();
        let mut start = parts.values("v.pos_embd", d, tokens)?;
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
        let ln_weight = parts.vector("v.ln_vision.weight", d)?;
        let mut ln_bias = parts.values("v.ln_vision.bias", d, 1)?;
        let media_pos = parts.values("r.media_pos", d, 1)?;
        ln_bias
            .iter_mut()
            .zip(&media_pos)
            .for_each(|(b, m)| *b += m);
        let latents = parts
            .load
            .matrix(&TensorSpec::new("r.latents".into(), d, r.latents))?;
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
        let table = vision_table(dims.grid(), dims.head_dim(), dims.rope_theta);
        Ok(Self {
            patch,
            start: gpu.storage_with("v.pos_embd + v.cls_token", bytemuck::cast_slice(&start))?,
            rope: gpu.storage_with("vision rope table", bytemuck::cast_slice(&table))?,
            blocks,
            ln_vision: LayerNorm {
                weight: ln_weight,
                bias: gpu.storage_with(
                    "v.ln_vision.bias + r.media_pos",
                    bytemuck::cast_slice(&ln_bias),
                )?,
            },
            latents,
            layers,
            norm,
            proj,
            gpu: gpu.clone(),
            dims,
        })
    }

    pub fn dims(&self) -> &VisionDims {
        &self.dims
    }

    /// Bytes of weights on the GPU.
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
        linears.map(|l| l.weight.bytes()).sum::<u64>() + self.latents.bytes()
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
        let per_layer = r.heads * l * (tokens + l);
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
            vec![norm(gpu, n.norm(), width, eps, x, y, rows, step)]
        };
        let (eps, ts) = (m.norm_eps, &steps.tokens);

        push(
            embed(
                gpu,
                &model.latents,
                &latent_rows,
                0,
                &latents,
                &steps.latents,
            ),
            l,
        );
        // The patch embedding onto rows 1.. of the positions (copied into x first).
        let to_x = Io::new(&patches, &x).rows(0, 1);
        push(lin(&model.patch, to_x, Epilogue::ADD, &steps.patches), n);
        for b in &model.blocks {
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
            ln(&model.ln_vision, ln_vision, &x, &media, Rows::SAME, ts),
            tokens,
        );

        let (reps, tl) = (r.norm_eps, &steps.latents);
        for (i, layer) in model.layers.iter().enumerate() {
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
            ln(&model.norm, (d, reps), &latents, &out, Rows::SAME, tl),
            l,
        );
        push(
            lin(&model.proj, Io::new(&out, &embeds), Epilogue::STORE, tl),
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
            encoder.copy_buffer_to_buffer(&self.model.start, 0, &self.x, 0, tokens * d as u64 * 4);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for op in &self.ops {
                    op.dispatch.encode(&mut pass, op.t);
                }
            }
            queue.submit([encoder.finish()]);
        }
        watch.done().await?;
        let (l, r) = (m.resampler.latents, &m.resampler);
        let probs = r.depth * r.heads * l * (m.tokens() + l);
        Ok(VisualTokens {
            embeds: GpuValues::new(&gpu, &self.embeds, l * m.llm_width),
            attention: self
                .capture
                .then(|| GpuValues::new(&gpu, &self.probs, probs)),
        })
    }
}

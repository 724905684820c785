//! The visual tokenizer: an EVA-02-style ViT (GVT's frozen tokenizer, distilled from
//! EVA-CLIP without masking).
//!
//! Reference: GVT `visual_modules/eva.py`; spec in `shared/docs/gvt-architecture.md`.
//! Per block: `x = x + attn(norm1(x)); x = x + mlp(norm2(x))`, attention with separate
//! q/k/v, `q_bias`/`v_bias`, 2-D RoPE on the patch tokens (never CLS) and a sub-LN before the
//! output projection; the MLP is SwiGLU with its own sub-LN.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::silu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::config::VisionConfig;
use super::layers::{LayerNorm, Linear, RotaryTable, attention, rotate_pairs};
use super::params::{Init, ParamSource};
use crate::Result;

/// Intermediate results a caller may ask for (parity tests, probing).
#[derive(Default)]
pub struct VisionTrace {
    /// `[b, patches, width]` after the patch embedding.
    pub patch_embed: Option<Tensor<3>>,
    /// `[b, tokens, width]` after each block.
    pub blocks: Vec<Tensor<3>>,
    /// `[b, heads, tokens, head_dim]`: q of the first block after bias and RoPE.
    pub first_q_rotated: Option<Tensor<4>>,
}

#[derive(Module, Debug)]
pub struct VisionAttention {
    q: Linear,
    k: Linear,
    v: Linear,
    /// Sub-LN over all heads before the output projection (`inner_attn_ln`).
    inner_norm: LayerNorm,
    out: Linear,
    heads: usize,
}

impl VisionAttention {
    fn load(src: &mut impl ParamSource, name: &str, cfg: &VisionConfig) -> Result<Self> {
        let d = cfg.width;
        Ok(Self {
            q: Linear::load(src, &format!("{name}.attn_q"), d, d, true)?,
            k: Linear::load(src, &format!("{name}.attn_k"), d, d, false)?,
            v: Linear::load(src, &format!("{name}.attn_v"), d, d, true)?,
            inner_norm: LayerNorm::load(src, &format!("{name}.attn_ln"), d, cfg.norm_eps)?,
            out: Linear::load(src, &format!("{name}.attn_out"), d, d, true)?,
            heads: cfg.heads,
        })
    }

    /// # Shapes
    /// - x: `[b, 1 + n, d]` (CLS first) -> `[b, 1 + n, d]`
    fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryTable,
        trace: Option<&mut VisionTrace>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let hd = d / self.heads;
        let split = |y: Tensor<3>| y.reshape([b, t, self.heads, hd]).swap_dims(1, 2); // [b, h, t, hd]
        let q = self.rope_patches(split(self.q.forward(x.clone())), rope);
        let k = self.rope_patches(split(self.k.forward(x.clone())), rope);
        let v = split(self.v.forward(x));
        if let Some(trace) = trace {
            trace.first_q_rotated.get_or_insert_with(|| q.clone());
        }
        let (out, _probs) = attention(q, k, v, (hd as f64).powf(-0.5), None);
        let out = out.swap_dims(1, 2).reshape([b, t, d]); // [b, t, d]
        self.out.forward(self.inner_norm.forward(out))
    }

    /// RoPE on the patch tokens only; the CLS token (position 0) passes unchanged.
    fn rope_patches(&self, x: Tensor<4>, rope: &RotaryTable) -> Tensor<4> {
        let [_, _, t, _] = x.dims();
        let cls = x.clone().narrow(2, 0, 1);
        let patches = rotate_pairs(x.narrow(2, 1, t - 1), rope);
        Tensor::cat(vec![cls, patches], 2)
    }
}

/// SwiGLU with a sub-LN: `w3(ffn_ln(silu(w1 x) * w2 x))`.
#[derive(Module, Debug)]
pub struct SwiGluMlp {
    gate: Linear,
    up: Linear,
    norm: LayerNorm,
    down: Linear,
}

impl SwiGluMlp {
    fn load(src: &mut impl ParamSource, name: &str, cfg: &VisionConfig) -> Result<Self> {
        let (d, f) = (cfg.width, cfg.ffn_hidden);
        Ok(Self {
            gate: Linear::load(src, &format!("{name}.ffn_gate"), d, f, true)?,
            up: Linear::load(src, &format!("{name}.ffn_up"), d, f, true)?,
            norm: LayerNorm::load(src, &format!("{name}.ffn_ln"), f, cfg.norm_eps)?,
            down: Linear::load(src, &format!("{name}.ffn_down"), f, d, true)?,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = silu(self.gate.forward(x.clone())) * self.up.forward(x);
        self.down.forward(self.norm.forward(h))
    }
}

#[derive(Module, Debug)]
pub struct VisionBlock {
    norm1: LayerNorm,
    attn: VisionAttention,
    norm2: LayerNorm,
    mlp: SwiGluMlp,
}

impl VisionBlock {
    fn load(src: &mut impl ParamSource, name: &str, cfg: &VisionConfig) -> Result<Self> {
        Ok(Self {
            norm1: LayerNorm::load(src, &format!("{name}.norm1"), cfg.width, cfg.norm_eps)?,
            attn: VisionAttention::load(src, name, cfg)?,
            norm2: LayerNorm::load(src, &format!("{name}.norm2"), cfg.width, cfg.norm_eps)?,
            mlp: SwiGluMlp::load(src, name, cfg)?,
        })
    }

    fn forward(
        &self,
        x: Tensor<3>,
        rope: &RotaryTable,
        trace: Option<&mut VisionTrace>,
    ) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x), rope, trace);
        x.clone() + self.mlp.forward(self.norm2.forward(x))
    }
}

/// GGUF name of the ViT's learnt position table, `[1, 1 + grid^2, width]` (the class
/// token's row first).
pub const POSITION_TABLE: &str = "v.pos_embd";

/// The ViT. Output: all `1 + grid^2` tokens of the last block, without a final norm
/// (GVT applies `ln_vision` afterwards, see [`super::gvt::VisualPath`]).
#[derive(Module, Debug)]
pub struct VisionTransformer {
    /// Conv2d(3 -> width, kernel = stride = patch) weight `[width, 3, p, p]`.
    patch_weight: Param<Tensor<4>>,
    patch_bias: Param<Tensor<1>>,
    cls_token: Param<Tensor<3>>,
    pos_embed: Param<Tensor<3>>,
    blocks: Vec<VisionBlock>,
    patch_size: usize,
    head_dim: usize,
    rope_theta: f64,
}

impl VisionTransformer {
    pub fn load(src: &mut impl ParamSource, cfg: &VisionConfig) -> Result<Self> {
        let (d, p) = (cfg.width, cfg.patch_size);
        Ok(Self {
            patch_weight: src.tensor("v.patch_embd.weight", [d, 3, p, p], Init::Normal(0.02))?,
            patch_bias: src.tensor("v.patch_embd.bias", [d], Init::Zeros)?,
            cls_token: src.tensor("v.cls_token", [1, 1, d], Init::Normal(0.02))?,
            pos_embed: src.tensor(POSITION_TABLE, [1, cfg.tokens(), d], Init::Normal(0.02))?,
            blocks: (0..cfg.depth)
                .map(|i| VisionBlock::load(src, &format!("v.blk.{i}"), cfg))
                .collect::<Result<_>>()?,
            patch_size: p,
            head_dim: cfg.head_dim(),
            rope_theta: cfg.rope_theta,
        })
    }

    /// Patches per side for these pixels.
    pub fn grid(&self, pixels: &Tensor<4>) -> usize {
        pixels.dims()[2] / self.patch_size
    }

    /// # Shapes
    /// - pixels: `[b, 3, s, s]` (normalised) -> `[b, 1 + grid^2, width]`
    pub fn forward(&self, pixels: Tensor<4>, mut trace: Option<&mut VisionTrace>) -> Tensor<3> {
        let [b, _, _, _] = pixels.dims();
        let grid = self.grid(&pixels);
        let options = ConvOptions::new([self.patch_size; 2], [0, 0], [1, 1], 1);
        let patches = conv2d(
            pixels,
            self.patch_weight.val(),
            Some(self.patch_bias.val()),
            options,
        ); // [b, d, g, g]
        let [_, d, _, _] = patches.dims();
        let patches = patches.reshape([b, d, grid * grid]).swap_dims(1, 2); // [b, n, d]
        if let Some(trace) = trace.as_deref_mut() {
            trace.patch_embed = Some(patches.clone());
        }
        let cls = self.cls_token.val().expand([b, 1, d]);
        let mut x = Tensor::cat(vec![cls, patches], 1) + self.pos_embed.val(); // [b, 1 + n, d]

        let rope = RotaryTable::vision(grid, self.head_dim, self.rope_theta, &x.device());
        for block in &self.blocks {
            x = block.forward(x, &rope, trace.as_deref_mut());
            if let Some(trace) = trace.as_deref_mut() {
                trace.blocks.push(x.clone());
            }
        }
        x
    }
}

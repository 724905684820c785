//! The Perceiver Resampler: a fixed set of learned latents cross-attends to the image tokens
//! and becomes the visual tokens the LLM sees (32 in GVT).
//!
//! Reference: GVT `visual_modules/perceiver.py` (Flamingo-style). Keys and values come from
//! the concatenation `[media ; latents]`, so each latent's attention row covers the image
//! tokens and the latents; its media part is the natural map from a visual token to patches.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::gelu;

use super::config::ResamplerConfig;
use super::layers::{LayerNorm, Linear, attention};
use super::params::{Init, ParamSource};
use crate::Result;

#[derive(Module, Debug)]
pub struct PerceiverAttention {
    norm_media: LayerNorm,
    norm_latents: LayerNorm,
    to_q: Linear,
    /// Keys then values, `[width, 2 * heads * head_dim]`.
    to_kv: Linear,
    to_out: Linear,
    heads: usize,
    head_dim: usize,
}

impl PerceiverAttention {
    fn load(src: &mut impl ParamSource, name: &str, cfg: &ResamplerConfig) -> Result<Self> {
        let (d, inner) = (cfg.width, cfg.heads * cfg.head_dim);
        let eps = cfg.norm_eps;
        Ok(Self {
            norm_media: LayerNorm::load(src, &format!("{name}.norm_media"), d, eps)?,
            norm_latents: LayerNorm::load(src, &format!("{name}.norm_latents"), d, eps)?,
            to_q: Linear::load(src, &format!("{name}.attn_q"), d, inner, false)?,
            to_kv: Linear::load(src, &format!("{name}.attn_kv"), d, 2 * inner, false)?,
            to_out: Linear::load(src, &format!("{name}.attn_out"), inner, d, false)?,
            heads: cfg.heads,
            head_dim: cfg.head_dim,
        })
    }

    /// # Shapes
    /// - media: `[b, n, d]`, latents: `[b, l, d]`
    /// - -> new latents `[b, l, d]`, probs `[b, heads, l, n + l]`
    fn forward(&self, media: Tensor<3>, latents: Tensor<3>) -> (Tensor<3>, Tensor<4>) {
        let [b, l, _] = latents.dims();
        let (h, hd) = (self.heads, self.head_dim);
        let media = self.norm_media.forward(media);
        let latents = self.norm_latents.forward(latents);
        let q = self.to_q.forward(latents.clone());
        let kv = self.to_kv.forward(Tensor::cat(vec![media, latents], 1)); // [b, n + l, 2 h hd]
        let [_, tk, _] = kv.dims();
        let k = kv.clone().narrow(2, 0, h * hd);
        let v = kv.narrow(2, h * hd, h * hd);
        let heads = |x: Tensor<3>, t: usize| x.reshape([b, t, h, hd]).swap_dims(1, 2); // [b, h, t, hd]
        let (out, probs) = attention(
            heads(q, l),
            heads(k, tk),
            heads(v, tk),
            (hd as f64).powf(-0.5),
            None,
        );
        let out = out.swap_dims(1, 2).reshape([b, l, h * hd]);
        (self.to_out.forward(out), probs)
    }
}

/// LayerNorm -> Linear -> GELU (erf) -> Linear, no biases.
#[derive(Module, Debug)]
pub struct PerceiverFeedForward {
    norm: LayerNorm,
    up: Linear,
    down: Linear,
}

impl PerceiverFeedForward {
    fn load(src: &mut impl ParamSource, name: &str, cfg: &ResamplerConfig) -> Result<Self> {
        Ok(Self {
            norm: LayerNorm::load(src, &format!("{name}.ffn_norm"), cfg.width, cfg.norm_eps)?,
            up: Linear::load(
                src,
                &format!("{name}.ffn_up"),
                cfg.width,
                cfg.ffn_hidden,
                false,
            )?,
            down: Linear::load(
                src,
                &format!("{name}.ffn_down"),
                cfg.ffn_hidden,
                cfg.width,
                false,
            )?,
        })
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.down
            .forward(gelu(self.up.forward(self.norm.forward(x))))
    }
}

#[derive(Module, Debug)]
pub struct PerceiverLayer {
    attn: PerceiverAttention,
    ff: PerceiverFeedForward,
}

/// What the resampler produced, with the per-layer cross-attention.
pub struct ResamplerOutput {
    /// `[b, latents, width]` after the final norm.
    pub latents: Tensor<3>,
    /// Per layer, `[b, heads, latents, media + latents]`.
    pub attention: Vec<Tensor<4>>,
    /// Per layer, `[b, latents, width]` (before the final norm), for parity tests.
    pub layer_outputs: Vec<Tensor<3>>,
}

#[derive(Module, Debug)]
pub struct PerceiverResampler {
    latents: Param<Tensor<2>>,
    media_pos: Param<Tensor<3>>,
    layers: Vec<PerceiverLayer>,
    norm: LayerNorm,
}

impl PerceiverResampler {
    pub fn load(src: &mut impl ParamSource, cfg: &ResamplerConfig) -> Result<Self> {
        let d = cfg.width;
        let layers = (0..cfg.depth)
            .map(|i| {
                let name = format!("r.blk.{i}");
                Ok(PerceiverLayer {
                    attn: PerceiverAttention::load(src, &name, cfg)?,
                    ff: PerceiverFeedForward::load(src, &name, cfg)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            latents: src.tensor("r.latents", [cfg.latents, d], Init::Normal(1.0))?,
            media_pos: src.tensor("r.media_pos", [1, 1, d], Init::Normal(1.0))?,
            layers,
            norm: LayerNorm::load(src, "r.norm", d, cfg.norm_eps)?,
        })
    }

    /// # Shapes
    /// - media: `[b, n, d]` (the `ln_vision` tokens) -> latents `[b, l, d]`
    pub fn forward(&self, media: Tensor<3>) -> ResamplerOutput {
        let [b, _, d] = media.dims();
        let [l, _] = self.latents.dims();
        let media = media + self.media_pos.val();
        let mut latents = self.latents.val().unsqueeze::<3>().expand([b, l, d]);
        let mut attention = Vec::with_capacity(self.layers.len());
        let mut layer_outputs = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (attended, probs) = layer.attn.forward(media.clone(), latents.clone());
            latents = attended + latents;
            latents = layer.ff.forward(latents.clone()) + latents;
            attention.push(probs);
            layer_outputs.push(latents.clone());
        }
        ResamplerOutput {
            latents: self.norm.forward(latents),
            attention,
            layer_outputs,
        }
    }
}

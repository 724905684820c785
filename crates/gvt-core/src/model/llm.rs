//! A LLaMA-family decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or untied
//! output head, KV cache. Tensor names follow llama.cpp, so any LLaMA-family GGUF loads.
//!
//! Reference: Hugging Face `modeling_llama.py`; llama.cpp stores `attn_q`/`attn_k` permuted,
//! which is why the RoPE here rotates adjacent pairs.

use burn::module::Module;
use burn::tensor::activation::silu;
use burn::tensor::{Int, Tensor};

use super::cache::KvCache;
use super::config::LlmConfig;
use super::layers::{
    Embedding, Linear, RmsNorm, RotaryTable, attention, causal_mask, rotate_pairs,
};
use super::params::ParamSource;
use crate::Result;

#[derive(Module, Debug)]
pub struct DecoderLayer {
    attn_norm: RmsNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl DecoderLayer {
    fn load(src: &mut impl ParamSource, i: usize, cfg: &LlmConfig) -> Result<Self> {
        let n = |part: &str| format!("blk.{i}.{part}");
        let (e, hd) = (cfg.width, cfg.head_dim);
        Ok(Self {
            attn_norm: RmsNorm::load(src, &n("attn_norm.weight"), e, cfg.rms_eps)?,
            q: Linear::load(src, &n("attn_q"), e, cfg.heads * hd, false)?,
            k: Linear::load(src, &n("attn_k"), e, cfg.kv_heads * hd, false)?,
            v: Linear::load(src, &n("attn_v"), e, cfg.kv_heads * hd, false)?,
            o: Linear::load(src, &n("attn_output"), cfg.heads * hd, e, false)?,
            ffn_norm: RmsNorm::load(src, &n("ffn_norm.weight"), e, cfg.rms_eps)?,
            gate: Linear::load(src, &n("ffn_gate"), e, cfg.ffn_hidden, false)?,
            up: Linear::load(src, &n("ffn_up"), e, cfg.ffn_hidden, false)?,
            down: Linear::load(src, &n("ffn_down"), cfg.ffn_hidden, e, false)?,
            heads: cfg.heads,
            kv_heads: cfg.kv_heads,
            head_dim: hd,
        })
    }

    /// # Shapes
    /// - x: `[b, t, e]` -> `[b, t, e]`, probs `[b, heads, t, past + t]`
    fn forward(
        &self,
        x: Tensor<3>,
        layer: usize,
        cache: &mut KvCache,
        rope: &RotaryTable,
    ) -> (Tensor<3>, Tensor<4>) {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (self.heads, self.kv_heads, self.head_dim);
        let past = cache.len();

        let normed = self.attn_norm.forward(x.clone());
        let q = self
            .q
            .forward(normed.clone())
            .reshape([b, t, h, hd])
            .swap_dims(1, 2); // [b, h, t, hd]
        let k = self
            .k
            .forward(normed.clone())
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2); // [b, kvh, t, hd]
        let v = self
            .v
            .forward(normed)
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let q = rotate_pairs(q, rope);
        let k = rotate_pairs(k, rope);
        let (k, v) = cache.append(layer, k, v); // [b, kvh, past + t, hd]
        let (k, v) = (repeat_kv(k, h / kvh), repeat_kv(v, h / kvh)); // [b, h, past + t, hd]

        let mask = (t > 1).then(|| causal_mask(t, past, &x.device()));
        let (out, probs) = attention(q, k, v, (hd as f64).powf(-0.5), mask);
        let out = out.swap_dims(1, 2).reshape([b, t, h * hd]);
        let x = x + self.o.forward(out);

        let normed = self.ffn_norm.forward(x.clone());
        let ffn = self
            .down
            .forward(silu(self.gate.forward(normed.clone())) * self.up.forward(normed));
        (x + ffn, probs)
    }
}

/// Repeats each key/value head `n` times for grouped-query attention.
///
/// # Shapes
/// - x: `[b, kvh, t, hd]` -> `[b, kvh * n, t, hd]`
fn repeat_kv(x: Tensor<4>, n: usize) -> Tensor<4> {
    if n == 1 {
        return x;
    }
    let [b, kvh, t, hd] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kvh, n, t, hd])
        .reshape([b, kvh * n, t, hd])
}

/// One forward step's results.
pub struct LlmStep {
    /// `[b, t, e]` after the final norm.
    pub hidden: Tensor<3>,
    /// Per layer `[b, heads, t, past + t]`, when asked for.
    pub attention: Option<Vec<Tensor<4>>>,
    /// Per layer `[b, t, e]`, when asked for (parity tests).
    pub layer_outputs: Option<Vec<Tensor<3>>>,
}

#[derive(Module, Debug)]
pub struct Llm {
    embed: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    /// `None` when the output head is tied to the embedding.
    output: Option<Linear>,
    rope_base: f64,
    head_dim: usize,
    vocab_size: usize,
    context_length: usize,
}

/// What to keep from a forward step besides the hidden states.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    pub attention: bool,
    pub layer_outputs: bool,
}

impl Llm {
    pub fn load(src: &mut impl ParamSource, cfg: &LlmConfig) -> Result<Self> {
        let output = if cfg.tied_output {
            None
        } else {
            Some(Linear::load(
                src,
                "output",
                cfg.width,
                cfg.vocab_size,
                false,
            )?)
        };
        Ok(Self {
            embed: Embedding::load(src, "token_embd.weight", cfg.vocab_size, cfg.width)?,
            layers: (0..cfg.depth)
                .map(|i| DecoderLayer::load(src, i, cfg))
                .collect::<Result<_>>()?,
            norm: RmsNorm::load(src, "output_norm.weight", cfg.width, cfg.rms_eps)?,
            output,
            rope_base: cfg.rope_base,
            head_dim: cfg.head_dim,
            vocab_size: cfg.vocab_size,
            context_length: cfg.context_length,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Longest sequence (prompt + answer) the model was trained for.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// # Shapes
    /// - ids: `[t]` -> `[1, t, e]`
    pub fn embed(&self, ids: Tensor<1, Int>) -> Tensor<3> {
        self.embed.forward(ids)
    }

    /// # Shapes
    /// - ids: `[b, t]` -> `[b, t, e]`
    pub fn embed_batch(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed.forward_batch(ids)
    }

    /// Runs `t` new positions through the decoder, appending them to `cache`.
    ///
    /// # Shapes
    /// - embeds: `[b, t, e]` -> hidden `[b, t, e]`
    pub fn forward(&self, embeds: Tensor<3>, cache: &mut KvCache, keep: Keep) -> LlmStep {
        let [_, t, _] = embeds.dims();
        let past = cache.len();
        let rope = RotaryTable::llm(
            past..past + t,
            self.head_dim,
            self.rope_base,
            &embeds.device(),
        );
        let mut attention = keep.attention.then(Vec::new);
        let mut layer_outputs = keep.layer_outputs.then(Vec::new);
        let mut x = embeds;
        for (i, layer) in self.layers.iter().enumerate() {
            let (next, probs) = layer.forward(x, i, cache, &rope);
            x = next;
            if let Some(attention) = attention.as_mut() {
                attention.push(probs);
            }
            if let Some(outputs) = layer_outputs.as_mut() {
                outputs.push(x.clone());
            }
        }
        cache.advance(t);
        LlmStep {
            hidden: self.norm.forward(x),
            attention,
            layer_outputs,
        }
    }

    /// # Shapes
    /// - hidden: `[b, t, e]` -> `[b, t, vocab]`
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        match &self.output {
            Some(output) => output.forward(hidden),
            None => self.embed.project_out(hidden),
        }
    }
}

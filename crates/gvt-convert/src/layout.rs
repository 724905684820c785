//! Which source tensor becomes which GGUF tensor, with the shape each must have: the
//! official GVT checkpoint's names and Hugging Face LLaMA's, as `docs/gguf-layout.md`
//! tabulates them. The lists are built from a configuration, so a missing tensor, an
//! unexpected one and a wrong shape are all found by comparing them with the file.

use gvt_core::model::{LlmConfig, ResamplerConfig, VisionConfig};

/// What a tensor is, which decides the type it is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A linear layer's weight `[out, in]`: quantized with `--type`.
    Matrix,
    /// The token embedding table: quantized like matrices.
    Embedding,
    /// The LM head: 4-bit types store it in Q6_K, as llama.cpp does.
    Output,
    /// The patch convolution: rows of `patch` values, too short for blocks: f16 at most.
    Conv,
    /// Norms, biases, latents, class token and position tables: small and sensitive, f32.
    Small,
}

/// One tensor of the output and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Name in the source file(s).
    pub source: String,
    /// Name in the GGUF file.
    pub gguf: String,
    /// Row-major shape, the same in both.
    pub shape: Vec<usize>,
    pub role: Role,
    /// Rows are reordered from Hugging Face's rotate-half RoPE layout to ggml's adjacent
    /// pairs, for this many heads (LLM `q_proj`/`k_proj`).
    pub permute_heads: Option<usize>,
}

/// (source suffix, GGUF suffix, shape, role) of one tensor of a block.
type Pair<'a> = (&'a str, &'a str, &'a [usize], Role);

fn entry(source: String, gguf: String, shape: &[usize], role: Role) -> Entry {
    Entry {
        source,
        gguf,
        shape: shape.to_vec(),
        role,
        permute_heads: None,
    }
}

/// The vision tower, resampler and projection of the official checkpoint (names after any
/// nesting prefix, e.g. Lightning's `state_dict.model.`, is removed). `llm_width` is the
/// projection's output width.
pub fn vision(v: &VisionConfig, r: &ResamplerConfig, llm_width: usize) -> Vec<Entry> {
    use Role::*;
    let (d, f, p) = (v.width, v.ffn_hidden, v.patch_size);
    let mut out = Vec::new();
    let add = |out: &mut Vec<Entry>, source: &str, gguf: &str, shape: &[usize], role| {
        out.push(entry(source.into(), gguf.into(), shape, role));
    };
    let ve = "visual_encoder";
    add(
        &mut out,
        &format!("{ve}.patch_embed.proj.weight"),
        "v.patch_embd.weight",
        &[d, 3, p, p],
        Conv,
    );
    add(
        &mut out,
        &format!("{ve}.patch_embed.proj.bias"),
        "v.patch_embd.bias",
        &[d],
        Small,
    );
    add(
        &mut out,
        &format!("{ve}.cls_token"),
        "v.cls_token",
        &[1, 1, d],
        Small,
    );
    add(
        &mut out,
        &format!("{ve}.pos_embed"),
        "v.pos_embd",
        &[1, 1 + v.grid() * v.grid(), d],
        Small,
    );
    for n in 0..v.depth {
        let s = |k: &str| format!("{ve}.blocks.{n}.{k}");
        let g = |k: &str| format!("v.blk.{n}.{k}");
        // EVA-02 has no bias on k.
        let pairs: &[Pair] = &[
            ("norm1.weight", "norm1.weight", &[d], Small),
            ("norm1.bias", "norm1.bias", &[d], Small),
            ("attn.q_proj.weight", "attn_q.weight", &[d, d], Matrix),
            ("attn.q_bias", "attn_q.bias", &[d], Small),
            ("attn.k_proj.weight", "attn_k.weight", &[d, d], Matrix),
            ("attn.v_proj.weight", "attn_v.weight", &[d, d], Matrix),
            ("attn.v_bias", "attn_v.bias", &[d], Small),
            ("attn.inner_attn_ln.weight", "attn_ln.weight", &[d], Small),
            ("attn.inner_attn_ln.bias", "attn_ln.bias", &[d], Small),
            ("attn.proj.weight", "attn_out.weight", &[d, d], Matrix),
            ("attn.proj.bias", "attn_out.bias", &[d], Small),
            ("norm2.weight", "norm2.weight", &[d], Small),
            ("norm2.bias", "norm2.bias", &[d], Small),
            ("mlp.w1.weight", "ffn_gate.weight", &[f, d], Matrix),
            ("mlp.w1.bias", "ffn_gate.bias", &[f], Small),
            ("mlp.w2.weight", "ffn_up.weight", &[f, d], Matrix),
            ("mlp.w2.bias", "ffn_up.bias", &[f], Small),
            ("mlp.ffn_ln.weight", "ffn_ln.weight", &[f], Small),
            ("mlp.ffn_ln.bias", "ffn_ln.bias", &[f], Small),
            ("mlp.w3.weight", "ffn_down.weight", &[d, f], Matrix),
            ("mlp.w3.bias", "ffn_down.bias", &[d], Small),
        ];
        for &(src, dst, shape, role) in pairs {
            out.push(entry(s(src), g(dst), shape, role));
        }
    }
    add(
        &mut out,
        "ln_vision.weight",
        "v.ln_vision.weight",
        &[d],
        Small,
    );
    add(&mut out, "ln_vision.bias", "v.ln_vision.bias", &[d], Small);
    let inner = r.heads * r.head_dim;
    add(
        &mut out,
        "perceiver.latents",
        "r.latents",
        &[r.latents, d],
        Small,
    );
    add(
        &mut out,
        "perceiver.media_pos_emb",
        "r.media_pos",
        &[1, 1, d],
        Small,
    );
    for n in 0..r.depth {
        let pairs: &[Pair] = &[
            ("0.norm_media.weight", "norm_media.weight", &[d], Small),
            ("0.norm_media.bias", "norm_media.bias", &[d], Small),
            ("0.norm_latents.weight", "norm_latents.weight", &[d], Small),
            ("0.norm_latents.bias", "norm_latents.bias", &[d], Small),
            ("0.to_q.weight", "attn_q.weight", &[inner, d], Matrix),
            ("0.to_kv.weight", "attn_kv.weight", &[2 * inner, d], Matrix),
            ("0.to_out.weight", "attn_out.weight", &[d, inner], Matrix),
            ("1.0.weight", "ffn_norm.weight", &[d], Small),
            ("1.0.bias", "ffn_norm.bias", &[d], Small),
            ("1.1.weight", "ffn_up.weight", &[r.ffn_hidden, d], Matrix),
            ("1.3.weight", "ffn_down.weight", &[d, r.ffn_hidden], Matrix),
        ];
        for &(src, dst, shape, role) in pairs {
            out.push(entry(
                format!("perceiver.layers.{n}.{src}"),
                format!("r.blk.{n}.{dst}"),
                shape,
                role,
            ));
        }
    }
    add(
        &mut out,
        "perceiver.norm.weight",
        "r.norm.weight",
        &[d],
        Small,
    );
    add(&mut out, "perceiver.norm.bias", "r.norm.bias", &[d], Small);
    add(
        &mut out,
        "llm_proj.weight",
        "mm.proj.weight",
        &[llm_width, d],
        Matrix,
    );
    add(
        &mut out,
        "llm_proj.bias",
        "mm.proj.bias",
        &[llm_width],
        Small,
    );
    out
}

/// A Hugging Face `LlamaForCausalLM`'s tensors. `lm_head.weight` is listed unless the
/// output is tied to the embedding.
pub fn llama(l: &LlmConfig) -> Vec<Entry> {
    use Role::*;
    let (e, v, fl) = (l.width, l.vocab_size, l.ffn_hidden);
    let (q_rows, kv_rows) = (l.heads * l.head_dim, l.kv_heads * l.head_dim);
    // A tied embedding is also the LM head, and is stored as one (as llama.cpp does).
    let embedding = if l.tied_output { Output } else { Embedding };
    let mut out = vec![entry(
        "model.embed_tokens.weight".into(),
        "token_embd.weight".into(),
        &[v, e],
        embedding,
    )];
    for n in 0..l.depth {
        let pairs: &[Pair] = &[
            ("input_layernorm", "attn_norm", &[e], Small),
            ("self_attn.q_proj", "attn_q", &[q_rows, e], Matrix),
            ("self_attn.k_proj", "attn_k", &[kv_rows, e], Matrix),
            ("self_attn.v_proj", "attn_v", &[kv_rows, e], Matrix),
            ("self_attn.o_proj", "attn_output", &[e, q_rows], Matrix),
            ("post_attention_layernorm", "ffn_norm", &[e], Small),
            ("mlp.gate_proj", "ffn_gate", &[fl, e], Matrix),
            ("mlp.up_proj", "ffn_up", &[fl, e], Matrix),
            ("mlp.down_proj", "ffn_down", &[e, fl], Matrix),
        ];
        for &(src, dst, shape, role) in pairs {
            let permute_heads = match dst {
                "attn_q" => Some(l.heads),
                "attn_k" => Some(l.kv_heads),
                _ => None,
            };
            out.push(Entry {
                permute_heads,
                ..entry(
                    format!("model.layers.{n}.{src}.weight"),
                    format!("blk.{n}.{dst}.weight"),
                    shape,
                    role,
                )
            });
        }
    }
    out.push(entry(
        "model.norm.weight".into(),
        "output_norm.weight".into(),
        &[e],
        Small,
    ));
    if !l.tied_output {
        out.push(entry(
            "lm_head.weight".into(),
            "output.weight".into(),
            &[v, e],
            Output,
        ));
    }
    out
}

/// Source tensors that are derived buffers, not weights: recomputed by every runtime,
/// skipped without complaint (Vicuna's `.bin` files carry `rotary_emb.inv_freq`, EVA-02's
/// its RoPE tables).
pub fn is_derived_buffer(name: &str) -> bool {
    name.ends_with("rotary_emb.inv_freq")
        || name.ends_with("rope.freqs_cos")
        || name.ends_with("rope.freqs_sin")
}

/// Source row of output row `row` when a `[heads * head_dim, in]` weight is permuted from
/// rotate-half to adjacent pairs: `W.reshape(heads, 2, head_dim/2, in).swapaxes(1, 2)`.
pub fn permuted_row(row: usize, rows: usize, heads: usize) -> usize {
    // The LLM's configuration is validated (heads divide the rows, head size even) before
    // a plan exists.
    debug_assert!(rows.is_multiple_of(heads) && (rows / heads).is_multiple_of(2));
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let (head, within) = (row / head_dim, row % head_dim);
    // Output position (i, j) of the swapped [half, 2] grid reads input (j, i) of [2, half].
    let (i, j) = (within / 2, within % 2);
    head * head_dim + j * half + i
}

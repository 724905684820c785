#!/usr/bin/env python3
"""Independent float64 numpy reference of the GVT pipeline (arXiv 2305.12223).

Written from docs/gvt-architecture.md (shared docs) and docs/gguf-layout.md, NOT from the
Rust code. It builds a tiny GVT with seeded random weights, runs

    pixels -> EVA-02 ViT -> ln_vision -> Perceiver Resampler -> llm_proj
           -> [embed(prefix) ; 32 visual tokens ; embed(suffix)] -> LLaMA -> logits

in float64 and writes two fixtures:

    tests/fixtures/parity/gvt-parity.gguf           the model (F32, GVT Lens GGUF layout,
                                                     LLM q/k permuted like llama.cpp)
    tests/fixtures/parity/gvt-parity-expected.gguf  inputs + per-stage expected values (F32)

The weights dict uses the OFFICIAL parameter names of the GVT checkpoint / HF LLaMA
(visual_encoder.blocks.N.attn.q_proj.weight, perceiver.layers.N.0.to_kv.weight, llm_proj,
model.layers.N.self_attn.q_proj.weight, lm_head, ...). The LLM uses the Hugging Face
rotate-half RoPE convention here; the GGUF stores q/k permuted for adjacent-pair RoPE.

After writing, the script re-reads the model GGUF with gguf.GGUFReader (hyper-parameters
from the metadata, q/k un-permuted) and re-runs the forward to prove file == reference.

Usage: python3 tools/reference/gvt_reference.py [--out-dir tests/fixtures/parity]
Requires: numpy, gguf (llama.cpp's gguf-py).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGUFValueType

SEED = 20230521

# Tiny GVT: same structure as GVT-7B, small dims.
CFG = dict(
    # vision tower (EVA-02 style ViT)
    image_size=56,
    patch_size=14,            # grid 4x4 = 16 patches + CLS = 17 tokens
    v_dim=32,
    v_heads=2,                # head_dim 16
    v_blocks=2,
    v_ffn=int(32 * 2.6667),   # 85
    v_eps=1e-6,               # every LayerNorm inside the ViT (norm1/2, inner_attn_ln, ffn_ln)
    v_rope_theta=10000.0,
    ln_vision_eps=1e-5,       # ln_vision = nn.LayerNorm(1024) in GVT (PyTorch default eps)
    image_mean=(0.48145466, 0.4578275, 0.40821073),
    image_std=(0.26862954, 0.26130258, 0.27577711),
    # perceiver resampler
    r_blocks=2,
    r_heads=2,
    r_head_dim=24,            # inner 48
    r_latents=32,
    r_ffn=128,
    r_eps=1e-5,
    # LLaMA decoder
    l_dim=48,
    l_blocks=2,
    l_heads=4,
    l_kv_heads=2,             # head_dim 12, grouped-query (2 q heads per kv head)
    l_ffn=96,
    l_eps=1e-6,
    l_rope_base=10000.0,
    l_vocab=64,
    l_ctx=128,
)

PREFIX_IDS = [1, 5, 9]             # BOS + "<Img>" stand-ins
SUFFIX_IDS = [11, 17, 23, 42, 7]   # "</Img>" + prompt stand-ins
N_GREEDY = 6


# ----------------------------------------------------------------------------- primitives
def linear(x, w, b=None):
    """PyTorch nn.Linear: w is [out, in]."""
    y = x @ w.T
    return y if b is None else y + b


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # biased variance, like PyTorch
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_exact(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------- vision tower
def patch_embed(W, pixels, cfg):
    """Conv2d(3 -> D, kernel P, stride P, bias) then flatten(2).transpose(1, 2): [1, G*G, D].
    Patch index = row * G + col."""
    p = cfg["patch_size"]
    b, c, h, w = pixels.shape
    g_h, g_w = h // p, w // p
    # [B, C, gh, P, gw, P] -> [B, gh, gw, C, P, P] -> [B, gh*gw, C*P*P]
    x = pixels.reshape(b, c, g_h, p, g_w, p).transpose(0, 2, 4, 1, 3, 5).reshape(b, g_h * g_w, c * p * p)
    k = W["visual_encoder.patch_embed.proj.weight"].reshape(cfg["v_dim"], -1)  # [D, C*P*P]
    return x @ k.T + W["visual_encoder.patch_embed.proj.bias"]


def vision_rope_tables(grid, head_dim, theta):
    """EVA-02 VisionRotaryEmbeddingFast(dim=head_dim/2, pt_seq_len=ft_seq_len=grid).
    Returns cos, sin of shape [grid*grid, head_dim]: first half of the head rotates with the
    row index, second half with the column index; each frequency repeated twice (pairs)."""
    axis_dim = head_dim // 2
    freqs = 1.0 / theta ** (np.arange(0, axis_dim, 2, dtype=np.float64)[: axis_dim // 2] / axis_dim)
    t = np.arange(grid, dtype=np.float64)  # arange(ft) / ft * pt with ft == pt
    f = np.repeat(np.outer(t, freqs), 2, axis=-1)  # [grid, axis_dim]: f0 f0 f1 f1 ...
    rows = np.broadcast_to(f[:, None, :], (grid, grid, axis_dim))  # depends on row (h)
    cols = np.broadcast_to(f[None, :, :], (grid, grid, axis_dim))  # depends on column (w)
    ang = np.concatenate([rows, cols], axis=-1).reshape(grid * grid, head_dim)
    return np.cos(ang), np.sin(ang)


def rotate_half_interleaved(x):
    """(x0, x1) -> (-x1, x0) on adjacent pairs."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    return np.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x.shape)


def vision_attention(W, pre, x, cfg, trace, tag):
    """EVA-02 attention with q_bias/v_bias, 2-D RoPE on patch tokens, sub-LN before proj."""
    b, n, d = x.shape
    h = cfg["v_heads"]
    hd = d // h
    q = linear(x, W[pre + "q_proj.weight"], W[pre + "q_bias"])
    k = linear(x, W[pre + "k_proj.weight"])  # k has no bias
    v = linear(x, W[pre + "v_proj.weight"], W[pre + "v_bias"])
    q, k, v = (t.reshape(b, n, h, hd).transpose(0, 2, 1, 3) for t in (q, k, v))  # [B,H,N,hd]
    grid = cfg["image_size"] // cfg["patch_size"]
    cos, sin = vision_rope_tables(grid, hd, cfg["v_rope_theta"])
    q = np.concatenate([q[:, :, :1], q[:, :, 1:] * cos + rotate_half_interleaved(q[:, :, 1:]) * sin], axis=2)
    k = np.concatenate([k[:, :, :1], k[:, :, 1:] * cos + rotate_half_interleaved(k[:, :, 1:]) * sin], axis=2)
    trace[f"out.vision.q_rot.{tag}"] = q
    trace[f"out.vision.k_rot.{tag}"] = k
    probs = softmax((q / math.sqrt(hd)) @ k.transpose(0, 1, 3, 2))
    trace[f"attn.vision.{tag[5:]}"] = probs[0]
    o = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
    o = layer_norm(o, W[pre + "inner_attn_ln.weight"], W[pre + "inner_attn_ln.bias"], cfg["v_eps"])
    return linear(o, W[pre + "proj.weight"], W[pre + "proj.bias"])


def vision_swiglu(W, pre, x, cfg):
    """h = silu(w1 x) * (w2 x); ffn_ln(h); w3."""
    h = silu(linear(x, W[pre + "w1.weight"], W[pre + "w1.bias"])) * linear(x, W[pre + "w2.weight"], W[pre + "w2.bias"])
    h = layer_norm(h, W[pre + "ffn_ln.weight"], W[pre + "ffn_ln.bias"], cfg["v_eps"])
    return linear(h, W[pre + "w3.weight"], W[pre + "w3.bias"])


def vision_block(W, i, x, cfg, trace):
    pre = f"visual_encoder.blocks.{i}."
    eps = cfg["v_eps"]
    x = x + vision_attention(W, pre + "attn.", layer_norm(x, W[pre + "norm1.weight"], W[pre + "norm1.bias"], eps),
                             cfg, trace, f"block{i}")
    x = x + vision_swiglu(W, pre + "mlp.", layer_norm(x, W[pre + "norm2.weight"], W[pre + "norm2.bias"], eps), cfg)
    return x


def vision_tower(W, pixels, cfg, trace):
    """All tokens of the last block, no final norm: [1, 1 + G*G, D]."""
    x = patch_embed(W, pixels, cfg)
    trace["out.patch_embed"] = x
    cls = np.broadcast_to(W["visual_encoder.cls_token"], (x.shape[0], 1, x.shape[2]))
    x = np.concatenate([cls, x], axis=1) + W["visual_encoder.pos_embed"]
    for i in range(cfg["v_blocks"]):
        x = vision_block(W, i, x, cfg, trace)
        trace[f"out.vision.block{i}"] = x
    trace["out.vision"] = x
    return x


def ln_vision(W, x, cfg):
    return layer_norm(x, W["ln_vision.weight"], W["ln_vision.bias"], cfg["ln_vision_eps"])


# ----------------------------------------------------------------------------- perceiver resampler
def perceiver_attention(W, pre, media, latents, cfg):
    """Flamingo PerceiverAttention: q from latents, k/v from [media ; latents]."""
    eps = cfg["r_eps"]
    h, dh = cfg["r_heads"], cfg["r_head_dim"]
    m = layer_norm(media, W[pre + "norm_media.weight"], W[pre + "norm_media.bias"], eps)
    l = layer_norm(latents, W[pre + "norm_latents.weight"], W[pre + "norm_latents.bias"], eps)
    q = linear(l, W[pre + "to_q.weight"])
    kv = linear(np.concatenate([m, l], axis=1), W[pre + "to_kv.weight"])
    k, v = np.split(kv, 2, axis=-1)  # k first, then v

    def heads(t):
        return t.reshape(t.shape[0], t.shape[1], h, dh).transpose(0, 2, 1, 3)

    q, k, v = heads(q), heads(k), heads(v)
    probs = softmax((q * dh ** -0.5) @ k.transpose(0, 1, 3, 2))  # [B, H, L, N+L]
    o = (probs @ v).transpose(0, 2, 1, 3).reshape(q.shape[0], -1, h * dh)
    return linear(o, W[pre + "to_out.weight"]), probs


def perceiver_ff(W, pre, x, cfg):
    """LayerNorm -> Linear (no bias) -> GELU(erf) -> Linear (no bias)."""
    h = layer_norm(x, W[pre + "0.weight"], W[pre + "0.bias"], cfg["r_eps"])
    return linear(gelu_exact(linear(h, W[pre + "1.weight"])), W[pre + "3.weight"])


def perceiver_resampler(W, x, cfg, trace):
    media = x + W["perceiver.media_pos_emb"]  # (1, 1, D) broadcast over tokens
    latents = np.broadcast_to(W["perceiver.latents"][None], (x.shape[0],) + W["perceiver.latents"].shape)
    for i in range(cfg["r_blocks"]):
        a, probs = perceiver_attention(W, f"perceiver.layers.{i}.0.", media, latents, cfg)
        trace[f"attn.resampler.{i}"] = probs[0]
        latents = a + latents
        latents = perceiver_ff(W, f"perceiver.layers.{i}.1.", latents, cfg) + latents
        trace[f"out.resampler.layer{i}"] = latents
    out = layer_norm(latents, W["perceiver.norm.weight"], W["perceiver.norm.bias"], cfg["r_eps"])
    trace["out.resampler"] = out
    return out


def llm_proj(W, x):
    return linear(x, W["llm_proj.weight"], W["llm_proj.bias"])


# ----------------------------------------------------------------------------- LLaMA (HF convention)
def llama_rope_tables(n_pos, head_dim, base):
    inv = 1.0 / base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = np.outer(np.arange(n_pos, dtype=np.float64), inv)
    ang = np.concatenate([ang, ang], axis=-1)  # [n_pos, head_dim]
    return np.cos(ang), np.sin(ang)


def rotate_half_split(x):
    """HF LLaMA rotate_half: cat(-x2, x1) over the two halves."""
    x1, x2 = np.split(x, 2, axis=-1)
    return np.concatenate([-x2, x1], axis=-1)


def llama_attention(W, pre, x, cfg, probs_out):
    b, n, e = x.shape
    hq, hkv = cfg["l_heads"], cfg["l_kv_heads"]
    hd = e // hq
    q = linear(x, W[pre + "q_proj.weight"]).reshape(b, n, hq, hd).transpose(0, 2, 1, 3)
    k = linear(x, W[pre + "k_proj.weight"]).reshape(b, n, hkv, hd).transpose(0, 2, 1, 3)
    v = linear(x, W[pre + "v_proj.weight"]).reshape(b, n, hkv, hd).transpose(0, 2, 1, 3)
    cos, sin = llama_rope_tables(n, hd, cfg["l_rope_base"])
    q = q * cos + rotate_half_split(q) * sin
    k = k * cos + rotate_half_split(k) * sin
    rep = hq // hkv  # query head j uses kv head j // rep (HF repeat_kv)
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(hd)
    s = np.where(np.tril(np.ones((n, n), dtype=bool)), s, -np.inf)
    probs = softmax(s)
    probs_out.append(probs[0])
    o = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, hq * hd)
    return linear(o, W[pre + "o_proj.weight"])


def llama_mlp(W, pre, x):
    return linear(silu(linear(x, W[pre + "gate_proj.weight"])) * linear(x, W[pre + "up_proj.weight"]),
                  W[pre + "down_proj.weight"])


def llama_decoder_layer(W, i, x, cfg, probs_out):
    pre = f"model.layers.{i}."
    eps = cfg["l_eps"]
    x = x + llama_attention(W, pre + "self_attn.", rms_norm(x, W[pre + "input_layernorm.weight"], eps), cfg, probs_out)
    x = x + llama_mlp(W, pre + "mlp.", rms_norm(x, W[pre + "post_attention_layernorm.weight"], eps))
    return x


def llama_forward(W, embeds, cfg, trace=None):
    """embeds [1, n, E] at positions 0..n-1 -> logits [1, n, V]."""
    x = embeds
    probs = []
    for i in range(cfg["l_blocks"]):
        x = llama_decoder_layer(W, i, x, cfg, probs)
        if trace is not None:
            trace[f"out.llm.layer{i}"] = x
            trace[f"attn.llm.{i}"] = probs[i]
    x = rms_norm(x, W["model.norm.weight"], cfg["l_eps"])
    return linear(x, W["lm_head.weight"])


def embed_tokens(W, ids):
    return W["model.embed_tokens.weight"][np.asarray(ids)][None]


# ----------------------------------------------------------------------------- whole pipeline
def gvt_forward(W, pixels, prefix_ids, suffix_ids, cfg, n_greedy=N_GREEDY):
    trace = {}
    v = vision_tower(W, pixels, cfg, trace)
    v = ln_vision(W, v, cfg)
    trace["out.ln_vision"] = v
    r = perceiver_resampler(W, v, cfg, trace)
    p = llm_proj(W, r)
    trace["out.proj"] = p
    embeds = np.concatenate([embed_tokens(W, prefix_ids), p, embed_tokens(W, suffix_ids)], axis=1)
    trace["out.llm.embeds"] = embeds
    trace["out.logits"] = llama_forward(W, embeds, cfg, trace)
    # greedy decoding, no KV cache: recompute the whole sequence each step
    ids = []
    seq = embeds
    logits = trace["out.logits"]
    margin = np.inf
    for _ in range(n_greedy):
        top2 = np.sort(logits[0, -1])[-2:]
        margin = min(margin, top2[1] - top2[0])
        nxt = int(np.argmax(logits[0, -1]))
        ids.append(nxt)
        seq = np.concatenate([seq, embed_tokens(W, [nxt])], axis=1)
        logits = llama_forward(W, seq, cfg)
    trace["out.greedy_ids"] = np.array(ids, dtype=np.float64)
    trace["greedy_margin"] = float(margin)
    return trace


# ----------------------------------------------------------------------------- weights
def weight_specs(cfg):
    """(official name, shape, kind) in a fixed order; kind: w = N(0, .2), norm = 1 + .1 N, bias = .1 N."""
    D, P, G = cfg["v_dim"], cfg["patch_size"], cfg["image_size"] // cfg["patch_size"]
    F = cfg["v_ffn"]
    R, Rh = cfg["r_heads"] * cfg["r_head_dim"], cfg["r_ffn"]
    E, V, Fl = cfg["l_dim"], cfg["l_vocab"], cfg["l_ffn"]
    hd = E // cfg["l_heads"]
    s = [
        ("visual_encoder.patch_embed.proj.weight", (D, 3, P, P), "w"),
        ("visual_encoder.patch_embed.proj.bias", (D,), "bias"),
        ("visual_encoder.cls_token", (1, 1, D), "w"),
        ("visual_encoder.pos_embed", (1, 1 + G * G, D), "w"),
    ]
    for i in range(cfg["v_blocks"]):
        p = f"visual_encoder.blocks.{i}."
        s += [
            (p + "norm1.weight", (D,), "norm"), (p + "norm1.bias", (D,), "bias"),
            (p + "attn.q_proj.weight", (D, D), "w"), (p + "attn.q_bias", (D,), "bias"),
            (p + "attn.k_proj.weight", (D, D), "w"),
            (p + "attn.v_proj.weight", (D, D), "w"), (p + "attn.v_bias", (D,), "bias"),
            (p + "attn.inner_attn_ln.weight", (D,), "norm"), (p + "attn.inner_attn_ln.bias", (D,), "bias"),
            (p + "attn.proj.weight", (D, D), "w"), (p + "attn.proj.bias", (D,), "bias"),
            (p + "norm2.weight", (D,), "norm"), (p + "norm2.bias", (D,), "bias"),
            (p + "mlp.w1.weight", (F, D), "w"), (p + "mlp.w1.bias", (F,), "bias"),
            (p + "mlp.w2.weight", (F, D), "w"), (p + "mlp.w2.bias", (F,), "bias"),
            (p + "mlp.ffn_ln.weight", (F,), "norm"), (p + "mlp.ffn_ln.bias", (F,), "bias"),
            (p + "mlp.w3.weight", (D, F), "w"), (p + "mlp.w3.bias", (D,), "bias"),
        ]
    s += [("ln_vision.weight", (D,), "norm"), ("ln_vision.bias", (D,), "bias"),
          ("perceiver.latents", (cfg["r_latents"], D), "w"),
          ("perceiver.media_pos_emb", (1, 1, D), "w")]
    for i in range(cfg["r_blocks"]):
        p = f"perceiver.layers.{i}."
        s += [
            (p + "0.norm_media.weight", (D,), "norm"), (p + "0.norm_media.bias", (D,), "bias"),
            (p + "0.norm_latents.weight", (D,), "norm"), (p + "0.norm_latents.bias", (D,), "bias"),
            (p + "0.to_q.weight", (R, D), "w"),
            (p + "0.to_kv.weight", (2 * R, D), "w"),
            (p + "0.to_out.weight", (D, R), "w"),
            (p + "1.0.weight", (D,), "norm"), (p + "1.0.bias", (D,), "bias"),
            (p + "1.1.weight", (Rh, D), "w"),
            (p + "1.3.weight", (D, Rh), "w"),
        ]
    s += [("perceiver.norm.weight", (D,), "norm"), ("perceiver.norm.bias", (D,), "bias"),
          ("llm_proj.weight", (E, D), "w"), ("llm_proj.bias", (E,), "bias"),
          ("model.embed_tokens.weight", (V, E), "w")]
    for i in range(cfg["l_blocks"]):
        p = f"model.layers.{i}."
        s += [
            (p + "input_layernorm.weight", (E,), "norm"),
            (p + "self_attn.q_proj.weight", (cfg["l_heads"] * hd, E), "w"),
            (p + "self_attn.k_proj.weight", (cfg["l_kv_heads"] * hd, E), "w"),
            (p + "self_attn.v_proj.weight", (cfg["l_kv_heads"] * hd, E), "w"),
            (p + "self_attn.o_proj.weight", (E, cfg["l_heads"] * hd), "w"),
            (p + "post_attention_layernorm.weight", (E,), "norm"),
            (p + "mlp.gate_proj.weight", (Fl, E), "w"),
            (p + "mlp.up_proj.weight", (Fl, E), "w"),
            (p + "mlp.down_proj.weight", (E, Fl), "w"),
        ]
    s += [("model.norm.weight", (E,), "norm"), ("lm_head.weight", (V, E), "w")]
    return s


def make_weights(cfg, rng):
    W = {}
    for name, shape, kind in weight_specs(cfg):
        z = rng.standard_normal(shape)
        v = {"w": 0.2 * z, "norm": 1.0 + 0.1 * z, "bias": 0.1 * z}[kind]
        W[name] = v.astype(np.float32).astype(np.float64)  # exactly representable in F32
    return W


# ----------------------------------------------------------------------------- GGUF mapping
def permute_qk(w, n_head):
    """llama.cpp convert_hf_to_gguf permute: HF rotate-half rows -> adjacent-pair rows."""
    out, inp = w.shape
    return w.reshape(n_head, 2, out // n_head // 2, inp).swapaxes(1, 2).reshape(out, inp)


def unpermute_qk(w, n_head):
    out, inp = w.shape
    return w.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def gguf_name_map(cfg):
    """official name -> GGUF name (docs/gguf-layout.md)."""
    m = {
        "visual_encoder.patch_embed.proj.weight": "v.patch_embd.weight",
        "visual_encoder.patch_embed.proj.bias": "v.patch_embd.bias",
        "visual_encoder.cls_token": "v.cls_token",
        "visual_encoder.pos_embed": "v.pos_embd",
        "ln_vision.weight": "v.ln_vision.weight",
        "ln_vision.bias": "v.ln_vision.bias",
        "perceiver.latents": "r.latents",
        "perceiver.media_pos_emb": "r.media_pos",
        "perceiver.norm.weight": "r.norm.weight",
        "perceiver.norm.bias": "r.norm.bias",
        "llm_proj.weight": "mm.proj.weight",
        "llm_proj.bias": "mm.proj.bias",
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    for i in range(cfg["v_blocks"]):
        a, b = f"visual_encoder.blocks.{i}.", f"v.blk.{i}."
        for wb in ("weight", "bias"):
            m[a + "norm1." + wb] = b + "norm1." + wb
            m[a + "norm2." + wb] = b + "norm2." + wb
            m[a + "attn.inner_attn_ln." + wb] = b + "attn_ln." + wb
            m[a + "attn.proj." + wb] = b + "attn_out." + wb
            m[a + "mlp.w1." + wb] = b + "ffn_gate." + wb
            m[a + "mlp.w2." + wb] = b + "ffn_up." + wb
            m[a + "mlp.ffn_ln." + wb] = b + "ffn_ln." + wb
            m[a + "mlp.w3." + wb] = b + "ffn_down." + wb
        m[a + "attn.q_proj.weight"] = b + "attn_q.weight"
        m[a + "attn.q_bias"] = b + "attn_q.bias"
        m[a + "attn.k_proj.weight"] = b + "attn_k.weight"
        m[a + "attn.v_proj.weight"] = b + "attn_v.weight"
        m[a + "attn.v_bias"] = b + "attn_v.bias"
    for i in range(cfg["r_blocks"]):
        a, b = f"perceiver.layers.{i}.", f"r.blk.{i}."
        for wb in ("weight", "bias"):
            m[a + "0.norm_media." + wb] = b + "norm_media." + wb
            m[a + "0.norm_latents." + wb] = b + "norm_latents." + wb
            m[a + "1.0." + wb] = b + "ffn_norm." + wb
        m[a + "0.to_q.weight"] = b + "attn_q.weight"
        m[a + "0.to_kv.weight"] = b + "attn_kv.weight"
        m[a + "0.to_out.weight"] = b + "attn_out.weight"
        m[a + "1.1.weight"] = b + "ffn_up.weight"
        m[a + "1.3.weight"] = b + "ffn_down.weight"
    for i in range(cfg["l_blocks"]):
        a, b = f"model.layers.{i}.", f"blk.{i}."
        m[a + "input_layernorm.weight"] = b + "attn_norm.weight"
        m[a + "self_attn.q_proj.weight"] = b + "attn_q.weight"
        m[a + "self_attn.k_proj.weight"] = b + "attn_k.weight"
        m[a + "self_attn.v_proj.weight"] = b + "attn_v.weight"
        m[a + "self_attn.o_proj.weight"] = b + "attn_output.weight"
        m[a + "post_attention_layernorm.weight"] = b + "ffn_norm.weight"
        m[a + "mlp.gate_proj.weight"] = b + "ffn_gate.weight"
        m[a + "mlp.up_proj.weight"] = b + "ffn_up.weight"
        m[a + "mlp.down_proj.weight"] = b + "ffn_down.weight"
    return m


def to_gguf_tensors(W, cfg):
    out = {}
    for off, gg in gguf_name_map(cfg).items():
        t = W[off]
        if off.endswith("self_attn.q_proj.weight"):
            t = permute_qk(t, cfg["l_heads"])
        elif off.endswith("self_attn.k_proj.weight"):
            t = permute_qk(t, cfg["l_kv_heads"])
        out[gg] = np.ascontiguousarray(t, dtype=np.float32)
    return out


def from_gguf_tensors(T, cfg):
    W = {}
    for off, gg in gguf_name_map(cfg).items():
        t = np.asarray(T[gg], dtype=np.float64)
        if off.endswith("self_attn.q_proj.weight"):
            t = unpermute_qk(t, cfg["l_heads"])
        elif off.endswith("self_attn.k_proj.weight"):
            t = unpermute_qk(t, cfg["l_kv_heads"])
        W[off] = t
    return W


class _Writer(gguf.GGUFWriter):
    """gguf-py refuses empty arrays; GGUF itself allows them (type + count 0)."""

    def _pack_val(self, val, vtype, add_vtype, sub_type=None):
        if vtype == GGUFValueType.ARRAY and sub_type is not None and len(val) == 0:
            kv = bytearray()
            if add_vtype:
                kv += self._pack("I", vtype)
            kv += self._pack("I", sub_type)
            kv += self._pack("Q", 0)
            return bytes(kv)
        return super()._pack_val(val, vtype, add_vtype, sub_type)


def toy_vocab(n):
    toks = ["<unk>", "<s>", "</s>"]
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!"
    for c in chars:
        if len(toks) == n:
            break
        toks.append(c)
    assert len(toks) == n and len(set(toks)) == n
    return toks


def write_model_gguf(path, W, cfg):
    w = _Writer(path, "gvt")
    w.add_name("GVT parity fixture (tiny random weights)")
    u32 = w.add_uint32
    f32 = w.add_float32
    u32("gvt.vision.image_size", cfg["image_size"])
    u32("gvt.vision.patch_size", cfg["patch_size"])
    u32("gvt.vision.embedding_length", cfg["v_dim"])
    u32("gvt.vision.block_count", cfg["v_blocks"])
    u32("gvt.vision.head_count", cfg["v_heads"])
    u32("gvt.vision.feed_forward_length", cfg["v_ffn"])
    f32("gvt.vision.layer_norm_epsilon", cfg["v_eps"])
    f32("gvt.vision.ln_vision_epsilon", cfg["ln_vision_eps"])  # extra key, not in gguf-layout.md
    f32("gvt.vision.rope_theta", cfg["v_rope_theta"])
    w.add_array("gvt.vision.image_mean", [float(x) for x in cfg["image_mean"]])
    w.add_array("gvt.vision.image_std", [float(x) for x in cfg["image_std"]])
    u32("gvt.resampler.block_count", cfg["r_blocks"])
    u32("gvt.resampler.head_count", cfg["r_heads"])
    u32("gvt.resampler.head_dim", cfg["r_head_dim"])
    u32("gvt.resampler.latent_count", cfg["r_latents"])
    u32("gvt.resampler.feed_forward_length", cfg["r_ffn"])
    f32("gvt.resampler.layer_norm_epsilon", cfg["r_eps"])
    u32("llama.block_count", cfg["l_blocks"])
    u32("llama.embedding_length", cfg["l_dim"])
    u32("llama.feed_forward_length", cfg["l_ffn"])
    u32("llama.attention.head_count", cfg["l_heads"])
    u32("llama.attention.head_count_kv", cfg["l_kv_heads"])
    u32("llama.rope.dimension_count", cfg["l_dim"] // cfg["l_heads"])
    f32("llama.rope.freq_base", cfg["l_rope_base"])
    f32("llama.attention.layer_norm_rms_epsilon", cfg["l_eps"])
    u32("llama.context_length", cfg["l_ctx"])
    u32("llama.vocab_size", cfg["l_vocab"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(toy_vocab(cfg["l_vocab"]))
    w.add_token_scores([0.0] * cfg["l_vocab"])
    w.add_token_types([1] * cfg["l_vocab"])
    w.add_key_value("tokenizer.ggml.merges", [], GGUFValueType.ARRAY, sub_type=GGUFValueType.STRING)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_add_bos_token(True)
    for name, t in to_gguf_tensors(W, cfg).items():
        w.add_tensor(name, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


EXPECTED_ORDER = [
    "out.patch_embed", "out.vision.q_rot.block0", "out.vision.k_rot.block0", "attn.vision.0",
    "out.vision.block0", "out.vision.q_rot.block1", "out.vision.k_rot.block1", "attn.vision.1",
    "out.vision.block1", "out.vision", "out.ln_vision",
    "attn.resampler.0", "out.resampler.layer0", "attn.resampler.1", "out.resampler.layer1", "out.resampler",
    "out.proj", "out.llm.embeds",
    "attn.llm.0", "out.llm.layer0", "attn.llm.1", "out.llm.layer1", "out.logits", "out.greedy_ids",
]


def write_expected_gguf(path, pixels, trace, cfg):
    w = gguf.GGUFWriter(path, "gvt-expected")
    w.add_name("GVT parity expected values for gvt-parity.gguf")
    w.add_string("expected.generator", "tools/reference/gvt_reference.py (float64 numpy, stored as F32)")
    w.add_uint32("expected.seed", SEED)
    w.add_array("expected.prefix_ids", [int(i) for i in PREFIX_IDS])
    w.add_array("expected.suffix_ids", [int(i) for i in SUFFIX_IDS])
    w.add_array("expected.greedy_ids", [int(i) for i in trace["out.greedy_ids"]])
    w.add_float32("expected.vision_layer_norm_epsilon", cfg["v_eps"])
    w.add_float32("expected.ln_vision_epsilon", cfg["ln_vision_eps"])
    w.add_float32("expected.resampler_layer_norm_epsilon", cfg["r_eps"])
    w.add_float32("expected.llm_rms_epsilon", cfg["l_eps"])
    w.add_tensor("input.pixels", pixels.astype(np.float32))
    w.add_tensor("input.prefix_ids", np.array(PREFIX_IDS, dtype=np.float32))
    w.add_tensor("input.suffix_ids", np.array(SUFFIX_IDS, dtype=np.float32))
    for k in EXPECTED_ORDER:
        w.add_tensor(k, np.ascontiguousarray(trace[k], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------- read back
def field_value(reader, key):
    f = reader.fields[key]
    return f.contents()


def cfg_from_gguf(reader):
    g = lambda k: field_value(reader, k)  # noqa: E731
    cfg = dict(
        image_size=int(g("gvt.vision.image_size")), patch_size=int(g("gvt.vision.patch_size")),
        v_dim=int(g("gvt.vision.embedding_length")), v_heads=int(g("gvt.vision.head_count")),
        v_blocks=int(g("gvt.vision.block_count")), v_ffn=int(g("gvt.vision.feed_forward_length")),
        v_eps=float(g("gvt.vision.layer_norm_epsilon")), v_rope_theta=float(g("gvt.vision.rope_theta")),
        ln_vision_eps=float(g("gvt.vision.ln_vision_epsilon")),
        image_mean=tuple(g("gvt.vision.image_mean")), image_std=tuple(g("gvt.vision.image_std")),
        r_blocks=int(g("gvt.resampler.block_count")), r_heads=int(g("gvt.resampler.head_count")),
        r_head_dim=int(g("gvt.resampler.head_dim")), r_latents=int(g("gvt.resampler.latent_count")),
        r_ffn=int(g("gvt.resampler.feed_forward_length")), r_eps=float(g("gvt.resampler.layer_norm_epsilon")),
        l_dim=int(g("llama.embedding_length")), l_blocks=int(g("llama.block_count")),
        l_heads=int(g("llama.attention.head_count")), l_kv_heads=int(g("llama.attention.head_count_kv")),
        l_ffn=int(g("llama.feed_forward_length")), l_eps=float(g("llama.attention.layer_norm_rms_epsilon")),
        l_rope_base=float(g("llama.rope.freq_base")), l_vocab=int(g("llama.vocab_size")),
        l_ctx=int(g("llama.context_length")),
    )
    return cfg


def read_tensors(reader):
    """name -> (row-major array, ne list)."""
    return {t.name: (np.array(t.data), [int(x) for x in t.shape]) for t in reader.tensors}


def verify(model_path, expected_path, W, trace, pixels):
    r = gguf.GGUFReader(model_path)
    assert field_value(r, "general.architecture") == "gvt"
    cfg = cfg_from_gguf(r)
    for k, v in CFG.items():
        if isinstance(v, float):
            assert abs(cfg[k] - v) <= 1e-7 * max(1.0, abs(v)), (k, cfg[k], v)
        elif isinstance(v, tuple):
            assert np.allclose(cfg[k], v, rtol=1e-7), (k, cfg[k], v)
        else:
            assert cfg[k] == v, (k, cfg[k], v)
    assert field_value(r, "tokenizer.ggml.merges") == [] or len(r.fields["tokenizer.ggml.merges"].data) == 0
    assert len(field_value(r, "tokenizer.ggml.tokens")) == CFG["l_vocab"]
    T = read_tensors(r)
    ne = {k: v[1] for k, v in T.items()}
    # GGUF dims: ne[0] is the input axis of a Linear
    assert ne["blk.0.attn_q.weight"] == [48, 48], ne["blk.0.attn_q.weight"]
    assert ne["blk.0.attn_k.weight"] == [48, 24], ne["blk.0.attn_k.weight"]
    assert ne["mm.proj.weight"] == [32, 48], ne["mm.proj.weight"]
    assert ne["v.patch_embd.weight"] == [14, 14, 3, 32], ne["v.patch_embd.weight"]
    assert ne["r.blk.0.attn_kv.weight"] == [32, 96], ne["r.blk.0.attn_kv.weight"]
    assert ne["v.pos_embd"] == [32, 17, 1], ne["v.pos_embd"]
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in r.tensors)
    T = {k: v[0] for k, v in T.items()}
    W2 = from_gguf_tensors(T, cfg)
    assert set(W2) == set(W)
    for k in W:
        assert np.array_equal(W2[k], W[k]), k
    re = gguf.GGUFReader(expected_path)
    E = {k: v[0] for k, v in read_tensors(re).items()}
    px = E["input.pixels"].astype(np.float64)
    assert np.array_equal(px, pixels)
    pre = [int(x) for x in E["input.prefix_ids"]]
    suf = [int(x) for x in E["input.suffix_ids"]]
    trace2 = gvt_forward(W2, px, pre, suf, cfg)
    worst = 0.0
    for k in EXPECTED_ORDER:
        d_mem = float(np.max(np.abs(trace2[k] - trace[k])))
        d_file = float(np.max(np.abs(trace2[k] - E[k].astype(np.float64))))
        scale = float(np.max(np.abs(trace[k]))) or 1.0
        assert d_mem < 1e-6, (k, d_mem)
        assert d_file <= 1e-6 * max(1.0, scale), (k, d_file)  # only F32 rounding of the stored value
        worst = max(worst, d_mem)
    # The Rust side applies RoPE to ADJACENT pairs on the permuted GGUF rows (ggml "NORM" rope).
    # Check that this convention reproduces the HF rotate-half attention of layer 0.
    x = rms_norm(trace["out.llm.embeds"], W["model.layers.0.input_layernorm.weight"], cfg["l_eps"])[0]
    probs = ggml_style_attention_probs(x, T["blk.0.attn_q.weight"], T["blk.0.attn_k.weight"], cfg)
    d_rope = float(np.max(np.abs(probs - trace["attn.llm.0"])))
    assert d_rope < 1e-9, d_rope
    return worst


def ggml_style_attention_probs(x, wq, wk, cfg):
    """Attention probabilities from GGUF (permuted) q/k rows with adjacent-pair RoPE."""
    n, e = x.shape
    hq, hkv = cfg["l_heads"], cfg["l_kv_heads"]
    hd = e // hq
    pos = np.arange(n, dtype=np.float64)[:, None]
    theta = pos * cfg["l_rope_base"] ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # [n, hd/2]
    c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]

    def rope(t, nh):
        t = t.reshape(n, nh, hd // 2, 2)
        a, b = t[..., 0], t[..., 1]
        return np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(n, nh, hd)

    q = rope(x @ np.asarray(wq, np.float64).T, hq)
    k = rope(x @ np.asarray(wk, np.float64).T, hkv)
    out = np.zeros((hq, n, n))
    for h in range(hq):
        sc = q[:, h] @ k[:, h // (hq // hkv)].T / math.sqrt(hd)
        sc = np.where(np.tril(np.ones((n, n), dtype=bool)), sc, -np.inf)
        out[h] = softmax(sc)
    return out


def describe(trace):
    for k in EXPECTED_ORDER:
        v = trace[k]
        extra = ""
        if k.startswith("attn."):
            ent = -(np.where(v > 0, v * np.log(np.where(v > 0, v, 1)), 0)).sum(-1)
            extra = f" max_p={v.max():.3f} mean_row_entropy={ent.mean():.3f}"
        print(f"  {k:28s} {str(list(v.shape)):16s} absmax={np.abs(v).max():9.4f} std={v.std():8.4f}{extra}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--out-dir", default=os.path.join(root, "tests", "fixtures", "parity"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    rng = np.random.default_rng(SEED)
    W = make_weights(CFG, rng)
    pixels = rng.standard_normal((1, 3, CFG["image_size"], CFG["image_size"])).astype(np.float32).astype(np.float64)
    trace = gvt_forward(W, pixels, PREFIX_IDS, SUFFIX_IDS, CFG)

    model_path = os.path.join(args.out_dir, "gvt-parity.gguf")
    exp_path = os.path.join(args.out_dir, "gvt-parity-expected.gguf")
    write_model_gguf(model_path, W, CFG)
    write_expected_gguf(exp_path, pixels, trace, CFG)
    worst = verify(model_path, exp_path, W, trace, pixels)

    describe(trace)
    print("greedy ids:", [int(i) for i in trace["out.greedy_ids"]])
    print("argmax of out.logits per position:", [int(i) for i in trace["out.logits"][0].argmax(-1)])
    top2 = np.sort(trace["out.logits"][0], axis=-1)[:, -2:]
    print(f"smallest top1-top2 logit margin over the 40 positions: {np.min(top2[:, 1] - top2[:, 0]):.4f}")
    print(f"smallest top1-top2 margin over the greedy steps: {trace['greedy_margin']:.4f}")
    print(f"{model_path}: {os.path.getsize(model_path)} bytes")
    print(f"{exp_path}: {os.path.getsize(exp_path)} bytes")
    print(f"verified: GGUF -> un-permute -> forward matches in-memory reference (max abs diff {worst:.3g})")


if __name__ == "__main__":
    sys.exit(main())

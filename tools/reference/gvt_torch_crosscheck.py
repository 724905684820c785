#!/usr/bin/env python3
"""Optional second opinion on tests/fixtures/parity: the same GVT written as PyTorch
nn.Modules (nn.Conv2d, nn.LayerNorm, nn.GELU, nn.Embedding ...) whose parameter names are the
OFFICIAL checkpoint names; the weights from gvt-parity.gguf are loaded with
load_state_dict(strict=True), run in float64 and compared with gvt-parity-expected.gguf.

Only the GGUF reading / name mapping / q-k un-permutation is shared with gvt_reference.py;
the maths is independent. Any torch >= 1.13 works (e.g. Debian's python3-torch with the
gguf package on the path:  PYTHONPATH=<dir containing gguf/> /usr/bin/python3 this.py).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
from gvt_reference import EXPECTED_ORDER, cfg_from_gguf, from_gguf_tensors, read_tensors  # noqa: E402

torch.set_default_dtype(torch.float64)


def rotate_half_pairs(x):  # EVA-02: (x0, x1) -> (-x1, x0)
    x = x.view(*x.shape[:-1], x.shape[-1] // 2, 2)
    x1, x2 = x.unbind(-1)
    return torch.stack((-x2, x1), -1).flatten(-2)


class VisionRotaryEmbeddingFast(nn.Module):
    def __init__(self, dim, seq_len, theta):
        super().__init__()
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].double() / dim))
        f = torch.einsum("t,f->tf", torch.arange(seq_len).double(), freqs).repeat_interleave(2, -1)
        f = torch.cat([f[:, None, :].expand(seq_len, seq_len, dim), f[None, :, :].expand(seq_len, seq_len, dim)], -1)
        self.register_buffer("cos", f.cos().flatten(0, 1), persistent=False)
        self.register_buffer("sin", f.sin().flatten(0, 1), persistent=False)

    def forward(self, t):
        return t * self.cos + rotate_half_pairs(t) * self.sin


class EvaAttention(nn.Module):
    def __init__(self, dim, heads, eps, grid, theta):
        super().__init__()
        self.h = heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.inner_attn_ln = nn.LayerNorm(dim, eps=eps)
        self.proj = nn.Linear(dim, dim)
        self.rope = VisionRotaryEmbeddingFast(dim // heads // 2, grid, theta)
        self.record = {}

    def forward(self, x):
        B, N, C = x.shape
        q = F.linear(x, self.q_proj.weight, self.q_bias).reshape(B, N, self.h, -1).permute(0, 2, 1, 3)
        k = F.linear(x, self.k_proj.weight).reshape(B, N, self.h, -1).permute(0, 2, 1, 3)
        v = F.linear(x, self.v_proj.weight, self.v_bias).reshape(B, N, self.h, -1).permute(0, 2, 1, 3)
        q = torch.cat((q[:, :, :1], self.rope(q[:, :, 1:])), -2)
        k = torch.cat((k[:, :, :1], self.rope(k[:, :, 1:])), -2)
        self.record["q_rot"] = q
        attn = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, -1)
        return self.proj(self.inner_attn_ln(x))


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden, eps):
        super().__init__()
        self.w1, self.w2 = nn.Linear(dim, hidden), nn.Linear(dim, hidden)
        self.ffn_ln = nn.LayerNorm(hidden, eps=eps)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w3(self.ffn_ln(F.silu(self.w1(x)) * self.w2(x)))


class EvaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, grid = c["v_dim"], c["image_size"] // c["patch_size"]
        self.norm1 = nn.LayerNorm(D, eps=c["v_eps"])
        self.attn = EvaAttention(D, c["v_heads"], c["v_eps"], grid, c["v_rope_theta"])
        self.norm2 = nn.LayerNorm(D, eps=c["v_eps"])
        self.mlp = SwiGLU(D, c["v_ffn"], c["v_eps"])

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Conv2d(3, c["v_dim"], c["patch_size"], c["patch_size"])

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class EvaViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image_size"] // c["patch_size"]) ** 2
        self.patch_embed = PatchEmbed(c)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c["v_dim"]))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, c["v_dim"]))
        self.blocks = nn.ModuleList([EvaBlock(c) for _ in range(c["v_blocks"])])


class PerceiverAttention(nn.Module):
    def __init__(self, dim, heads, dim_head, eps):
        super().__init__()
        self.h, self.scale = heads, dim_head ** -0.5
        self.norm_media, self.norm_latents = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.to_q = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_kv = nn.Linear(dim, 2 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def forward(self, x, latents):
        x, latents = self.norm_media(x), self.norm_latents(latents)
        q = self.to_q(latents)
        k, v = self.to_kv(torch.cat((x, latents), dim=-2)).chunk(2, dim=-1)
        q, k, v = (t.unflatten(-1, (self.h, -1)).transpose(1, 2) for t in (q, k, v))
        sim = (q * self.scale) @ k.transpose(-2, -1)
        attn = (sim - sim.amax(-1, keepdim=True)).softmax(-1)
        return self.to_out((attn @ v).transpose(1, 2).flatten(2)), attn


class PerceiverResampler(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, eps = c["v_dim"], c["r_eps"]
        self.latents = nn.Parameter(torch.zeros(c["r_latents"], D))
        self.media_pos_emb = nn.Parameter(torch.zeros(1, 1, D))
        self.layers = nn.ModuleList([nn.ModuleList([
            PerceiverAttention(D, c["r_heads"], c["r_head_dim"], eps),
            nn.Sequential(nn.LayerNorm(D, eps=eps), nn.Linear(D, c["r_ffn"], bias=False), nn.GELU(),
                          nn.Linear(c["r_ffn"], D, bias=False)),
        ]) for _ in range(c["r_blocks"])])
        self.norm = nn.LayerNorm(D, eps=eps)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        E, self.hq, self.hkv = c["l_dim"], c["l_heads"], c["l_kv_heads"]
        self.hd, self.base = E // self.hq, c["l_rope_base"]
        self.q_proj = nn.Linear(E, self.hq * self.hd, bias=False)
        self.k_proj = nn.Linear(E, self.hkv * self.hd, bias=False)
        self.v_proj = nn.Linear(E, self.hkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.hq * self.hd, E, bias=False)

    def forward(self, x):
        B, N, _ = x.shape
        q = self.q_proj(x).view(B, N, self.hq, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, N, self.hkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, N, self.hkv, self.hd).transpose(1, 2)
        inv = 1.0 / self.base ** (torch.arange(0, self.hd, 2).double() / self.hd)
        emb = torch.outer(torch.arange(N).double(), inv).repeat(1, 2)
        cos, sin = emb.cos(), emb.sin()

        def rot(t):
            t1, t2 = t[..., : self.hd // 2], t[..., self.hd // 2:]
            return torch.cat((-t2, t1), -1)

        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k = k.repeat_interleave(self.hq // self.hkv, 1)
        v = v.repeat_interleave(self.hq // self.hkv, 1)
        s = q @ k.transpose(-2, -1) / math.sqrt(self.hd)
        s = s.masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1), float("-inf"))
        p = s.softmax(-1)
        self.probs = p
        return self.o_proj((p @ v).transpose(1, 2).reshape(B, N, -1))


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["l_dim"], c["l_ffn"], bias=False)
        self.up_proj = nn.Linear(c["l_dim"], c["l_ffn"], bias=False)
        self.down_proj = nn.Linear(c["l_ffn"], c["l_dim"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["l_dim"], c["l_eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = RMSNorm(c["l_dim"], c["l_eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["l_vocab"], c["l_dim"])
        self.layers = nn.ModuleList([LlamaLayer(c) for _ in range(c["l_blocks"])])
        self.norm = RMSNorm(c["l_dim"], c["l_eps"])


class GVT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.visual_encoder = EvaViT(c)
        self.ln_vision = nn.LayerNorm(c["v_dim"], eps=c["ln_vision_eps"])
        self.perceiver = PerceiverResampler(c)
        self.llm_proj = nn.Linear(c["v_dim"], c["l_dim"])
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["l_dim"], c["l_vocab"], bias=False)

    def llm(self, embeds, out):
        x = embeds
        for i, layer in enumerate(self.model.layers):
            x = layer(x)
            out[f"out.llm.layer{i}"], out[f"attn.llm.{i}"] = x, layer.self_attn.probs[0]
        return self.lm_head(self.model.norm(x))

    def forward(self, pixels, prefix, suffix, n_greedy):
        out = {}
        ve = self.visual_encoder
        x = ve.patch_embed(pixels)
        out["out.patch_embed"] = x
        x = torch.cat((ve.cls_token.expand(x.shape[0], -1, -1), x), 1) + ve.pos_embed
        for i, blk in enumerate(ve.blocks):
            x = blk(x)
            out[f"out.vision.block{i}"] = x
            out[f"out.vision.q_rot.block{i}"] = blk.attn.record["q_rot"]
        out["out.vision"] = x
        x = self.ln_vision(x)
        out["out.ln_vision"] = x
        pr = self.perceiver
        media = x + pr.media_pos_emb
        lat = pr.latents.expand(x.shape[0], -1, -1)
        for i, (attn, ff) in enumerate(pr.layers):
            a, p = attn(media, lat)
            lat = a + lat
            lat = ff(lat) + lat
            out[f"attn.resampler.{i}"], out[f"out.resampler.layer{i}"] = p[0], lat
        lat = pr.norm(lat)
        out["out.resampler"] = lat
        v = self.llm_proj(lat)
        out["out.proj"] = v
        emb = self.model.embed_tokens
        seq = torch.cat((emb(prefix)[None], v, emb(suffix)[None]), 1)
        out["out.llm.embeds"] = seq
        logits = self.llm(seq, out)
        out["out.logits"] = logits
        ids = []
        for _ in range(n_greedy):
            ids.append(int(logits[0, -1].argmax()))
            seq = torch.cat((seq, emb(torch.tensor(ids[-1:]))[None]), 1)
            logits = self.llm(seq, {})
        out["out.greedy_ids"] = torch.tensor(ids, dtype=torch.float64)
        return out


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "parity")
    r = gguf.GGUFReader(os.path.join(d, "gvt-parity.gguf"))
    cfg = cfg_from_gguf(r)
    W = from_gguf_tensors({k: v[0] for k, v in read_tensors(r).items()}, cfg)
    model = GVT(cfg)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in W.items()}, strict=True)
    E = {k: v[0] for k, v in read_tensors(gguf.GGUFReader(os.path.join(d, "gvt-parity-expected.gguf"))).items()}
    with torch.no_grad():
        out = model(torch.from_numpy(E["input.pixels"].astype(np.float64)),
                    torch.tensor(E["input.prefix_ids"].astype(np.int64)),
                    torch.tensor(E["input.suffix_ids"].astype(np.int64)), len(E["out.greedy_ids"]))
    bad = 0
    for k in EXPECTED_ORDER:
        if k not in out:
            continue
        exp = E[k].astype(np.float64)
        got = out[k].numpy().reshape(exp.shape)
        diff = float(np.max(np.abs(got - exp)))
        ok = diff <= 1e-6 * max(1.0, float(np.max(np.abs(exp))))
        bad += not ok
        print(f"  {'ok ' if ok else 'BAD'} {k:28s} max|torch - expected| = {diff:.3g}")
    print("torch cross-check:", "PASS" if bad == 0 else f"FAIL ({bad})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""PyTorch eager timings of a GVT GGUF on the CPU, for `gvt bench --compare` to print beside
its own: the same model (the cross-check's nn.Modules with the official parameter names, f32,
quantized tensors dequantized on load), the same image and prompt, the same runs.

Prints one JSON line: torch's version and threads, and per timed run the image encode
(ViT + ln_vision + resampler + projection), the prefill (every position, the KV cache
filled, the last logits) and one decode step with that cache, in milliseconds.

    PYTHONPATH=<dir with gguf/> /usr/bin/python3 tools/reference/gvt_torch_bench.py \
        assets/gvt-tiny.gguf --threads 2 --prompt-tokens 32 --tokens 32 --runs 20
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
from gguf.quants import dequantize  # noqa: E402
from gvt_reference import cfg_from_gguf, from_gguf_tensors  # noqa: E402
from gvt_torch_crosscheck import GVT  # noqa: E402


def load(path):
    r = gguf.GGUFReader(path)
    cfg = cfg_from_gguf(r)
    tensors = {t.name: dequantize(t.data, t.tensor_type) for t in r.tensors}
    tensors.setdefault("output.weight", tensors["token_embd.weight"])  # a tied output head
    weights = from_gguf_tensors(tensors, cfg)
    model = GVT(cfg)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()},
                          strict=True)
    return cfg, model.float().eval()


def encode(model, pixels):
    """The image's visual tokens, as GVT feeds them to the LLM."""
    ve, pr = model.visual_encoder, model.perceiver
    x = ve.patch_embed(pixels)
    x = torch.cat((ve.cls_token.expand(x.shape[0], -1, -1), x), 1) + ve.pos_embed
    for blk in ve.blocks:
        x = blk(x)
    media = model.ln_vision(x) + pr.media_pos_emb
    lat = pr.latents.expand(x.shape[0], -1, -1)
    for attn, ff in pr.layers:
        lat = attn(media, lat)[0] + lat
        lat = ff(lat) + lat
    return model.llm_proj(pr.norm(lat))


def llm_step(model, x, cache, start):
    """Positions `start..start + n` of the LLM over the cached keys and values (appended to);
    the last position's logits."""
    n = x.shape[1]
    for i, layer in enumerate(model.model.layers):
        a = layer.self_attn
        h = layer.input_layernorm(x)
        q = a.q_proj(h).view(1, n, a.hq, a.hd).transpose(1, 2)
        k = a.k_proj(h).view(1, n, a.hkv, a.hd).transpose(1, 2)
        v = a.v_proj(h).view(1, n, a.hkv, a.hd).transpose(1, 2)
        inv = 1.0 / a.base ** (torch.arange(0, a.hd, 2, dtype=torch.float32) / a.hd)
        emb = torch.outer(torch.arange(start, start + n, dtype=torch.float32), inv).repeat(1, 2)
        cos, sin = emb.cos(), emb.sin()

        def rot(t):
            return torch.cat((-t[..., a.hd // 2:], t[..., : a.hd // 2]), -1)

        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if i in cache:
            k, v = torch.cat((cache[i][0], k), 2), torch.cat((cache[i][1], v), 2)
        cache[i] = (k, v)
        k = k.repeat_interleave(a.hq // a.hkv, 1)
        v = v.repeat_interleave(a.hq // a.hkv, 1)
        s = q @ k.transpose(-2, -1) / a.hd ** 0.5
        if n > 1:
            s = s.masked_fill(torch.ones(n, start + n, dtype=torch.bool).triu(start + 1), float("-inf"))
        x = x + a.o_proj((s.softmax(-1) @ v).transpose(1, 2).reshape(1, n, -1))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    return model.lm_head(model.model.norm(x[:, -1:]))[0, -1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    cfg, model = load(args.model)
    size, vocab = cfg["image_size"], cfg["l_vocab"]
    # The image and prompt `gvt bench` uses (src/cli/bench.rs: image_pixels, prompt_ids).
    pixels = torch.tensor([((i * 37 % 101) / 101.0 - 0.5) * 2.0 for i in range(3 * size * size)],
                          dtype=torch.float32).view(1, 3, size, size)
    ids = torch.tensor([(i * 7919 + 13) % vocab for i in range(args.prompt_tokens)])
    emb = model.model.embed_tokens
    runs = []
    with torch.no_grad():
        for _ in range(args.runs + 1):
            t0 = time.perf_counter()
            visual = encode(model, pixels)
            t1 = time.perf_counter()
            seq = torch.cat((emb(ids[:1])[None], visual, emb(ids[1:])[None]), 1)
            cache = {}
            logits = llm_step(model, seq, cache, 0)
            t2 = time.perf_counter()
            pos = seq.shape[1]
            for _ in range(1, args.tokens):
                nxt = int(logits.argmax())
                logits = llm_step(model, emb(torch.tensor([nxt]))[None], cache, pos)
                pos += 1
            t3 = time.perf_counter()
            runs.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3 / max(args.tokens - 1, 1)))
    warm = runs[1:]
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "positions": int(seq.shape[1]),
        "image_ms": [r[0] for r in warm],
        "prefill_ms": [r[1] for r in warm],
        "decode_ms_per_token": [r[2] for r in warm],
    }))


if __name__ == "__main__":
    main()

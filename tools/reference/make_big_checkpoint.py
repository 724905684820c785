#!/usr/bin/env python3
"""Writes a tensor-heavy GVT checkpoint and LLaMA folder with GVT-7B's real shapes, for
measuring `gvt convert`'s peak memory (`tools/convert-memory.sh`): the official vision half
(EVA-02-L/14 at 224 px, 6-layer perceiver, projection to 4096) in f32 under a Lightning
`state_dict`, and a Vicuna-7B-shaped LLaMA (32,000 x 4,096 embedding and head, 4 of its 32
layers) as f16 safetensors in two shards. Random values; about 3.6 GB in all.

    /usr/bin/python3 tools/reference/make_big_checkpoint.py OUT_DIR
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gvt_torch_crosscheck import GVT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "tests", "fixtures", "convert")


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "llama"), exist_ok=True)
    torch.manual_seed(0)
    # GVT-7B's vision half; the LLM part of the module is built tiny and not saved.
    cfg = dict(image_size=224, patch_size=14, v_dim=1024, v_heads=16, v_blocks=24, v_ffn=2730,
               v_eps=1e-6, v_rope_theta=10000.0, ln_vision_eps=1e-5, r_blocks=6, r_heads=16,
               r_head_dim=96, r_latents=32, r_ffn=4096, r_eps=1e-5, l_dim=4096, l_blocks=0,
               l_heads=32, l_kv_heads=32, l_ffn=32, l_eps=1e-6, l_rope_base=10000.0, l_vocab=32,
               l_ctx=2048, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    with torch.no_grad():
        model = GVT(cfg)
        state = {}
        for k, v in model.state_dict().items():
            if k.startswith(("visual_encoder.", "ln_vision.", "perceiver.", "llm_proj.")):
                state["model." + k] = torch.randn(v.shape, dtype=torch.float32) * 0.02
    torch.save({"epoch": 1, "state_dict": state}, os.path.join(out, "gvt-7b-vision.ckpt"))

    e, f, v, layers = 4096, 11008, 32000, 4
    tensors = {"model.embed_tokens.weight": (v, e), "model.norm.weight": (e,),
               "lm_head.weight": (v, e)}
    for n in range(layers):
        p = f"model.layers.{n}."
        tensors.update({p + "input_layernorm.weight": (e,), p + "post_attention_layernorm.weight": (e,),
                        p + "self_attn.q_proj.weight": (e, e), p + "self_attn.k_proj.weight": (e, e),
                        p + "self_attn.v_proj.weight": (e, e), p + "self_attn.o_proj.weight": (e, e),
                        p + "mlp.gate_proj.weight": (f, e), p + "mlp.up_proj.weight": (f, e),
                        p + "mlp.down_proj.weight": (e, f)})
    from safetensors.torch import save_file
    names = sorted(tensors)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, shard in enumerate(shards):
        file = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({k: (torch.randn(tensors[k], dtype=torch.float32) * 0.02).half() for k in shard},
                  os.path.join(out, "llama", file))
        weight_map.update({k: file for k in shard})
    with open(os.path.join(out, "llama", "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {}, "weight_map": weight_map}, fh)
    with open(os.path.join(out, "llama", "config.json"), "w") as fh:
        json.dump({"model_type": "llama", "hidden_size": e, "intermediate_size": f,
                   "num_hidden_layers": layers, "num_attention_heads": 32, "num_key_value_heads": 32,
                   "vocab_size": v, "rms_norm_eps": 1e-6, "max_position_embeddings": 2048}, fh)
    for name in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(FIXTURE, "llama", name), os.path.join(out, "llama", name))
    print("wrote", out)


if __name__ == "__main__":
    main()

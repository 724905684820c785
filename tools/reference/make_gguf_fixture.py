#!/usr/bin/env python3
"""Write the GGUF cross-check fixture with llama.cpp's own gguf-py.

Outputs (paths relative to the repository root):
  tests/fixtures/gguf/reference.gguf  small file (< 64 KB) written by gguf.GGUFWriter:
      metadata of every GGUF value type, and tensors in F32, F16, BF16, Q8_0, Q4_0, Q4_1,
      Q5_0, Q5_1 (quantized by gguf.quants.quantize from the F32 tensor `src.f32`), in
      Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (random blocks with sane f16 scales, hand-packed since
      gguf-py cannot quantize K-quants), and in I8, I32, F64.
  tests/fixtures/gguf/reference.json  what the Rust reader must find: every metadata
      value, and every tensor's values as dequantized by gguf.quants.dequantize. When the
      SmolLM2 GGUF is present it also holds sample ranges of three of its dequantized
      tensors (Q8_0, Q4_1, F32) and a few of its metadata values.

Floats are stored as the shortest decimal that round-trips the f32 value, so parsing
them as f32 gives the exact value gguf-py computed.

Usage: pip install gguf numpy; python3 tools/reference/make_gguf_fixture.py
       (SMOLLM2_GGUF=path overrides the SmolLM2 location)
"""

import importlib.metadata
import json
import os
import pathlib
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFValueType as VT
from gguf import quants

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "tests" / "fixtures" / "gguf"
SMOLLM2 = pathlib.Path(
    os.environ.get(
        "SMOLLM2_GGUF",
        os.path.expanduser("~/.cache/gvt-lens/weights/SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
)
ALIGNMENT = 64  # not the default 32, so a reader that ignores general.alignment fails


def f32(x):
    """Shortest decimal that round-trips the f32 value, as a Python float."""
    return float(str(np.float32(x)))


def f32_list(arr):
    return [f32(x) for x in np.asarray(arr, dtype=np.float32).ravel()]


# (key, value type, value, array element type or None)
METADATA = [
    ("test.u8", VT.UINT8, 200, None),
    ("test.i8", VT.INT8, -100, None),
    ("test.u16", VT.UINT16, 60000, None),
    ("test.i16", VT.INT16, -30000, None),
    ("test.u32", VT.UINT32, 4_000_000_000, None),
    ("test.i32", VT.INT32, -2_000_000_000, None),
    ("test.f32", VT.FLOAT32, 3.14159, None),
    ("test.bool_true", VT.BOOL, True, None),
    ("test.bool_false", VT.BOOL, False, None),
    ("test.string", VT.STRING, "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \U0001f980", None),
    ("test.empty_string", VT.STRING, "", None),
    ("test.u64", VT.UINT64, 2**63 + 5, None),
    ("test.i64", VT.INT64, -(2**62) - 7, None),
    ("test.f64", VT.FLOAT64, 2.718281828459045, None),
    ("test.arr_str", VT.ARRAY, ["alpha", "", "\u00fc", "\u65e5\u672c", "a b"], VT.STRING),
    ("test.arr_i32", VT.ARRAY, [0, 1, -1, 2**31 - 1, -(2**31)], VT.INT32),
    ("test.arr_u8", VT.ARRAY, [0, 1, 255], VT.UINT8),
    ("test.arr_f32", VT.ARRAY, [0.5, -1.25, 1e-6, 3.4e38], VT.FLOAT32),
    ("test.arr_bool", VT.ARRAY, [True, False, True], VT.BOOL),
    ("test.arr_u64", VT.ARRAY, [0, 2**64 - 1], VT.UINT64),
    ("test.arr_f64", VT.ARRAY, [0.1, -1e300], VT.FLOAT64),
    ("test.arr_long", VT.ARRAY, list(range(100)), VT.INT32),
    ("test.arr_nested", VT.ARRAY, [[1, 2, 3], [4], [-5, 6]], None),  # inner type inferred: i32
]

TYPE_NAMES = {
    VT.UINT8: "u8", VT.INT8: "i8", VT.UINT16: "u16", VT.INT16: "i16", VT.UINT32: "u32",
    VT.INT32: "i32", VT.FLOAT32: "f32", VT.BOOL: "bool", VT.STRING: "string",
    VT.ARRAY: "array", VT.UINT64: "u64", VT.INT64: "i64", VT.FLOAT64: "f64",
}


def json_value(vtype, value):
    if vtype == VT.FLOAT32:
        return f32(value)
    return value


def metadata_json():
    out = [
        {"key": "general.architecture", "type": "string", "value": "gvt-lens-test"},
        {"key": "general.alignment", "type": "u32", "value": ALIGNMENT},
    ]
    for key, vtype, value, sub in METADATA:
        entry = {"key": key, "type": TYPE_NAMES[vtype]}
        if vtype == VT.ARRAY:
            if sub is None:  # nested: array of arrays of i32
                entry["elem_type"] = "array"
                entry["inner_elem_type"] = "i32"
                entry["value"] = value
            else:
                entry["elem_type"] = TYPE_NAMES[sub]
                entry["value"] = [json_value(sub, v) for v in value]
        else:
            entry["value"] = json_value(vtype, value)
        out.append(entry)
    return out


def random_k_blocks(rng, qtype, n_blocks, f16_offsets):
    """Random K-quant blocks whose f16 scale fields hold small positive values."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in f16_offsets:
        scales = rng.uniform(0.001, 0.05, size=n_blocks).astype(np.float16)
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw


def build_tensors(rng):
    """[(name, qtype, array to hand to GGUFWriter, dequantized f32, source name)]"""
    src = (rng.standard_normal((4, 64)) * 0.05).astype(np.float32)
    src[0, 3] = 0.9          # outlier: large block scale
    src[1, 40] = -1.1        # negative outlier: Q4_0/Q5_0 scale sign
    src[2, :32] = 0.0        # all-zero block: d = 0 path
    src[3, 32:] = 0.25       # constant block: Q4_1/Q5_1 max == min
    tensors = [("src.f32", QT.F32, src, src, None)]

    f16 = src.astype(np.float16)
    tensors.append(("t.f16", QT.F16, f16, f16.astype(np.float32), "src.f32"))
    for qtype in (QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1):
        packed = quants.quantize(src, qtype)
        tensors.append((f"t.{qtype.name.lower()}", qtype, packed,
                        quants.dequantize(packed, qtype), "src.f32"))

    # K-quants: gguf-py only dequantizes them, so pack random blocks (2 rows x 256).
    k_layouts = {
        QT.Q2_K: [80, 82],    # d, dmin at the end
        QT.Q3_K: [108],       # d at the end
        QT.Q4_K: [0, 2],      # d, dmin first
        QT.Q5_K: [0, 2],
        QT.Q6_K: [208],       # d at the end
    }
    for qtype, offsets in k_layouts.items():
        packed = random_k_blocks(rng, qtype, 2, offsets)
        tensors.append((f"t.{qtype.name.lower()}", qtype, packed,
                        quants.dequantize(packed, qtype), None))

    t3 = (np.arange(2 * 3 * 32, dtype=np.float32).reshape(2, 3, 32) - 50) / 8
    tensors.append(("t.3d", QT.F32, t3, t3, None))
    t1 = np.array([1.5, -2, 0, 1e-8, 65504, -0.0, 7], dtype=np.float32)
    tensors.append(("t.1d", QT.F32, t1, t1, None))
    i8 = np.array([-128, -1, 0, 1, 127], dtype=np.int8)
    tensors.append(("t.i8", QT.I8, i8, i8.astype(np.float32), None))
    i32 = np.array([[-7, 0], [1 << 20, -(1 << 24)], [3, 2_000_000]], dtype=np.int32)
    tensors.append(("t.i32", QT.I32, i32, i32.astype(np.float32), None))
    f64 = np.array([0.1, -2.5, 1e10], dtype=np.float64)
    tensors.append(("t.f64", QT.F64, f64, f64.astype(np.float32), None))
    return tensors


def write_reference(path):
    rng = np.random.default_rng(20240601)
    w = gguf.GGUFWriter(str(path), "gvt-lens-test")
    w.add_custom_alignment(ALIGNMENT)
    for key, vtype, value, sub in METADATA:
        # add_key_value directly: add_string and add_array skip empty values.
        w.add_key_value(key, value, vtype, sub_type=sub)

    tensors = build_tensors(rng)
    for name, qtype, data, _, _ in tensors:
        if qtype in (QT.F32, QT.F16, QT.I8, QT.I32, QT.F64):
            w.add_tensor(name, data)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    tensor_json = []
    for name, qtype, data, values, source in tensors:
        shape = list(values.shape)
        tensor_json.append({
            "name": name,
            "type": qtype.name,
            "shape": shape,
            "source": source,
            "values": f32_list(values),
        })

    # Self-check with gguf-py's reader.
    r = gguf.GGUFReader(str(path))
    assert r.alignment == ALIGNMENT
    by_name = {t.name: t for t in r.tensors}
    for entry in tensor_json:
        t = by_name[entry["name"]]
        assert t.tensor_type.name == entry["type"], entry["name"]
        if t.tensor_type in (QT.I8, QT.I32, QT.F64):
            got = np.asarray(t.data).astype(np.float32).ravel()
        else:
            got = quants.dequantize(t.data, t.tensor_type).ravel()
        np.testing.assert_array_equal(got, np.asarray(entry["values"], dtype=np.float32))
    return metadata_json(), tensor_json


def smollm2_samples(path):
    """Sample ranges of dequantized SmolLM2 tensors, or None when the file is absent."""
    if not path.exists():
        print(f"note: {path} not found; reference.json gets no SmolLM2 samples")
        return None
    r = gguf.GGUFReader(str(path))
    by_name = {t.name: t for t in r.tensors}
    samples = []
    for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight",
                 "output_norm.weight"):
        t = by_name[name]
        values = quants.dequantize(t.data, t.tensor_type).astype(np.float32).ravel()
        n = values.size
        ranges = []
        for start in (0, (n // 2) // 32 * 32, n - 96):
            ranges.append({"start": int(start), "values": f32_list(values[start:start + 96])})
        samples.append({
            "name": name,
            "type": t.tensor_type.name,
            "shape": [int(d) for d in reversed(t.shape)],  # row-major
            "n_elements": int(n),
            "ranges": ranges,
        })

    def field(key):
        return r.fields[key].contents()

    tokens = field("tokenizer.ggml.tokens")
    return {
        "file_name": path.name,
        "file_size": path.stat().st_size,
        "n_tensors": len(r.tensors),
        "n_metadata": len(r.fields) - 3,  # GGUFReader adds GGUF.version/tensor_count/kv_count
        "metadata": {
            "general.architecture": field("general.architecture"),
            "llama.block_count": int(field("llama.block_count")),
            "llama.embedding_length": int(field("llama.embedding_length")),
            "llama.rope.freq_base": f32(field("llama.rope.freq_base")),
            "tokenizer.ggml.model": field("tokenizer.ggml.model"),
        },
        "token_count": len(tokens),
        "tokens_head": tokens[:5],
        "tensors": samples,
    }


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    gguf_path = OUT_DIR / "reference.gguf"
    metadata, tensors = write_reference(gguf_path)
    size = gguf_path.stat().st_size
    assert size < 64 * 1024, f"reference.gguf is {size} bytes, keep it under 64 KB"
    doc = {
        "generator": f"gguf-py {importlib.metadata.version('gguf')}, numpy {np.__version__}",
        "file": "reference.gguf",
        "version": 3,
        "alignment": ALIGNMENT,
        "metadata": metadata,
        "tensors": tensors,
        "smollm2": smollm2_samples(SMOLLM2),
    }
    json_path = OUT_DIR / "reference.json"
    json_path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                         encoding="utf-8")
    print(f"wrote {gguf_path} ({size} bytes) and {json_path} "
          f"({json_path.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())

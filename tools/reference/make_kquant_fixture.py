#!/usr/bin/env python3
"""Write the Q4_K / Q6_K quantization fixture with ggml's own reference quantizers.

gguf-py cannot quantize K-quants (its Q4_K / Q6_K classes only dequantize; checked below
and reported), so the expected bytes come straight from llama.cpp's C code: this script
loads a built libggml-base.so with ctypes and calls `quantize_row_q4_K_ref` and
`quantize_row_q6_K_ref` on each row.

Outputs (paths relative to the repository root), all raw little-endian, no header:
  tests/fixtures/gguf/kquants/input.f32  ROWS x ROW_LEN f32 values (row-major)
  tests/fixtures/gguf/kquants/q4_k.bin   each row quantized on its own, rows concatenated
                                         (ROW_LEN / 256 blocks of 144 bytes per row)
  tests/fixtures/gguf/kquants/q6_k.bin   the same for Q6_K (blocks of 210 bytes)

The rows exercise the paths of the algorithms: normal values, small weights with outliers,
all zeros (max == min / GROUP_MAX_EPS), two constant blocks, values so small that the f16
super-block scales underflow to 0 and so small that they are f16 subnormals, negative-only,
positive-only (the fitted minimum clipped to 0), large values, and per-16-value groups of
wildly different magnitude (sub-block scales that round to 0, one group of zeros).

Checks done on the way: ggml's dequantize_row_q4_K / _q6_K and gguf-py's dequantize agree
bit for bit on the bytes written, and if gguf-py ever learns to quantize these types its
bytes must equal ggml's.

Usage:
  PYTHONPATH=~/.cache/gvt-lens/pylib /usr/bin/python3 tools/reference/make_kquant_fixture.py \
      [path/to/libggml-base.so]
  (or set GGML_BASE_LIB; default: the llama-cpp-python build under ~/.cache/llamacpp)
Needs numpy and gguf. Deterministic: rerunning rewrites identical files.
"""

import ctypes
import glob
import os
import pathlib
import sys

import numpy as np

from gguf import GGMLQuantizationType as QT
from gguf import quants

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "tests" / "fixtures" / "gguf" / "kquants"
ROW_LEN = 512  # two 256-value super-blocks per row
QK_K = 256
TYPES = {  # name: (gguf-py type, bytes per block)
    "q4_K": (QT.Q4_K, 144),
    "q6_K": (QT.Q6_K, 210),
}


def find_lib():
    if len(sys.argv) > 1:
        return sys.argv[1]
    if os.environ.get("GGML_BASE_LIB"):
        return os.environ["GGML_BASE_LIB"]
    hits = sorted(glob.glob(os.path.expanduser(
        "~/.cache/llamacpp/*/vendor/llama.cpp/build/bin/libggml-base.so")))
    if not hits:
        sys.exit("libggml-base.so not found: pass its path or set GGML_BASE_LIB")
    return hits[-1]


def load_ggml(path):
    lib = ctypes.CDLL(path)
    for name in TYPES:
        for fn in (f"quantize_row_{name}_ref", f"dequantize_row_{name}"):
            f = getattr(lib, fn)
            f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
            f.restype = None
    return lib


def make_rows():
    rng = np.random.default_rng(20250607)
    normal = lambda scale=1.0: rng.standard_normal(ROW_LEN) * scale  # noqa: E731
    rows = []
    rows.append(normal())                                   # 0 plain normal
    r = normal(0.02)                                        # 1 weight-like, with outliers
    r[37], r[300], r[301] = 3.0, -1.5, 0.9
    rows.append(r)
    rows.append(np.zeros(ROW_LEN))                          # 2 all zeros
    rows.append(np.where(np.arange(ROW_LEN) < QK_K, 0.7, -0.3))  # 3 constant blocks
    rows.append(normal(1e-8))                               # 4 f16 scales underflow to 0
    rows.append(normal(1e-3))                               # 5 f16 subnormal scales
    rows.append(-(np.abs(normal()) + 0.05))                 # 6 negative only
    rows.append(rng.uniform(0.5, 2.0, ROW_LEN))             # 7 positive only
    rows.append(normal(300.0))                              # 8 large values
    groups = 10.0 ** rng.uniform(-6, 2, ROW_LEN // 16)      # 9 mixed magnitudes per group
    r = normal() * np.repeat(groups, 16)
    r[16:32] = 0.0
    rows.append(r)
    return np.stack(rows).astype(np.float32)


def quantize_rows(lib, name, rows):
    _, type_size = TYPES[name]
    fn = getattr(lib, f"quantize_row_{name}_ref")
    out = []
    for row in rows:
        row = np.ascontiguousarray(row, dtype=np.float32)
        buf = np.zeros(ROW_LEN // QK_K * type_size, dtype=np.uint8)
        fn(row.ctypes.data, buf.ctypes.data, ROW_LEN)
        out.append(buf)
    return np.stack(out)


def check(lib, name, packed):
    qtype, type_size = TYPES[name]
    fn = getattr(lib, f"dequantize_row_{name}")
    ours = np.zeros((len(packed), ROW_LEN), dtype=np.float32)
    for i, row in enumerate(packed):
        row = np.ascontiguousarray(row)
        fn(row.ctypes.data, ours[i].ctypes.data, ROW_LEN)
    theirs = quants.dequantize(packed, qtype)
    if not np.array_equal(ours.view(np.uint32), theirs.astype(np.float32).view(np.uint32)):
        sys.exit(f"{name}: ggml and gguf-py dequantize the reference bytes differently")
    try:
        py = quants.quantize(make_rows(), qtype)
    except NotImplementedError:
        print(f"{name}: gguf-py cannot quantize it (NotImplementedError), ggml only")
    else:
        if not np.array_equal(py, packed):
            sys.exit(f"{name}: gguf-py's quantize disagrees with ggml's quantize_row_{name}_ref")
        print(f"{name}: gguf-py's quantize matches ggml")
    return ours


def main():
    path = find_lib()
    lib = load_ggml(path)
    rows = make_rows()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rows.astype("<f4").tofile(OUT_DIR / "input.f32")
    for name in TYPES:
        packed = quantize_rows(lib, name, rows)
        deq = check(lib, name, packed)
        packed.tofile(OUT_DIR / f"{name.lower()}.bin")
        err = np.sqrt(np.mean((deq.astype(np.float64) - rows) ** 2, axis=1))
        rms = np.sqrt(np.mean(rows.astype(np.float64) ** 2, axis=1))
        rel = np.divide(err, rms, out=np.zeros_like(err), where=rms > 0)
        print(f"{name}: {packed.nbytes} bytes; relative RMS error per row "
              + " ".join(f"{e:.3g}" for e in rel))
    print(f"wrote {OUT_DIR.relative_to(ROOT)} from {path}")


if __name__ == "__main__":
    main()

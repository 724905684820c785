#!/usr/bin/env bash
# Peak memory of `gvt convert` on a tensor-heavy input with GVT-7B's shapes (3.6 GB:
# tools/reference/make_big_checkpoint.py, cached under ~/.cache/gvt-lens/big-checkpoint),
# against the largest input tensor the plan reports. Needs torch and safetensors for Python
# (see tools/reference/README.md) and a release build.
#   tools/convert-memory.sh [q4_k|f16|...]
set -euo pipefail
cd "$(dirname "$0")/.."
type=${1:-q4_k}
big=~/.cache/gvt-lens/big-checkpoint
gvt=${GVT:-${CARGO_TARGET_DIR:-target}/release/gvt}
if [ ! -f "$big/llama/config.json" ]; then
    PYTHONPATH=~/.cache/gvt-lens/pylib /usr/bin/python3 tools/reference/make_big_checkpoint.py "$big"
fi
out=$(mktemp -d)/gvt-big.gguf
args=(--checkpoint "$big/gvt-7b-vision.ckpt" --llm "$big/llama" --type "$type")
"$gvt" convert "${args[@]}" --dry-run | tail -1
/usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user" "$gvt" convert "${args[@]}" --out "$out" 2>&1 | tail -2
ls -l "$out" | awk '{printf "output %.2f GB\n", $5 / 1e9}'
rm -f "$out"

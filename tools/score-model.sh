#!/usr/bin/env bash
# Scores a candidate default model the way issue 23's bar is set, and prints each figure
# beside its target:
#   - 2,000 test scenes (`gvt eval synthetic`): OC, MCI, colour, position, the paraphrase
#     split, and accuracy per true count 0-9 on the balanced counting set;
#   - the same scenes in varied drawing styles (`--varied`);
#   - the second renderer's set, tests/fixtures/pil-scenes (`gvt eval gvtbench`), never
#     trained on.
# Every report, and every answer, is kept in OUT_DIR.
#
# Usage: tools/score-model.sh MODEL.gguf OUT_DIR [N] [DEVICE]   (N defaults to 2000,
# DEVICE to cpu; set GVT to the binary to use, default target/release/gvt or target/debug/gvt)
set -euo pipefail

model=${1:?usage: tools/score-model.sh MODEL.gguf OUT_DIR [N] [DEVICE]}
out=${2:?usage: tools/score-model.sh MODEL.gguf OUT_DIR [N] [DEVICE]}
n=${3:-2000}
device=${4:-cpu}
root=$(cd "$(dirname "$0")/.." && pwd)
gvt=${GVT:-}
if [[ -z $gvt ]]; then
    for candidate in "$root/target/release/gvt" "$root/target/debug/gvt"; do
        if [[ -x $candidate ]]; then gvt=$candidate; break; fi
    done
fi
[[ -n $gvt ]] || { echo "no gvt binary: build one (cargo build --release) or set GVT" >&2; exit 1; }
mkdir -p "$out"
pil="$root/tests/fixtures/pil-scenes"

run() { # NAME ARGS...: the report as JSON in OUT_DIR/NAME.json, timed
    local name=$1
    shift
    local start=$SECONDS
    "$gvt" "$@" --model "$model" --device "$device" --json >"$out/$name.json"
    echo "$name: $((SECONDS - start)) s" >&2
}
run synthetic eval synthetic --n "$n" --samples "$out/synthetic.jsonl"
run varied eval synthetic --n "$n" --varied --samples "$out/varied.jsonl"
run pil-oc eval gvtbench --images "$pil" --data "$pil/oc.json" --out "$out/pil-oc.answers.jsonl"
run pil-mci eval gvtbench --images "$pil" --data "$pil/mci.json" --out "$out/pil-mci.answers.jsonl"

python3 - "$out" <<'EOF'
import json, sys, pathlib

out = pathlib.Path(sys.argv[1])
failed = []

def tasks(name):
    report = json.loads((out / f"{name}.json").read_text())
    return {t["name"]: t for t in report["tasks"]}, report["title"]

def line(label, value, target=None, ok=None):
    mark = ""
    if target is not None:
        mark = f"  (target {target}) " + ("ok" if ok else "MISSED")
        if not ok:
            failed.append(label.strip())
    print(f"  {label:<34} {value:>7.2f}{mark}")

def pct(task):
    return 100.0 * (task["accuracy"] or 0.0)

for name in ["synthetic", "varied"]:
    t, title = tasks(name)
    print(title)
    strict = name == "synthetic"
    goals = {"OC": 95, "MCI": 98, "color": 98, "position": 85}
    for key, goal in goals.items():
        value = pct(t[key])
        line(key, value, f">= {goal}" if strict else None, value >= goal)
    for key, template in [("OC, paraphrased", "OC"), ("MCI, paraphrased", "MCI")]:
        value, base = pct(t[key]), pct(t[template])
        line(key, value, "within 3 of the template" if strict else None, value >= base - 3)
    counts = t["OC, counts 0-9"]
    line("OC, counts 0-9", pct(counts))
    for row in counts["counts"]:
        value = 100.0 * (row["accuracy"] or 0.0)
        line(f"  count {row['label']} (n={row['n']})", value, ">= 85" if strict else None, value >= 85)

for name, key, goal in [("pil-oc", "OC", 85), ("pil-mci", "MCI", 95)]:
    t, title = tasks(name)
    task = next(iter(t.values()))
    print(title)
    line(key, pct(task), f">= {goal}", pct(task) >= goal)
    for row in task.get("counts", []):
        line(f"  count {row['label']} (n={row['n']})", 100.0 * (row["accuracy"] or 0.0))

print("missed: " + (", ".join(failed) if failed else "none"))
EOF

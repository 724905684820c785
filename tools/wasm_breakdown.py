#!/usr/bin/env python3
"""Where the browser build's bytes go, per crate: reads `twiggy top --format csv` of the
`gvt.wasm` cargo writes (before wasm-bindgen and wasm-opt, so it still has function names)
and sums each function's bytes under the crate its name starts with.

Usage: tools/web.sh size   (builds dist/ first if needed, installs twiggy, runs this)
       python3 tools/wasm_breakdown.py TOP.csv [ROWS]
"""
import collections
import csv
import re
import sys


def crate_of(name: str) -> str:
    if name.startswith('"function names"'):
        return "(name section: stripped from dist/)"
    if name.startswith("data segment"):
        return "(data: " + name.split('"')[1] + ")"
    if name.startswith(("custom section", "elem[", "type[", "import", "export", "table")):
        return "(other sections)"
    # `<impl Trait for Type>::f` and `<&T as Trait>::f`: the first path names the crate.
    bare = re.sub(r"^[<&*]+|dyn |mut ", "", name)
    found = re.match(r"[A-Za-z_][A-Za-z0-9_]*", bare)
    return found.group(0) if found else "(unnamed)"


def main() -> None:
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    sizes = collections.Counter()
    for row in csv.DictReader(open(sys.argv[1])):
        sizes[crate_of(row["Name"])] += int(row["ShallowSize"])
    total = sum(sizes.values())
    print(f"{total / 1e6:.2f} MB in all (before wasm-bindgen and wasm-opt)")
    for crate, size in sizes.most_common(rows):
        print(f"{size / 1e6:8.3f} MB {100 * size / total:5.1f}%  {crate}")


if __name__ == "__main__":
    main()

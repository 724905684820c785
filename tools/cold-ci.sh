#!/usr/bin/env bash
# Measures `.ci/run` as a new machine would run it: a fresh clone of HEAD and an empty HOME
# (no cargo registry, target dir, web tools, pip or npm cache, or weights); only the
# machine's rustup toolchain is linked in. System packages (lavapipe, chromium) are what the
# machine has. Prints each step's start time, then the total CPU time and peak RSS.
#
#   tools/cold-ci.sh [DIR]   work in DIR (default: a new temporary directory; it is left
#                            behind for inspection: remove it afterwards, it holds ~9 GB)
#
# Run it with nothing else building: on 2 cores a concurrent build distorts every figure.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$(mktemp -d /tmp/gvt-cold-ci.XXXXXX)}"
home="$dir/home"
mkdir -p "$home/.cargo/bin"

rustup_bin="$(command -v rustup)"
for tool in cargo cargo-clippy cargo-fmt clippy-driver rustc rustdoc rustfmt rustup; do
  ln -sf "$rustup_bin" "$home/.cargo/bin/$tool"
done
# Machine configuration, not caches.
for f in .npmrc .gitconfig; do
  [ -f "$HOME/$f" ] && cp "$HOME/$f" "$home/"
done
git clone -q "$repo" "$dir/clone"

echo "cold CI in $dir (clone of $(git -C "$repo" rev-parse --short HEAD))"
cd "$dir/clone"
env -i \
  HOME="$home" \
  RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
  PYENV_ROOT="${PYENV_ROOT:-$HOME/.pyenv}" \
  PATH="$home/.cargo/bin:${PYENV_ROOT:-$HOME/.pyenv}/shims:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  TERM=dumb \
  /usr/bin/time -v bash .ci/run 2>&1 | tee "$dir/cold-ci.log" |
  grep -E '^== |User time|System time|Elapsed|Maximum resident|^(ok|FAIL) '

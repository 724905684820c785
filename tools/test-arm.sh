#!/usr/bin/env bash
# The CPU engine's kernels on aarch64 (its NEON path) under qemu-user: cross-compiles
# gvt-cpu's tests and runs them, every kernel against the f64 reference and the portable
# path. Installs the cross linker, qemu-user and the Rust target when missing (apt-get: run
# as root). Takes about a minute once they are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
missing=()
for pkg in gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
rustup target list --installed | grep -q "^$target\$" || rustup target add "$target"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --locked -p gvt-cpu --target "$target" -- --test-threads=2

#!/usr/bin/env bash
# The browser build: set up its tools, build dist/, serve it, and run the end-to-end test.
#
#   tools/web.sh setup   install what is missing: the wasm32 target, trunk 0.21.14,
#                        wasm-bindgen-cli (exactly Cargo.lock's version), and from npm
#                        binaryen's wasm-opt and playwright-core (into ~/.cache/gvt-lens/web-tools)
#   tools/web.sh build   trunk build --release (cargo profile wasm-release) into dist/, then
#                        print the sizes
#   tools/web.sh serve   trunk serve on http://127.0.0.1:8080
#   tools/web.sh size    build, then the .wasm's bytes per crate (installs twiggy)
#   tools/web.sh test    build, then drive dist/ in headless Chromium twice (WebGPU on
#                        SwiftShader; no WebGPU, so the CPU fallback); installs Debian's chromium
#                        when missing (apt-get: run as root). Screenshots and timings go to
#                        $CARGO_TARGET_DIR/web-e2e/ (default ~/.cache/gvt-lens/target/web-e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gvt-lens/target}"
tools="${GVT_WEB_TOOLS:-$HOME/.cache/gvt-lens/web-tools}"
export PATH="$HOME/.cargo/bin:$tools/node_modules/.bin:$PATH"

trunk_version=0.21.14
bindgen_version="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
playwright_version=1.65.1
binaryen_version=132.0.0

# Builds a tool with `cargo install`, tuned for build time rather than speed: no LTO, many
# codegen units, no optimisation, and one target dir that the tools share, so a new machine
# pays for their common dependencies once. They run for seconds per build: unoptimised,
# wasm-bindgen takes 11 s on the 16 MB .wasm (3 s at opt-level 1), and building trunk and
# wasm-bindgen-cli takes 490 CPU-seconds instead of 1,120. Both are built without their
# default features (TLS for downloads, trunk's update check): this script installs every tool
# that trunk would download.
install_tool() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=true CARGO_TARGET_DIR="$tools/cargo-target" \
    cargo install "$@"
}

setup() {
  # Trunk runs the wasm-bindgen named in Trunk.toml; it must be Cargo.lock's.
  if ! grep -q "^wasm_bindgen = \"$bindgen_version\"" Trunk.toml; then
    echo "Trunk.toml's [tools] wasm_bindgen must be \"$bindgen_version\" (Cargo.lock's wasm-bindgen)" >&2
    exit 1
  fi
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' ||
    rustup target add wasm32-unknown-unknown
  # Trunk 0.22 needs a newer rustc than this project's 1.95.
  if ! trunk --version 2>/dev/null | grep -q " $trunk_version\$"; then
    install_tool trunk --version "$trunk_version" --locked --no-default-features
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $bindgen_version\$"; then
    install_tool wasm-bindgen-cli --version "$bindgen_version" --no-default-features
  fi
  # Debian's binaryen (wasm-opt 108) writes modules Chromium rejects; npm's 132 works.
  if ! [ -x "$tools/node_modules/.bin/wasm-opt" ] || ! [ -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    [ -f "$tools/package.json" ] || echo '{"name": "gvt-lens-web-tools", "private": true}' >"$tools/package.json"
    (cd "$tools" && npm install --no-audit --no-fund "binaryen@$binaryen_version" "playwright-core@$playwright_version")
  fi
}

build() {
  trunk build --release
  local wasm
  wasm="$(ls dist/*.wasm)"
  echo "wasm: $(stat -c %s "$wasm") bytes raw, $(gzip -9 -c "$wasm" | wc -c) bytes gzip ($wasm)"
  echo "js:   $(stat -c %s dist/*.js) bytes raw, $(gzip -9 -c dist/*.js | wc -c) bytes gzip"
  echo "default model (fetched separately): $(stat -c %s dist/gvt-tiny.gguf) bytes"
}

install_chromium() {
  if ! [ -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium
  fi
}

case "${1:-}" in
  setup) setup ;;
  build) setup; build ;;
  serve) setup; trunk serve ;;
  size)
    setup
    build
    twiggy --version >/dev/null 2>&1 || install_tool twiggy --locked
    twiggy top -n 1000000 --format csv \
      "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/gvt.wasm" >"$tools/twiggy.csv"
    python3 tools/wasm_breakdown.py "$tools/twiggy.csv"
    ;;
  test)
    setup
    install_chromium
    build
    GVT_WEB_TOOLS="$tools" node tests/web/e2e.mjs dist "${CARGO_TARGET_DIR}/web-e2e"
    ;;
  *)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Builds the engine component as a release artefact:
#   dist/lightrag-engine-<version>.wasm and dist/SHA256SUMS
# with the same command and flags as the server's build script (host/bindings/build.rs),
# so the artefact is the very engine the server embeds, and a fresh build reuses it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
target_dir="${LIGHTRAG_GUEST_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}/component}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
# The flags, 0x1f-separated as cargo expects them in CARGO_ENCODED_RUSTFLAGS.
flags=$(printf '%s\x1f%s\x1f%s' "-Ctarget-feature=+simd128" \
  "--remap-path-prefix=$root=/lightrag" "--remap-path-prefix=$cargo_home=/cargo")
env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_TARGET_DIR -u RUSTC_WORKSPACE_WRAPPER \
  -u CARGO_BUILD_TARGET -u CARGO_PROFILE_RELEASE_LTO CARGO_ENCODED_RUSTFLAGS="$flags" \
  cargo build --quiet --locked -p lightrag-engine --lib \
  --target wasm32-wasip2 --profile component --target-dir "$target_dir"
mkdir -p dist
artefact="lightrag-engine-$version.wasm"
cp "$target_dir/wasm32-wasip2/component/lightrag_engine.wasm" "dist/$artefact"
(cd dist && sha256sum "$artefact" > SHA256SUMS)
echo "dist/$artefact ($(stat -c %s "dist/$artefact") bytes), built by $(rustc --version)"
cat dist/SHA256SUMS

#!/usr/bin/env bash
# Packs what the GPU benchmark needs for a GPU machine that has Python and PyTorch but maybe no Node
# or npm, into bench/gpu/carry/ (git-ignored, under 64 MiB): the benchmark and the numerics compiled
# to JavaScript (no TypeScript loader at run time), the files they read beside them (WGSL shaders,
# the WebAssembly and native builds with the sources that name them), the runtime packages (zod,
# and `webgpu` with its Linux x64 Dawn binary only), this machine's Node binary, and Debian's
# Vulkan loader and OpenBLAS as .deb files. bench/gpu/run.sh unpacks and runs it there.
#
#   bash bench/gpu/pack.sh      (after npm install, on x86-64 Debian)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=bench/gpu/carry
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/debs" "$STAGE/app"

npx tsc -p bench/gpu/tsconfig.json --outDir "$STAGE/app"
for dir in packages/llc/src/kernels/webgpu/shaders packages/llc/src/kernels/wasm/assembly packages/llc/src/kernels/wasm/build \
  packages/llc/src/kernels/native/src bench/peers; do
  mkdir -p "$STAGE/app/$dir"
  cp -r "$dir/." "$STAGE/app/$dir/"
done
cp packages/llc/src/kernels/native/binding.gyp "$STAGE/app/packages/llc/src/kernels/native/"
mkdir -p "$STAGE/app/packages/llc/src/kernels/native/build"
cp packages/llc/src/kernels/native/build/native-*.node "$STAGE/app/packages/llc/src/kernels/native/build/" 2>/dev/null ||
  echo "pack: no native kernel build to carry; the GPU machine will run without it" >&2
mkdir -p "$STAGE/app/node_modules/webgpu/dist"
for pkg in zod debug ms; do cp -r "node_modules/$pkg" "$STAGE/app/node_modules/"; done
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$STAGE/app/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$STAGE/app/node_modules/webgpu/dist/"
tar -C "$STAGE" -cJf "$OUT/app.tar.xz" app
xz -9 -T0 -c "$(command -v node)" >"$OUT/node.xz"

# Debian's Vulkan loader and the OpenBLAS the native kernel links, with what OpenBLAS needs.
(cd "$OUT/debs" && apt-get download libvulkan1 libopenblas0-pthread libgfortran5 libquadmath0 >/dev/null 2>&1) ||
  echo "pack: apt-get download failed: the GPU machine needs its own Vulkan loader and OpenBLAS" >&2
du -sh "$OUT"

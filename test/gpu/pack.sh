#!/usr/bin/env bash
# Packs what the GPU check needs on a machine with no Node and no package registry (an NVIDIA H200
# with CUDA and Python): this machine's node binary, the compiled check and exactly the files it
# loads (traced in a short run here), the WebGPU backend and Dawn (which load only where there is
# an adapter), tfjs-backend-wasm's .wasm files, the Vulkan loader packages (libvulkan1 and the
# GL vendor-neutral dispatch libraries NVIDIA's Vulkan driver links against), and OpenBLAS with its
# runtime libraries for mtlkit's native kernels (the wasm + native CPU baseline).
#
#   bash test/gpu/pack.sh            ->  .gpu-pack/mtlkit-gpu.tar.gz (about 45 MiB; limit 60 MiB)
#
# .gpu-pack/ is in .gitignore, so git ignores it and the device tool carries it only
# when asked (carry: [".gpu-pack"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PACK_DIR=.gpu-pack
LIMIT_MIB=60
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

echo "== build"
npm run --silent build

echo "== trace the files the check loads (a short wasm run here)"
MTLKIT_TRACE_FILE=$STAGE/trace.txt node -r ./test/gpu/trace-requires.js dist/test/gpu/check.js \
  --quick --models=mlp,cnn --batches=4 --target-ms=20 --matmul=0 --backends=wasm > "$STAGE/trace-run.log" 2>&1 \
  || { cat "$STAGE/trace-run.log"; echo "pack: the traced run failed"; exit 1; }
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
WEBGPU_BACKEND=node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js
for f in "$DAWN" "$WEBGPU_BACKEND"; do [ -f "$f" ] || { echo "pack: $f is missing (npm install webgpu @tensorflow/tfjs-backend-webgpu)"; exit 1; }; done
{
  sort -u "$STAGE/trace.txt" | grep "^$ROOT/" | sed "s#^$ROOT/##" | grep -v '^test/gpu/trace-requires.js$'
  ls node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm
  echo "$WEBGPU_BACKEND"
  echo "$DAWN"
} > "$STAGE/files"
# Every package touched needs its package.json (require resolves "main" through it).
sed -nE 's#^(.*node_modules/(@[^/]+/)?[^/]+)/.*#\1/package.json#p' "$STAGE/files" >> "$STAGE/files"
echo package.json >> "$STAGE/files"
sort -u -o "$STAGE/files" "$STAGE/files"
echo "   $(wc -l < "$STAGE/files") files"

mkdir -p "$STAGE/pkg/app" "$STAGE/pkg/bin" "$STAGE/pkg/debs"
tar -cf - -T "$STAGE/files" | tar -xf - -C "$STAGE/pkg/app"
cp "$(command -v node)" "$STAGE/pkg/bin/node"

[ -f native/build/Release/mtlkit_native.node ] && grep -qx native/build/Release/mtlkit_native.node "$STAGE/files" \
  || echo "   warning: the native addon is not in the pack (not built?): wasm will run without native kernels there"

echo "== Vulkan loader and OpenBLAS packages (Debian, amd64)"
( cd "$STAGE/pkg/debs" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libopenblas0-pthread libgfortran5 libquadmath0 >/dev/null 2>&1 ) \
  || echo "   warning: apt-get download failed; the run will need libvulkan1 (and libopenblas0) on the GPU machine"
ls "$STAGE/pkg/debs"

{
  echo "packed $(date -u +%FT%TZ) from $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lib test/gpu || echo '+changes')"
  echo "node $(node --version) ($(uname -m))"
  for p in @tensorflow/tfjs @tensorflow/tfjs-backend-wasm @tensorflow/tfjs-backend-webgpu webgpu; do
    echo "$p $(node -p "require('$p/package.json').version")"
  done
} > "$STAGE/pkg/VERSIONS"
cat "$STAGE/pkg/VERSIONS"

echo "== compress"
mkdir -p "$PACK_DIR"
tar -czf "$PACK_DIR/mtlkit-gpu.tar.gz.tmp" -C "$STAGE/pkg" .
mv "$PACK_DIR/mtlkit-gpu.tar.gz.tmp" "$PACK_DIR/mtlkit-gpu.tar.gz"
SIZE=$(stat -c %s "$PACK_DIR/mtlkit-gpu.tar.gz")
echo "$PACK_DIR/mtlkit-gpu.tar.gz: $((SIZE / 1048576)) MiB"
if [ "$SIZE" -gt $((LIMIT_MIB * 1048576)) ]; then echo "pack: over ${LIMIT_MIB} MiB"; exit 1; fi

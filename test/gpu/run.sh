#!/usr/bin/env bash
# Runs the GPU check from the pack that test/gpu/pack.sh made, on a machine with no Node and no
# registry. From the repository root, with .gpu-pack present (carried):
#
#   bash test/gpu/run.sh [check flags: --quick --backends=webgpu,wasm --batches=256,1024,4096 …]
#
# It unpacks into a temporary folder (never into /), puts the pack's Vulkan loader and OpenBLAS on
# LD_LIBRARY_PATH when the system has none, points Vulkan at NVIDIA's driver where a container
# mounts it under /usr/local/nvidia, and runs dist/test/gpu/check.js with the packed node.
# With $OUT set (the device tool), the results also go to $OUT/gpu-check.json.
set -uo pipefail
cd "$(dirname "$0")/../.."
PACK=${MTLKIT_PACK:-.gpu-pack/mtlkit-gpu.tar.gz}
[ -f "$PACK" ] || { echo "run: no $PACK; make it with: bash test/gpu/pack.sh"; exit 2; }
WORK=$(mktemp -d)
tar -xzf "$PACK" -C "$WORK" || exit 2
NODE=$WORK/bin/node
cat "$WORK/VERSIONS"
"$NODE" --version >/dev/null || { echo "run: the packed node does not start here"; exit 2; }

# The pack's Debian packages, unpacked only for what the system lacks: the Vulkan loader (Dawn) and
# OpenBLAS (mtlkit's native kernels for the wasm baseline).
libpath=""
mkdir -p "$WORK/sys"
for deb in "$WORK"/debs/*.deb; do
  [ -f "$deb" ] || continue
  if command -v dpkg >/dev/null; then
    dpkg -x "$deb" "$WORK/sys"
  else
    (cd "$WORK/sys" && ar x "$deb" && tar -xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary)
  fi
done
if ! (ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'); then
  libpath="$WORK/sys/usr/lib/x86_64-linux-gnu"
  echo "Vulkan loader: the pack's ($libpath)"
else
  echo "Vulkan loader: the system's"
fi
if ! (ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'); then
  libpath="${libpath:+$libpath:}$WORK/sys/usr/lib/x86_64-linux-gnu/openblas-pthread:$WORK/sys/usr/lib/x86_64-linux-gnu"
  echo "OpenBLAS: the pack's"
fi
[ -d /usr/local/nvidia/lib64 ] && libpath="${libpath:+$libpath:}/usr/local/nvidia/lib64"
[ -n "$libpath" ] && export LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; echo "Vulkan driver: $icd"; break; fi
  done
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

JSON=()
[ -n "${OUT:-}" ] && JSON=("--json=$OUT/gpu-check.json")
cd "$WORK/app" && "$NODE" dist/test/gpu/check.js "${JSON[@]}" "$@"
status=$?
rm -rf "$WORK"
exit $status

#!/usr/bin/env bash
# Runs the GPU benchmark from what bench/gpu/pack.sh packed, on a machine with an NVIDIA GPU: unpacks
# Node, the compiled benchmark and the .deb files into a temporary folder (the system is left as it
# is), points the Vulkan loader at the NVIDIA driver's ICD, and prints JSON lines.
#
#   bash bench/gpu/run.sh [quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=bench/gpu/carry
WORK=${TMPDIR:-/tmp}/lambda-hat-gpu
rm -rf "$WORK"
mkdir -p "$WORK/root"
tar -C "$WORK" -xJf "$CARRY/app.tar.xz"
xz -dc "$CARRY/node.xz" >"$WORK/node"
chmod +x "$WORK/node"
for deb in "$CARRY"/debs/*.deb; do [ -e "$deb" ] && dpkg -x "$deb" "$WORK/root"; done
LIB="$WORK/root/usr/lib/x86_64-linux-gnu"
export LD_LIBRARY_PATH="$LIB:$LIB/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then
      export VK_DRIVER_FILES="$icd"
      break
    fi
  done
fi
if command -v nvidia-smi >/dev/null; then nvidia-smi -L >&2; else echo "run: no nvidia-smi on this machine" >&2; fi
exec "$WORK/node" "$WORK/app/bench/gpu/bench.js" "$@"

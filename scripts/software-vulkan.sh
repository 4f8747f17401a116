#!/usr/bin/env bash
# A software Vulkan driver (Mesa's lavapipe) for the WebGPU tests on machines without a GPU, in a
# private folder: the system's packages and apt sources are left as they are.
#
#   eval "$(bash scripts/software-vulkan.sh)"     # then a WebGPU adapter ("llvmpipe") appears
#
# Dawn (the `webgpu` npm package) rejects the lavapipe of Debian 12's own Mesa 22, so this takes
# Mesa 25 from bookworm-backports, with the Vulkan loader and the libdrm it needs, through a
# private apt state (its own sources list, package lists and cache), unpacks them with `dpkg -x`,
# and prints the two environment lines that point the loader at them. Any other library the driver
# needs that the system lacks is fetched the same way. Idempotent: a second run prints the lines
# at once. Lavapipe is for correctness tests only: it computes on the CPU and is no measure of
# speed, and lambda-hat's `auto` kernel choice never picks it.
#
# Environment: LAMBDA_HAT_SOFTWARE_VULKAN (the folder; default ~/.cache/lambda-hat/software-vulkan),
# DEBIAN_MIRROR (default: the mirror of the system's own Debian sources). Needs Debian 12 (amd64 or
# arm64), apt-get and network access to the mirror; no root.
set -euo pipefail

DIR=${LAMBDA_HAT_SOFTWARE_VULKAN:-${XDG_CACHE_HOME:-$HOME/.cache}/lambda-hat/software-vulkan}
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
LIB="$DIR/root/usr/lib/$MULTIARCH"
ICD="$DIR/lvp_icd.json"

print_env() {
  echo "export VK_ICD_FILENAMES='$ICD'"
  echo "export LD_LIBRARY_PATH='$LIB'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
}

if [ -f "$ICD" ] && [ -f "$LIB/libvulkan_lvp.so" ] && [ -f "$LIB/libvulkan.so.1" ]; then
  print_env
  exit 0
fi

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hsoE '^URIs: *\S+debian/?$' /etc/apt/sources.list.d/*.sources | head -n1 | sed 's/^URIs: *//') || true
  [ -n "$mirror" ] || mirror=$(grep -hsoE '^deb +\S+debian/? +bookworm ' /etc/apt/sources.list | head -n1 | awk '{print $2}') || true
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
printf 'deb %s bookworm main\ndeb %s bookworm-backports main\n' "$mirror" "$mirror" >"$tmp/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get -qq "${apt_opts[@]}" update >&2

# The driver, its loader and the libdrm it was built against, whatever the system has; then every
# other library it depends on that the system lacks.
wanted=(mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libvulkan1)
for dep in $(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
  mesa-vulkan-drivers/bookworm-backports 2>/dev/null | grep -E '^[a-z0-9]' | sort -u); do
  case "$dep" in mesa-vulkan-drivers | libdrm2 | libdrm-amdgpu1 | libvulkan1) continue ;; esac
  dpkg -s "$dep" >/dev/null 2>&1 || wanted+=("$dep")
done
(cd "$tmp/debs" && apt-get -qq "${apt_opts[@]}" download "${wanted[@]}" >&2)

rm -rf "$DIR.partial"
mkdir -p "$DIR.partial/root"
for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$DIR.partial/root"; done
lib_partial="$DIR.partial/root/usr/lib/$MULTIARCH"
[ -f "$lib_partial/libvulkan_lvp.so" ] || { echo "software-vulkan: no libvulkan_lvp.so in the downloaded Mesa" >&2; exit 1; }
# The ICD manifest names its library by an absolute path, so no system folder is involved.
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIB/libvulkan_lvp.so\"#" \
  "$DIR.partial/root/usr/share/vulkan/icd.d/lvp_icd.json" >"$DIR.partial/lvp_icd.json"
rm -rf "$DIR"
mv "$DIR.partial" "$DIR"
print_env

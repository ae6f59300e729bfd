#!/usr/bin/env bash
# Installs the Debian 12 packages daxfs-fuse needs to build, run and test.
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libfuse3-dev fuse3 libpmem-dev libisal-dev
      python3 python3-pytest python3-pytest-timeout clang libclang-rt-14-dev
      nfs-ganesha nfs-ganesha-vfs libnfs-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi

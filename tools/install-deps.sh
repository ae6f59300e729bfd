#!/usr/bin/env bash
# Installs the Debian 12 packages daxfs-fuse needs to build, run and test.
#
# Another apt (unattended-upgrades on a fresh machine, an install in another
# terminal) may hold apt's locks: this waits for them, up to
# DAXFS_APT_LOCK_TIMEOUT seconds (600), instead of failing at once.
set -euo pipefail
pkgs=(build-essential meson ninja-build pkg-config libfuse3-dev fuse3 libpmem-dev libisal-dev libblkid-dev
      python3 python3-pytest python3-pytest-timeout clang libclang-rt-14-dev
      nfs-ganesha nfs-ganesha-vfs libnfs-utils python3-lmdb bindfs)
timeout=${DAXFS_APT_LOCK_TIMEOUT:-600}
if ! [[ $timeout =~ ^[0-9]+$ ]]; then
	echo "install-deps: DAXFS_APT_LOCK_TIMEOUT=$timeout: expected whole seconds" >&2
	exit 2
fi
# apt waits for the dpkg frontend lock itself
apt_opts=(-o "DPkg::Lock::Timeout=$timeout")

# apt-get update (apt 2.6) does not wait for the lists lock, whatever the
# option says: try again while another apt holds it, and only then.
apt_update() {
	local deadline=$((SECONDS + timeout)) out status
	out=$(mktemp)
	while :; do
		set +e
		apt-get "${apt_opts[@]}" update 2>&1 | tee "$out"
		status=${PIPESTATUS[0]}
		set -e
		if ((status == 0)) || ! grep -q "Could not get lock" "$out" || ((SECONDS >= deadline)); then
			rm -f "$out"
			return "$status"
		fi
		echo "install-deps: another apt holds the package lists; waiting for it (up to" \
			"$((deadline - SECONDS)) s more)"
		sleep 2
	done
}

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
fi

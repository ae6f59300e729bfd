#!/usr/bin/env bash
# bench/nfs.sh - a daxfs-fuse mount and a tmpfs, both served by one NFS-Ganesha over NFSv4 on loopback.
#
# usage: bash bench/nfs.sh [SIZE_MIB] [RAND_OPS] [ROUNDS]
#
# Builds into $DAXFS_BUILD (default ./build-bench) unless DAXFS_NO_BUILD=1,
# installs nfs-ganesha, nfs-ganesha-vfs and libnfs-utils if missing, mounts
# daxfs-fuse (-o allow_other) on a fresh sparse pmem file on /dev/shm and a
# tmpfs, writes the Ganesha configuration with `daxfs-ctl export` (daxfs-fuse
# at /export) and adds the tmpfs to it as a second export (/tmpfs), starts
# Ganesha, and runs bench/nfsio.py: sequential 1 MiB and random 4 KiB reads
# and writes on a SIZE_MIB file (default 256), RAND_OPS random requests
# (default 5000), ROUNDS rounds (default 3) alternating the exports. Prints
# the raw lines and a markdown table (medians, ratio) and writes them to
# bench/out/nfs.{txt,md}. Everything it starts, mounts or creates is stopped,
# unmounted and removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
size_mib=${1:-256}
rand_ops=${2:-5000}
rounds=${3:-3}
dev_size=$((size_mib * 2 + 512))M

[[ $size_mib =~ ^[0-9]+$ && $rand_ops =~ ^[0-9]+$ && $rounds =~ ^[0-9]+$ ]] ||
	die "usage: bash bench/nfs.sh [SIZE_MIB] [RAND_OPS] [ROUNDS]"
need_root
bench_deps fio nfs-ganesha nfs-ganesha-vfs libnfs-utils
bench_build ganesha.nfsd
bench_setup
mkdir -p "$out"
ganesha_pid=
stop_ganesha() {
	[[ -n $ganesha_pid ]] || return 0
	kill -TERM "$ganesha_pid" 2>/dev/null || true
	wait "$ganesha_pid" || true
	ganesha_pid=
}
trap 'stop_ganesha; bench_cleanup' EXIT

start_daxfs -o allow_other
start_tmpfs
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$build/tools/daxfs-ctl" export "$mnt_daxfs" "$work/ganesha" --port "$port" --bind 127.0.0.1 \
	--squash none --grace 0 > "$work/export.txt"
# the same EXPORT block for the tmpfs, as export 2 at /tmpfs
/usr/bin/python3 - "$work/ganesha/ganesha.conf" "$mnt_daxfs" "$mnt_tmpfs" <<'PY'
import re, sys
path, daxfs, tmpfs = sys.argv[1:]
conf = open(path).read()
block = re.search(r"^EXPORT \{\n.*?^\}\n", conf, re.S | re.M).group(0)
block = (block.replace("Export_Id = 1;", "Export_Id = 2;")
         .replace(f'Path = "{daxfs}";', f'Path = "{tmpfs}";')
         .replace('Pseudo = "/export";', 'Pseudo = "/tmpfs";'))
open(path, "a").write("\n" + block)
PY
start=$(awk '$1 == "ganesha.nfsd" { $1 = $1; print }' "$work/export.txt")
say "$start"
$start > "$work/ganesha.out" 2>&1 &
ganesha_pid=$!
serving() {
	/usr/bin/python3 -c "import sys; sys.path.insert(0, '$root/tests'); import nfs4
c = nfs4.Client('127.0.0.1', $port, timeout=2); c.handle('/export'); c.handle('/tmpfs')" 2>/dev/null
}
mount_timeout=60 wait_for serving || { cat "$work/ganesha/ganesha.log" >&2; die "Ganesha did not serve"; }
say "nfsio: $size_mib MiB, $rand_ops random requests, $rounds rounds"
/usr/bin/python3 "$root/bench/nfsio.py" "$port" "$size_mib" "$rand_ops" "$rounds" \
	/export=daxfs-fuse /tmpfs=tmpfs | tee "$out/nfs.txt"
sed -n '/^| over NFSv4/,$p' "$out/nfs.txt" > "$out/nfs.md"
stop_ganesha
stop_tmpfs
stop_daxfs

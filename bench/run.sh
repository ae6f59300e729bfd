#!/usr/bin/env bash
# bench/run.sh - daxfs-fuse against tmpfs on the same workloads, in one run on this machine.
#
# usage: bash bench/run.sh [--quick] [--out DIR]
#
# Needs root (it mounts tmpfs, drops caches). Installs fio and gnuplot if they
# are missing, builds into $DAXFS_BUILD (default ./build-bench), then measures
#   - the memcpy bandwidth of a mapped /dev/shm file (the ceiling);
#   - the daemon's anonymous RSS after mounting a 16 GiB device and after
#     creating many files;
#   - with fio: sequential 1 MiB read/write, random 4 KiB psync read/write with
#     1 and 2 jobs, buffered and O_DIRECT, mmap random 4 KiB first touch and
#     again; with bench/meta.c: create/stat/unlink and readdir;
# on daxfs-fuse (a sparse pmem file on /dev/shm, so both sides are memory) and
# on a tmpfs mount of the same size. It prints a markdown table with both
# figures and their ratio and writes it, the raw fio output and a PNG chart to
# the output directory (default ./bench/out). Everything it creates besides
# that directory is removed and unmounted on exit, whatever the exit.
#
# --quick uses small sizes and short runs to try the script out; recorded
# results (bench/RESULTS.md) come from a full run.
#
# Environment: DAXFS_BUILD (build directory), DAXFS_NO_DEPS=1 (install
# nothing), DAXFS_NO_BUILD=1 (use DAXFS_BUILD as it is).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
build=${DAXFS_BUILD:-$root/build-bench}
out=$root/bench/out
quick=0

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '== %s\n' "$*" >&2; }

while (($#)); do
	case $1 in
	--quick) quick=1 ;;
	--out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument '$1'" >&2
	   echo "usage: bash bench/run.sh [--quick] [--out DIR]" >&2; exit 2 ;;
	esac
	shift
done
[[ $EUID -eq 0 ]] || die "must run as root (it mounts tmpfs and drops the page cache)"

# ---- sizes ---------------------------------------------------------------
MIB=$((1 << 20))
dev_size=16G		# both the daxfs device and the tmpfs mount
if ((quick)); then
	file_mib=128 runtime=2 repeat=1 meta_n=1000 dir_n=10000 rss_n=10000
else
	file_mib=1024 runtime=10 repeat=3 meta_n=10000 dir_n=100000 rss_n=100000
fi
file_size=$((file_mib * MIB))
half_size=$((file_size / 2))
mount_timeout=10	# seconds to wait for a mount or a daemon's exit

# ---- what it needs -------------------------------------------------------
if [[ ${DAXFS_NO_DEPS:-0} != 1 ]]; then
	missing=()
	for p in fio gnuplot-nox python3; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if ((${#missing[@]})); then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
	fi
	bash tools/install-deps.sh >&2
fi
if [[ ${DAXFS_NO_BUILD:-0} != 1 ]]; then
	say "building into $build"
	[[ -f $build/build.ninja ]] || meson setup "$build" >&2
	ninja -C "$build" >&2
fi
daemon=$build/src/fuse/daxfs-fuse
mkfs=$build/tools/mkfs.daxfs
memcpy=$build/bench/daxfs-bench-memcpy
meta=$build/bench/daxfs-bench-meta
report=(/usr/bin/python3 "$root/bench/report.py")
for prog in "$daemon" "$mkfs" "$memcpy" "$meta"; do
	[[ -x $prog ]] || die "$prog is not built"
done
for prog in fio gnuplot fusermount3; do
	command -v "$prog" >/dev/null || die "$prog is not installed"
done

# ---- scratch space and its removal ----------------------------------------
work=$(mktemp -d /tmp/daxfs-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/daxfs-bench.XXXXXX)
mnt_daxfs=$work/daxfs
mnt_tmpfs=$work/tmpfs
mkdir "$mnt_daxfs" "$mnt_tmpfs"
daemon_pid=

is_mounted() { findmnt -rn --mountpoint "$1" >/dev/null 2>&1; }

# Waits until "$@" succeeds; fails after mount_timeout seconds.
wait_for() {
	local deadline=$((SECONDS + mount_timeout))
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}

daemon_gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }

stop_daemon() {
	[[ -n $daemon_pid ]] || return 0
	local status=0
	if is_mounted "$mnt_daxfs"; then
		fusermount3 -u "$mnt_daxfs" || fusermount3 -u -z "$mnt_daxfs" || umount -l "$mnt_daxfs"
	fi
	if ! wait_for daemon_gone; then
		echo "bench: daxfs-fuse (pid $daemon_pid) did not exit after unmount; killing it" >&2
		kill -KILL "$daemon_pid" 2>/dev/null || true
	fi
	wait "$daemon_pid" || status=$?
	daemon_pid=
	is_mounted "$mnt_daxfs" && umount -l "$mnt_daxfs"
	if ((status != 0)); then
		echo "bench: daxfs-fuse exited with status $status:" >&2
		cat "$work/daxfs-fuse.stderr" >&2
		return 1
	fi
}

cleanup() {
	set +e
	stop_daemon
	is_mounted "$mnt_tmpfs" && { umount "$mnt_tmpfs" || umount -l "$mnt_tmpfs"; }
	rm -rf "$shm" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$out/raw"
results=$out/results.tsv
params=$out/params.txt
: > "$results"

# ---- the two filesystems -------------------------------------------------
# daxfs: a fresh sparse 16 GiB pmem file on /dev/shm; the daemon runs in the
# foreground as our child, so its pid is known and its exit status checked.
start_daxfs() {
	local pmem=$shm/pmem0
	rm -f "$pmem"
	"$mkfs" -s "$dev_size" -L bench "$pmem" >/dev/null
	"$daemon" -f "$pmem" "$mnt_daxfs" 2>"$work/daxfs-fuse.stderr" &
	daemon_pid=$!
	mounted_or_dead() { is_mounted "$mnt_daxfs" || daemon_gone; }
	wait_for mounted_or_dead || die "daxfs-fuse did not mount within ${mount_timeout}s"
	if ! is_mounted "$mnt_daxfs"; then
		cat "$work/daxfs-fuse.stderr" >&2
		die "daxfs-fuse exited before mounting"
	fi
}

stop_daxfs() {
	stop_daemon
	rm -f "$shm/pmem0"
}

start_tmpfs() { mount -t tmpfs -o "size=$dev_size" bench-tmpfs "$mnt_tmpfs"; }
stop_tmpfs() { umount "$mnt_tmpfs"; }

rss_mib() { awk '/^RssAnon:/ { printf "%.3f", $2 / 1024 }' "/proc/$daemon_pid/status"; }

drop_caches() { sync; echo "$1" > /proc/sys/vm/drop_caches; }
# Cold runs start from an empty page cache: on daxfs every page then comes
# from the daemon; tmpfs pages are the file and stay.
drop() { drop_caches 1; }

# ---- measuring -------------------------------------------------------------
# fio_run ID FS [--pre CMD] FIO_ARGS...: runs fio `repeat` times (once for
# time-based jobs), each after CMD, and records the median figure.
fio_run() {
	local id=$1 fs=$2 pre=: n=$repeat jsons=()
	shift 2
	if [[ $1 == --pre ]]; then pre=$2; shift 2; fi
	[[ " $* " == *" --time_based "* ]] && n=1
	for ((i = 1; i <= n; i++)); do
		local json=$out/raw/$fs-$id.$i.json
		$pre
		fio --output-format=json --output="$json" --name="$id" --group_reporting \
			--ioengine=psync --bs=4k "$@" > "$work/fio.log" 2>&1 ||
			{ cat "$work/fio.log" "$json" >&2 2>/dev/null; die "fio $id on $fs failed"; }
		jsons+=("$json")
	done
	"${report[@]}" fio "$id" "$fs" "${jsons[@]}" >> "$results"
	tail -n 1 "$results" >&2
}

# meta_record ID FS VALUE...: records the median of the values.
meta_record() {
	local id=$1 fs=$2
	shift 2
	"${report[@]}" value "$id" "$fs" "$@" >> "$results"
	tail -n 1 "$results" >&2
}

# meta_once OP DIR N: one run of the helper, in kops/s.
meta_once() { "$meta" "$@" | awk '{ printf "%.6g\n", $4 / 1000 }'; }

suite() {
	local fs=$1 dir=$2
	local seq=$dir/seq.dat rnd=$dir/rand.dat
	say "$fs: sequential 1 MiB, ${file_mib} MiB file"
	rm_seq() { rm -f "$seq"; }	# each write allocates a new file
	fio_run seq-write "$fs" --pre rm_seq --filename="$seq" --rw=write --bs=1M --size="$file_size" \
		--end_fsync=1
	fio_run seq-read "$fs" --pre drop --filename="$seq" --rw=read --bs=1M --size="$file_size" \
		--invalidate=1
	cat "$seq" > /dev/null
	fio_run seq-reread "$fs" --filename="$seq" --rw=read --bs=1M --size="$file_size" \
		--invalidate=0 --time_based --runtime="$runtime"
	rm -f "$seq"

	say "$fs: random 4 KiB psync"
	fio --name=layout --filename="$rnd" --rw=write --bs=1M --size="$file_size" \
		--ioengine=psync > "$work/fio.log" 2>&1 || { cat "$work/fio.log" >&2; die "fio layout failed"; }
	fio_run rr-cold-1 "$fs" --pre drop --filename="$rnd" --rw=randread --size="$file_size" \
		--invalidate=1
	fio_run rr-cold-2 "$fs" --pre drop --filename="$rnd" --rw=randread --numjobs=2 \
		--size="$half_size" --offset_increment="$half_size" --invalidate=1
	cat "$rnd" > /dev/null
	local j
	for j in 1 2; do
		fio_run "rr-cached-$j" "$fs" --filename="$rnd" --rw=randread --numjobs="$j" \
			--size="$file_size" --invalidate=0 --time_based --runtime="$runtime"
	done
	for j in 1 2; do
		fio_run "rr-direct-$j" "$fs" --filename="$rnd" --rw=randread --numjobs="$j" \
			--size="$file_size" --direct=1 --time_based --runtime="$runtime"
	done
	for j in 1 2; do
		fio_run "rw-buf-$j" "$fs" --filename="$rnd" --rw=randwrite --numjobs="$j" \
			--size="$file_size" --time_based --runtime="$runtime"
	done
	for j in 1 2; do
		fio_run "rw-direct-$j" "$fs" --filename="$rnd" --rw=randwrite --numjobs="$j" \
			--size="$file_size" --direct=1 --time_based --runtime="$runtime"
	done

	say "$fs: mmap random 4 KiB"
	fio_run mmap-read-first "$fs" --pre drop --filename="$rnd" --ioengine=mmap --rw=randread \
		--size="$file_size" --invalidate=1
	cat "$rnd" > /dev/null
	fio_run mmap-read-again "$fs" --filename="$rnd" --ioengine=mmap --rw=randread \
		--size="$file_size" --invalidate=0 --time_based --runtime="$runtime"
	fio_run mmap-write-first "$fs" --pre drop --filename="$rnd" --ioengine=mmap --rw=randwrite \
		--size="$file_size" --invalidate=1 --end_fsync=1
	cat "$rnd" > /dev/null
	fio_run mmap-write-again "$fs" --filename="$rnd" --ioengine=mmap --rw=randwrite \
		--size="$file_size" --invalidate=0 --end_fsync=1 --time_based --runtime="$runtime"
	rm -f "$rnd"

	say "$fs: metadata, $meta_n files; readdir of $dir_n entries"
	local m=$dir/meta c=() s=() sc=() u=() r=() i
	mkdir "$m"
	for ((i = 1; i <= repeat; i++)); do
		c+=("$(meta_once create "$m" "$meta_n")")
		s+=("$(meta_once stat "$m" "$meta_n")")
		drop_caches 2
		sc+=("$(meta_once stat "$m" "$meta_n")")
		u+=("$(meta_once unlink "$m" "$meta_n")")
	done
	meta_record create "$fs" "${c[@]}"
	meta_record stat "$fs" "${s[@]}"
	meta_record stat-cold "$fs" "${sc[@]}"
	meta_record unlink "$fs" "${u[@]}"
	rmdir "$m"
	mkdir "$dir/big"
	"$meta" create "$dir/big" "$dir_n" >/dev/null
	for ((i = 1; i <= repeat; i++)); do
		drop_caches 3
		r+=("$(meta_once readdir "$dir/big" "$dir_n")")
	done
	meta_record readdir "$fs" "${r[@]}"
}

# ---- the run ---------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "mode: $( ((quick)) && echo quick || echo full) (file ${file_mib} MiB, random runs ${runtime} s," \
		"median of $repeat for single passes, $meta_n files, readdir of $dir_n, RSS with $rss_n files)"
	echo "CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cores: $(nproc)"
	echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "libfuse: $(pkg-config --modversion fuse3 2>/dev/null || echo unknown)"
	echo "fio: $(fio --version)"
	echo "daxfs-fuse: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)," \
		"buildtype $(meson introspect --buildoptions "$build" 2>/dev/null |
			/usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null || echo unknown)"
	echo "daxfs device: sparse $dev_size pmem file on /dev/shm; tmpfs: size=$dev_size"
} > "$params"

say "memcpy ceiling on a mapped /dev/shm file"
for j in 1 2; do
	"$memcpy" -b 1M -j "$j" "$shm/memcpy" "${file_mib}M" > "$work/memcpy.$j"
	echo "memcpy limit, $j job(s), 1 MiB blocks: $(awk '{ printf "%s %.0f MiB/s  ", $1, $6 }' "$work/memcpy.$j")" |
		tee -a "$params" >&2
done

say "daemon memory: $dev_size device, then $rss_n files"
start_daxfs
stat "$mnt_daxfs" >/dev/null
meta_record rss-mount daxfs "$(rss_mib)"
mkdir "$mnt_daxfs/many"
"$meta" create "$mnt_daxfs/many" "$rss_n" >/dev/null
meta_record rss-files daxfs "$(rss_mib)"
stop_daxfs

start_tmpfs
suite tmpfs "$mnt_tmpfs"
stop_tmpfs

start_daxfs
suite daxfs "$mnt_daxfs"
stop_daxfs

say "report"
"${report[@]}" render "$results" "$params" "$out"
echo
echo "written: $out/results.md, $out/results.png, raw fio output in $out/raw" >&2

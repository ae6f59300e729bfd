#!/usr/bin/env bash
# bench/run.sh - daxfs-fuse (and under daxfs-run) against tmpfs and a FUSE peer on the same workloads, in one run on this machine.
#
# usage: bash bench/run.sh [--quick] [--out DIR] [--only GROUP,...]
#
# Needs root (it mounts tmpfs, drops caches). Installs fio, gnuplot and bindfs
# if they are missing, builds into $DAXFS_BUILD (default ./build-bench), then
# measures
#   - the memcpy bandwidth of a mapped /dev/shm file (the ceiling);
#   - the daemon's anonymous RSS after mounting a 16 GiB device and after
#     creating 100,000 files in one directory, and readdir of that directory;
#   - with fio: sequential 1 MiB read/write, random 4 KiB psync read/write with
#     1 and 2 jobs, buffered and O_DIRECT, and O_SYNC random writes (daxfs-run's
#     synchronous mode), mmap random 4 KiB first touch and
#     again; with bench/meta.c: create/stat/unlink;
#   - SQLite (WAL, 100k inserts in 1,000 transactions, integrity_check after)
#     and LMDB (100k puts in 1,000 transactions), bench/apps.py;
# on daxfs-fuse (a sparse pmem file on /dev/shm, so every side is memory), on
# daxfs-fuse with the workload under daxfs-run (loads and stores to the pmem
# file), on a tmpfs mount of the same size and on the FUSE peer, bindfs (a
# passthrough FUSE filesystem) over a tmpfs of its own, all mounted at once:
# each workload runs on tmpfs, on the peer, on daxfs-fuse and then under
# daxfs-run (the data workloads), three times in turn, so that a busy machine
# disturbs every figure alike. It prints a markdown table with the figures,
# the ratios daxfs/tmpfs, daxfs/peer and daxfs-run/tmpfs and the targets, and
# writes it, the raw fio output and a PNG chart to the output directory
# (default ./bench/out). Everything else it creates is removed and unmounted
# on exit, whatever the exit.
#
# --quick uses small sizes and short runs to try the script out; recorded
# results (bench/RESULTS.md) come from a full run. --only runs some groups of
# workloads: memory (the daemon's RSS and the large directory), seq, random,
# mmap, apps (SQLite, LMDB), meta (the memcpy ceiling is always measured).
#
# Environment: DAXFS_BUILD (build directory), DAXFS_NO_DEPS=1 (install
# nothing), DAXFS_NO_BUILD=1 (use DAXFS_BUILD as it is).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
quick=0
bench_groups="memory seq random mmap apps meta"

bench_args "$@"
need_root

if ((quick)); then
	file_mib=128 runtime=2 repeat=1 meta_n=1000 dir_n=10000
else
	file_mib=1024 runtime=5 repeat=3 meta_n=10000 dir_n=100000
fi
cached_rounds=$((2 * repeat + 1))
file_size=$((file_mib * MIB))
half_size=$((file_size / 2))

bench_deps fio gnuplot-nox python3 python3-lmdb bindfs
bench_build gnuplot bindfs
bench_setup
mkdir -p "$out/raw"
rm -f "$out"/raw/*.json
results=$out/results.tsv
params=$out/params.txt
: > "$results"

# ---- measuring -------------------------------------------------------------
# Every figure is recorded once per run of its workload; the report takes the
# median of a workload's figures on each filesystem.

# fio_run ID FS [--pre CMD] FIO_ARGS...: `eval CMD`, then one fio run; records
# its figure. The raw JSON of every run stays in $out/raw.
fio_run() {
	local id=$1 fs=$2 pre=: json k=1 wrap=()
	shift 2
	[[ $fs == run ]] && wrap=("$daxfs_run")
	if [[ $1 == --pre ]]; then pre=$2; shift 2; fi
	while [[ -e $out/raw/$fs-$id.$k.json ]]; do k=$((k + 1)); done
	json=$out/raw/$fs-$id.$k.json
	eval "$pre"
	"${wrap[@]}" fio --output-format=json --output="$json" --name="$id" --group_reporting \
		--ioengine=psync --bs=4k "$@" > "$work/fio.log" 2>&1 ||
		{ cat "$work/fio.log" "$json" >&2 2>/dev/null; die "fio $id on $fs failed"; }
	"${report[@]}" fio "$id" "$fs" "$json" >> "$results"
	tail -n 1 "$results" >&2
}

# meta_record ID FS VALUE: records one figure.
meta_record() {
	"${report[@]}" value "$@" >> "$results"
	tail -n 1 "$results" >&2
}

# meta_once OP DIR N: one run of the helper, in kops/s.
meta_once() {
	local line
	line=$("$meta" "$@") || die "daxfs-bench-meta $* failed"
	awk '{ printf "%.6g\n", $4 / 1000 }' <<< "$line"
}

# Cold runs start from an empty page cache: on daxfs every page then comes
# from the daemon; tmpfs pages are the file itself and stay.
drop() { drop_caches 1; }

# every STEP [ROUNDS]: runs STEP FS DIR on tmpfs, on the peer and on daxfs,
# `repeat` (or ROUNDS) times in turn, so that a busy spell of the machine
# falls on all alike; the peer goes before daxfs in odd rounds and after it
# in even ones, so that neither always follows the other.
every() {
	local r
	for ((r = 1; r <= ${2:-$repeat}; r++)); do
		"$1" tmpfs "$mnt_tmpfs"
		if ((r % 2)); then "$1" peer "$mnt_peer"; fi
		"$1" daxfs "$mnt_daxfs"
		if ((r % 2 == 0)); then "$1" peer "$mnt_peer"; fi
	done
}
# four STEP [ROUNDS]: the same with a fourth run, on daxfs with the workload
# under daxfs-run (FS "run").
four() {
	local r
	for ((r = 1; r <= ${2:-$repeat}; r++)); do
		four_round "$1" "$r"
	done
}
# four_round STEP R: round R of `four STEP`.
four_round() {
	"$1" tmpfs "$mnt_tmpfs"
	if (($2 % 2)); then "$1" peer "$mnt_peer"; fi
	"$1" daxfs "$mnt_daxfs"
	"$1" run "$mnt_daxfs"
	if (($2 % 2 == 0)); then "$1" peer "$mnt_peer"; fi
}
# cached STEP FILE: `four STEP` for page-cache hits, which no server sees,
# in cached_rounds rounds: each drops the page cache and reads the peer's and
# daxfs's FILE in again together (bench/readin.py says why), so that every
# round has a new placement of the pages, the same for both mounts.
cached() {
	local r
	for ((r = 1; r <= cached_rounds; r++)); do
		drop_caches 1
		/usr/bin/python3 "$root/bench/readin.py" "$mnt_peer/$2" "$mnt_daxfs/$2" ||
			die "reading $2 into the page cache failed"
		four_round "$1" "$r"
	done
}
# once STEP: the same, a single time (preparation and cleanup).
once() {
	"$1" tmpfs "$mnt_tmpfs"
	"$1" peer "$mnt_peer"
	"$1" daxfs "$mnt_daxfs"
}

# ---- the workloads: each is STEP FS DIR ------------------------------------
# warm_memory: touches twice the file's size of anonymous memory and frees
# it. A guest that gives free memory back to its host (free page reporting)
# makes the first touch of such a page wait for the host: a write that
# needs fresh pages (the page cache of a FUSE file, tmpfs's own) then runs
# at 60-250 MiB/s, on whichever server finds no pages freed just before.
warm_memory() {
	dd if=/dev/zero of=/dev/null bs=$((2 * file_mib))M count=1 iflag=fullblock 2>/dev/null
}
seq_write() {
	# each run writes a new file: allocation is part of the figure
	fio_run seq-write "$1" --pre "rm -f $2/seq.dat; warm_memory" --filename="$2/seq.dat" \
		--rw=write --bs=1M --size="$file_size" --end_fsync=1
}
seq_read() {
	fio_run seq-read "$1" --pre drop --filename="$2/seq.dat" --rw=read --bs=1M \
		--size="$file_size" --invalidate=1
}
seq_reread() {
	fio_run seq-reread "$1" --filename="$2/seq.dat" --rw=read --bs=1M --size="$file_size" \
		--invalidate=0 --time_based --runtime="$runtime"
}
seq_remove() { rm -f "$2/seq.dat"; }
rand_layout() { layout "$2/rand.dat" "$file_size"; }
rand_remove() { rm -f "$2/rand.dat"; }
rr_cold() {
	fio_run rr-cold-1 "$1" --pre drop --filename="$2/rand.dat" --rw=randread \
		--size="$file_size" --invalidate=1
	# two jobs, each reading its own half once
	fio_run rr-cold-2 "$1" --pre drop --filename="$2/rand.dat" --rw=randread --numjobs=2 \
		--size="$half_size" --offset_increment="$half_size" --invalidate=1
}
# timed_jobs NAME FS DIR FIO_ARGS...: NAME-1 and NAME-2, timed runs of one
# and of two jobs over the random file.
timed_jobs() {
	local name=$1 fs=$2 dir=$3 j
	shift 3
	for j in 1 2; do
		fio_run "$name-$j" "$fs" --filename="$dir/rand.dat" --numjobs="$j" \
			--size="$file_size" --time_based --runtime="$runtime" "$@"
	done
}
rr_cached() {
	timed_jobs rr-cached "$1" "$2" --rw=randread --invalidate=0
}
rr_direct() { timed_jobs rr-direct "$1" "$2" --rw=randread --direct=1; }
rw_buf() { timed_jobs rw-buf "$1" "$2" --rw=randwrite; }
# O_SYNC: every write durable at return, which under daxfs-run is its
# synchronous mode (as DAXFS_RUN_SYNC=1), and daxfs-fuse's own default
rw_sync() {
	fio_run rw-sync-1 "$1" --filename="$2/rand.dat" --rw=randwrite --sync=1 \
		--size="$file_size" --time_based --runtime="$runtime"
}
rw_direct() { timed_jobs rw-direct "$1" "$2" --rw=randwrite --direct=1; }
mmap_read_first() {
	fio_run mmap-read-first "$1" --pre drop --filename="$2/rand.dat" --ioengine=mmap \
		--rw=randread --size="$file_size" --invalidate=1
}
# page-cache hits, as the cached re-reads: no server sees them
mmap_read_again() {
	fio_run mmap-read-again "$1" --filename="$2/rand.dat" --ioengine=mmap --rw=randread \
		--size="$file_size" --invalidate=0 --time_based --runtime="$runtime"
}
mmap_write() {
	fio_run mmap-write-first "$1" --pre drop --filename="$2/rand.dat" --ioengine=mmap \
		--rw=randwrite --size="$file_size" --invalidate=1 --end_fsync=1
	cat "$2/rand.dat" > /dev/null
	fio_run mmap-write-again "$1" --filename="$2/rand.dat" --ioengine=mmap --rw=randwrite \
		--size="$file_size" --invalidate=0 --end_fsync=1 --time_based --runtime="$runtime"
}
# app_rate WORKLOAD FS DIR: one run of bench/apps.py, which checks the
# database afterwards: a failed check fails the run.
app_rate() {
	local wrap=()
	[[ $2 == run ]] && wrap=("$daxfs_run")
	"${wrap[@]}" /usr/bin/python3 "$root/bench/apps.py" "$1" "$3"
}
# app WORKLOAD FS DIR: `repeat` runs of the workload, the round's figure their
# median. One run takes under a second on a FUSE mount, and one hiccup of the
# guest, or a worker woken on the other (halted) vCPU for the run's requests,
# moved a single run's figure by 1.6x (SQLite on daxfs-fuse: 108-175 thousand
# inserts per second, in two groups).
app() {
	local r=() i
	for ((i = 1; i <= repeat; i++)); do
		r+=("$(app_rate "$@")") || die "bench/apps.py $1 on $2 failed"
	done
	meta_record "$1" "$2" "${r[@]}"
}
sqlite() { app sqlite "$1" "$2"; }
lmdb() { app lmdb "$1" "$2"; }

# stat_cold ID FS DIR: stat of meta_n files after dropping dentries and
# inodes (each stat is then a LOOKUP on a FUSE mount), `repeat` times: one
# pass takes a tenth of a second, which one hiccup of the guest halves, so
# each round records the median of its passes.
stat_cold() {
	local r=() i
	for ((i = 1; i <= repeat; i++)); do
		drop_caches 2
		r+=("$(meta_once stat "$3" "$meta_n")")
	done
	meta_record "$1" "$2" "${r[@]}"
}

# metadata FS DIR: create and unlink of meta_n files `repeat` times, each
# row's figure for the round the median of its passes (one pass takes half a
# second on a FUSE mount, which one hiccup of the guest halves: unlink went
# from 1.20x to 0.99x of the peer between two runs with one pass each), and
# the stats between the last create and unlink.
metadata() {
	local m=$2/meta c=() u=() i
	mkdir "$m"
	for ((i = 1; i <= repeat; i++)); do
		c+=("$(meta_once create "$m" "$meta_n")")
		if ((i == repeat)); then
			meta_record stat "$1" "$(meta_once stat "$m" "$meta_n")"
			stat_cold stat-cold "$1" "$m"
		fi
		u+=("$(meta_once unlink "$m" "$meta_n")")
	done
	meta_record create "$1" "${c[@]}"
	meta_record unlink "$1" "${u[@]}"
	rmdir "$m"
}

# big_dir FS DIR: creates dir_n files in one directory (timed once: it is
# long), then times readdir of it, each time from a cold cache.
big_dir() {
	local r=() i
	mkdir "$2/big"
	meta_record create-big "$1" "$(meta_once create "$2/big" "$dir_n")"
	if [[ $1 == daxfs ]]; then
		meta_record rss-files daxfs "$(rss_mib)"
	fi
	for ((i = 1; i <= repeat; i++)); do
		drop_caches 3
		r+=("$(meta_once readdir "$2/big" "$dir_n")")
	done
	meta_record readdir "$1" "${r[@]}"
}
# big_stat FS DIR: the same number of LOOKUPs as stat-cold, in the large
# directory: equal rates show that a lookup does not scan the directory.
# Taken in turns on the mounts the other rows use (the daemon big_dir
# measured is gone by then: its directory is made again, untimed).
big_stat() { stat_cold stat-cold-big "$1" "$2/big"; }

# ---- the run ---------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "mode: $( ((quick)) && echo quick || echo full) (file ${file_mib} MiB, timed runs ${runtime} s," \
		"median of $repeat runs taking turns with tmpfs and the peer ($cached_rounds for cached re-reads)," \
		"$meta_n files, $dir_n in one directory)"
	echo "CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cores: $(nproc)"
	echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -r)"
	echo "libfuse: $(pkg-config --modversion fuse3 2>/dev/null || echo unknown)"
	echo "fio: $(fio --version)"
	changed=$(git -C "$root" status --porcelain -- src include tools 2>/dev/null | wc -l)
	echo "daxfs-fuse: commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$( ((changed)) && echo "plus $changed uncommitted file(s) in src, include, tools")," \
		"buildtype $(meson introspect --buildoptions "$build" 2>/dev/null |
			/usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null || echo unknown)"
	echo "daxfs device: sparse $dev_size pmem file on /dev/shm; tmpfs: size=$dev_size"
	echo "FUSE peer: bindfs $(peer_version) ${peer_opts[*]} over a tmpfs of size=$dev_size"
	[[ -z $only ]] || echo "groups: ${only:1:-1}"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$params"

say "memcpy ceiling on a mapped /dev/shm file"
for j in 1 2; do
	# at least 8 GiB copied per direction, so that the figure is not a blip
	"$memcpy" -b 1M -j "$j" -p $((8192 / file_mib)) "$shm/memcpy" "${file_mib}M" > "$work/memcpy.$j"
	echo "memcpy limit, $j job(s), 1 MiB blocks: $(awk '{ printf "%s %.0f MiB/s  ", $1, $6 }' "$work/memcpy.$j")" |
		tee -a "$params" >&2
done

# A fresh daemon for its memory and the large directory: the other workloads
# must not inflate the RSS figures.
if wanted memory; then
	say "daemon memory: $dev_size device, then $dir_n files in one directory; readdir of it"
	start_daxfs
	stat "$mnt_daxfs" >/dev/null
	meta_record rss-mount daxfs "$(rss_mib)"
	big_dir daxfs "$mnt_daxfs"
	stop_daxfs
fi

start_tmpfs
start_peer
if wanted memory; then
	big_dir tmpfs "$mnt_tmpfs"
	big_dir peer "$mnt_peer"
fi
start_daxfs
if wanted memory; then
	mkdir "$mnt_daxfs/big"
	meta_once create "$mnt_daxfs/big" "$dir_n" >/dev/null
	every big_stat
	rm -rf "$mnt_tmpfs/big" "$mnt_peer/big" "$mnt_daxfs/big"
fi
if wanted seq; then
	say "sequential 1 MiB, ${file_mib} MiB file"
	four seq_write
	four seq_read
	cached seq_reread seq.dat
	once seq_remove
fi
if wanted random || wanted mmap; then
	once rand_layout
fi
if wanted random; then
	say "random 4 KiB psync"
	four rr_cold
	cached rr_cached rand.dat
	four rr_direct
	four rw_buf
	four rw_direct
	four rw_sync
fi
if wanted mmap; then
	say "mmap random 4 KiB"
	four mmap_read_first
	cached mmap_read_again rand.dat
	four mmap_write
fi
if wanted random || wanted mmap; then
	once rand_remove
fi
if wanted apps; then
	say "applications: SQLite, LMDB"
	four sqlite
	four lmdb
fi
if wanted meta; then
	say "metadata: $meta_n files"
	every metadata
fi
stop_daxfs
stop_peer
stop_tmpfs
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$params"

say "report"
"${report[@]}" render "$results" "$params" "$out"
echo
echo "written: $out/results.md, $out/results.png, raw fio output in $out/raw" >&2

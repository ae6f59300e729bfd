#!/usr/bin/env bash
# bench/caching.sh - each caching choice of daxfs-fuse against its alternative, in one run on this machine.
#
# usage: bash bench/caching.sh [--quick] [--out DIR]
#
# Needs root (it drops caches). Installs fio if missing, builds into
# $DAXFS_BUILD (default ./build-bench), then mounts daxfs-fuse (a fresh sparse
# pmem file on /dev/shm each time) with each setting in turn and measures what
# the setting is for:
#   - timeout=86400 (default) vs 1 vs 0: stat of 10,000 cached files; open +
#     read 4 KiB + close of 1,000 files, a first pass from a cold page cache
#     and a second one;
#   - keep_cache (default) vs no_keep_cache: re-reading a 256 MiB file after
#     closing and reopening it;
#   - writeback_cache off (default) vs on: sequential 1 MiB writes of a new
#     1 GiB file, random 4 KiB buffered writes with 1 and 2 jobs, all with
#     end_fsync=1 so that making the data durable is part of the figure;
#   - readdirplus=auto (default) vs yes vs no: an `ls -l` (readdir + lstat of
#     each) and a plain readdir of 10,000 entries from a cold cache;
#   - notify_store=0 (default) vs 65536: open + mmap + read a byte per page +
#     close of 1,000 16 KiB files from a cold page cache, open + read of them,
#     and open + read again with their pages cached.
# Each repetition mounts every setting of a choice in turn, so that a busy
# spell of a shared machine falls on all of them alike; figures are medians
# of 3 repetitions (1 with --quick, which also uses smaller sizes). It prints a markdown table and writes it to DIR/caching.md (default
# ./bench/out). Everything else it creates is removed and unmounted on exit,
# whatever the exit.
#
# Environment: DAXFS_BUILD (build directory), DAXFS_NO_DEPS=1 (install
# nothing), DAXFS_NO_BUILD=1 (use DAXFS_BUILD as it is).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
quick=0

bench_args "$@"
need_root

if ((quick)); then
	repeat=1 stat_n=2000 small_n=300 dir_n=2000 reread_mib=64 write_mib=256 runtime=2
else
	repeat=3 stat_n=10000 small_n=1000 dir_n=10000 reread_mib=256 write_mib=1024 runtime=5
fi
store_bytes=65536
small_size=16384

bench_deps fio python3
bench_build
cache=$build/bench/daxfs-bench-cache
[[ -x $cache ]] || die "$cache is not built"
bench_setup
mkdir -p "$out"
results=$work/caching.tsv
: > "$results"

# ---- measuring -------------------------------------------------------------

# record CHOICE WORKLOAD UNIT SETTING VALUE: one figure of one repetition.
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$results"
	printf '%s / %s / %s: %s %s\n' "$1" "$2" "$4" "$5" "$3" >&2
}

# rate PROG ARGS...: runs a helper, prints its kops/s.
rate() {
	local line
	line=$("$@") || die "$* failed"
	awk '{ printf "%.6g\n", $4 / 1000 }' <<< "$line"
}

# fio_rate bw|iops ARGS...: one fio run (psync), prints MiB/s or kIOPS of its
# writes or reads, whichever it did.
fio_rate() {
	local kind=$1 json=$work/fio.json
	shift
	fio --output-format=json --output="$json" --name=c --group_reporting --ioengine=psync \
		"$@" > "$work/fio.log" 2>&1 || { cat "$work/fio.log" "$json" >&2 2>/dev/null; die "fio $* failed"; }
	/usr/bin/python3 - "$json" "$kind" <<-'EOF'
	import json, sys
	job = json.load(open(sys.argv[1]))["jobs"][0]
	side = job["write"] if job["write"]["io_bytes"] else job["read"]
	print("%.6g" % (side["bw_bytes"] / 2**20 if sys.argv[2] == "bw" else side["iops"] / 1000))
	EOF
}

mnt=$mnt_daxfs

# ---- one repetition of each choice with one setting: STEP SETTING --------------

timeout_step() {
	local t=$1
	say "timeout=$t"
	start_daxfs -o "timeout=$t"
	mkdir "$mnt/meta" "$mnt/small"
	"$meta" create "$mnt/meta" "$stat_n" > /dev/null
	"$meta" stat "$mnt/meta" "$stat_n" > /dev/null	# cached from here on
	record timeout "stat of $stat_n cached files" kops/s "$t" \
		"$(rate "$meta" stat "$mnt/meta" "$stat_n")"
	"$cache" fill "$mnt/small" "$small_n" 4096 > /dev/null
	drop_caches 1
	record timeout "open+read 4 KiB+close of $small_n files, first pass (cold pages)" kops/s "$t" \
		"$(rate "$cache" read "$mnt/small" "$small_n" 4096)"
	record timeout "open+read 4 KiB+close of $small_n files, second pass" kops/s "$t" \
		"$(rate "$cache" read "$mnt/small" "$small_n" 4096)"
	stop_daxfs
}

keep_cache_step() {
	local opt=$1
	say "$opt"
	start_daxfs -o "$opt"
	layout "$mnt/reread.dat" $((reread_mib * MIB))
	cat "$mnt/reread.dat" > /dev/null
	# fio opens the file anew: the reopen is what keep_cache is about
	record keep_cache "re-read of a $reread_mib MiB file after close and reopen" MiB/s "$opt" \
		"$(fio_rate bw --filename="$mnt/reread.dat" --rw=read --bs=1M \
			--size=$((reread_mib * MIB)) --invalidate=0)"
	stop_daxfs
}

writeback_step() {
	local opt=$1 j size=$((write_mib * MIB))
	say "$opt"
	start_daxfs -o "$opt"
	record writeback_cache "sequential write 1 MiB, new $write_mib MiB file, end_fsync" MiB/s "$opt" \
		"$(fio_rate bw --filename="$mnt/seq.dat" --rw=write --bs=1M --size="$size" --end_fsync=1)"
	rm -f "$mnt/seq.dat"
	layout "$mnt/rand.dat" "$size"
	for j in 1 2; do
		record writeback_cache "random write 4 KiB buffered, $j job(s), end_fsync" kIOPS "$opt" \
			"$(fio_rate iops --filename="$mnt/rand.dat" --rw=randwrite --bs=4k --numjobs="$j" \
				--size="$size" --time_based --runtime="$runtime" --end_fsync=1)"
	done
	stop_daxfs
}

readdirplus_step() {
	local mode=$1
	say "readdirplus=$mode"
	start_daxfs -o "readdirplus=$mode"
	mkdir "$mnt/big"
	"$meta" create "$mnt/big" "$dir_n" > /dev/null
	drop_caches 3
	record readdirplus "ls -l (readdir + lstat each) of $dir_n entries, cold (entries/s)" kops/s \
		"$mode" "$(rate "$cache" lsl "$mnt/big" "$dir_n" 1)"
	drop_caches 3
	record readdirplus "plain readdir of $dir_n entries, cold (entries/s)" kops/s "$mode" \
		"$(rate "$meta" readdir "$mnt/big" "$dir_n")"
	stop_daxfs
}

notify_store_step() {
	local bytes=$1
	say "notify_store=$bytes"
	start_daxfs -o "notify_store=$bytes"
	mkdir "$mnt/small"
	"$cache" fill "$mnt/small" "$small_n" "$small_size" > /dev/null
	drop_caches 1
	record notify_store "open+mmap+touch every page+close of $small_n 16 KiB files, cold pages" \
		kops/s "$bytes" "$(rate "$cache" mmap "$mnt/small" "$small_n" "$small_size")"
	drop_caches 1
	record notify_store "open+read+close of $small_n 16 KiB files, cold pages" kops/s "$bytes" \
		"$(rate "$cache" read "$mnt/small" "$small_n" "$small_size")"
	record notify_store "open+read+close of $small_n 16 KiB files, pages cached" kops/s "$bytes" \
		"$(rate "$cache" read "$mnt/small" "$small_n" "$small_size")"
	stop_daxfs
}

# each STEP SETTING...: `repeat` repetitions, each of every setting in turn
# (the first setting is the default).
each() {
	local step=$1 r s
	shift
	for ((r = 1; r <= repeat; r++)); do
		for s in "$@"; do "$step" "$s"; done
	done
}

# ---- the run ------------------------------------------------------------------------
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
changed=$(git -C "$root" status --porcelain -- src include tools 2>/dev/null | wc -l)
each timeout_step 86400 1 0
each keep_cache_step keep_cache no_keep_cache
each writeback_step no_writeback_cache writeback_cache
each readdirplus_step auto yes no
each notify_store_step 0 "$store_bytes"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report: one row per workload, the settings side by side ---------------------
{
	echo "date: $started; mode: $( ((quick)) && echo quick || echo full), median of $repeat" \
		"repetitions, each mounting every setting in turn;" \
		"daxfs-fuse commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"$( ((changed)) && echo "plus $changed uncommitted file(s) in src, include, tools");" \
		"kernel $(uname -r); $(nproc) cores; load average $load_start at start, $load_end at end"
	echo
	/usr/bin/python3 - "$results" <<-'EOF'
	import sys
	rows, order = {}, []
	for line in open(sys.argv[1]):
	    choice, workload, unit, setting, value = line.rstrip("\n").split("\t")
	    key = (choice, workload, unit)
	    if key not in rows:
	        rows[key] = {}
	        order.append(key)
	    rows[key].setdefault(setting, []).append(float(value))

	def fmt(v):
	    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v

	def median(vs):
	    vs = sorted(vs)
	    return vs[(len(vs) - 1) // 2]

	print("| choice | workload | unit | default | alternatives | runs (default; alternatives) |")
	print("|---|---|---|---|---|---|")
	for key in order:
	    settings = list(rows[key].items())
	    cell = lambda s, vs: "%s: %s" % (s, fmt(median(vs)))
	    runs = "; ".join(" ".join(fmt(v) for v in vs) for _, vs in settings)
	    print("| %s | %s | %s | %s | %s | %s |" % (*key, cell(*settings[0]),
	          "; ".join(cell(s, vs) for s, vs in settings[1:]), runs))
	EOF
} > "$out/caching.md"
cat "$out/caching.md"
echo "written: $out/caching.md" >&2

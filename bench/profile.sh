#!/usr/bin/env bash
# bench/profile.sh - where the time goes while one workload runs on daxfs-fuse.
#
# usage: bash bench/profile.sh [--out DIR] [--prep layout|files] -- COMMAND...
#
# Mounts a fresh daxfs-fuse (a sparse 16 GiB pmem file on /dev/shm) at a
# scratch mount point, optionally prepares it, and runs COMMAND there under
#   perf stat  -a -e task-clock,context-switches,cpu-migrations
#   perf record -a -g -e cpu-clock
# (software events: they work in VMs without hardware counters). In COMMAND,
# the word @MNT stands for the mount point and @META for daxfs-bench-meta.
# --prep layout writes a 1 GiB file @MNT/rand.dat first; --prep files
# creates 10000 files in @MNT/meta (both untimed). Writes DIR/perf-stat.txt,
# DIR/perf-report.txt (flat, by symbol, with the process of each sample) and
# DIR/perf-comm.txt (by process), and prints the top of the report.
# DIR defaults to ./bench/out/profile.
#
# Examples (what bench/RESULTS.md quotes):
#   bash bench/profile.sh --prep layout -- fio --name=p --filename=@MNT/rand.dat \
#       --rw=randread --bs=4k --size=1G --direct=1 --numjobs=2 --ioengine=psync \
#       --time_based --runtime=10 --group_reporting
#   bash bench/profile.sh -- @META create @MNT 10000
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
build=${DAXFS_BUILD:-$root/build-bench}
out=$root/bench/out/profile
prep=
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

usage() { echo "usage: bash bench/profile.sh [--out DIR] [--prep layout|files] -- COMMAND..." >&2; exit 2; }
while (($#)); do
	case $1 in
	--out) [[ $# -ge 2 ]] || usage; out=$2; shift ;;
	--prep) [[ $# -ge 2 && ($2 == layout || $2 == files) ]] || usage; prep=$2; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) usage ;;
	esac
	shift
done
(($#)) || usage
need_root
bench_deps fio linux-perf
bench_build perf
perf stat -e task-clock true >/dev/null 2>&1 || die "perf cannot count software events here"
bench_setup
mkdir -p "$out"

start_daxfs
case $prep in
layout) layout "$mnt_daxfs/rand.dat" $((1024 * MIB)) ;;
files) mkdir "$mnt_daxfs/meta" && "$meta" create "$mnt_daxfs/meta" 10000 >/dev/null ;;
esac

cmd=()
for a in "$@"; do
	a=${a//@MNT/$mnt_daxfs}
	cmd+=("${a//@META/$meta}")
done

say "perf stat: ${cmd[*]}"
perf stat -a -e task-clock,context-switches,cpu-migrations -o "$out/perf-stat.txt" -- "${cmd[@]}" \
	> "$out/command-stat.txt"
# a second run of the same command: undo what the first created
case $prep in
files) rm -rf "$mnt_daxfs/meta" && mkdir "$mnt_daxfs/meta" &&
	"$meta" create "$mnt_daxfs/meta" 10000 >/dev/null ;;
esac
if [[ ${cmd[0]} == "$meta" && ${cmd[1]} == create ]]; then
	rm -rf "${cmd[2]:?}"/*
fi
say "perf record: ${cmd[*]}"
perf record -a -g -e cpu-clock -F 4999 -o "$work/perf.data" -- "${cmd[@]}" \
	> "$out/command-record.txt" 2>"$work/perf-record.log"
perf report -i "$work/perf.data" --stdio --no-children --sort comm,sym --percent-limit 0.7 \
	-g none 2>/dev/null | grep -v '^$' > "$out/perf-report.txt"
perf report -i "$work/perf.data" --stdio --no-children --sort comm -g none 2>/dev/null |
	grep -v '^$' > "$out/perf-comm.txt"
stop_daxfs

cat "$out/perf-stat.txt" >&2
grep -v '^#' "$out/perf-comm.txt" | head -8 >&2
grep -v '^#' "$out/perf-report.txt" | head -40 >&2
echo "written: $out/perf-stat.txt, $out/perf-report.txt, $out/perf-comm.txt" >&2

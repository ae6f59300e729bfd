#!/usr/bin/env bash
# bench/profile.sh - where the time goes while one workload runs on daxfs-fuse.
#
# usage: bash bench/profile.sh [--out DIR] [--prep layout|files[:N]] -- COMMAND...
#
# Mounts a fresh daxfs-fuse (a sparse 16 GiB pmem file on /dev/shm) at a
# scratch mount point, optionally prepares it, and runs COMMAND there under
#   perf stat  -a -e task-clock,context-switches,cpu-migrations
#   perf record -a -g -e cpu-clock
# (software events: they work in VMs without hardware counters). In COMMAND,
# the word @MNT stands for the mount point and @META for daxfs-bench-meta.
# --prep layout writes a 1 GiB file @MNT/rand.dat first; --prep files[:N]
# creates N (10000) files in @MNT/meta (both untimed). Writes DIR/perf-stat.txt,
# DIR/perf-report.txt (flat, by symbol, with the process of each sample) and
# DIR/perf-comm.txt (by process), DIR/perf-callers.txt (call chains of the
# hottest symbols) and DIR/perf.data, and prints the top of the report.
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

usage() { echo "usage: bash bench/profile.sh [--out DIR] [--prep layout|files[:N]] -- COMMAND..." >&2; exit 2; }
nfiles=10000
while (($#)); do
	case $1 in
	--out) [[ $# -ge 2 ]] || usage; out=$2; shift ;;
	--prep)
		[[ $# -ge 2 && $2 =~ ^(layout|files)(:([1-9][0-9]{0,6}))?$ ]] || usage
		prep=${BASH_REMATCH[1]}
		[[ -n ${BASH_REMATCH[3]} ]] && nfiles=${BASH_REMATCH[3]}
		shift ;;
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
files) mkdir "$mnt_daxfs/meta" && "$meta" create "$mnt_daxfs/meta" "$nfiles" >/dev/null ;;
esac

cmd=()
for a in "$@"; do
	a=${a//@MNT/$mnt_daxfs}
	cmd+=("${a//@META/$meta}")
done

say "perf stat: ${cmd[*]}"
perf stat -a -e task-clock,context-switches,cpu-migrations -o "$out/perf-stat.txt" -- "${cmd[@]}" \
	> "$out/command-stat.txt"
# The command runs twice: undo what a create or unlink did in between.
if [[ ${cmd[0]} == "$meta" && ${#cmd[@]} -eq 4 ]]; then
	case ${cmd[1]} in
	create) "$meta" unlink "${cmd[2]}" "${cmd[3]}" >/dev/null ;;
	unlink) "$meta" create "${cmd[2]}" "${cmd[3]}" >/dev/null ;;
	esac
fi
say "perf record: ${cmd[*]}"
perf record -a -g -e cpu-clock -F 4999 -o "$out/perf.data" -- "${cmd[@]}" \
	> "$out/command-record.txt" 2>"$work/perf-record.log"
perf report -i "$out/perf.data" --stdio --no-children --sort comm,sym --percent-limit 0.7 \
	-g none 2>/dev/null | grep -v '^$' > "$out/perf-report.txt"
perf report -i "$out/perf.data" --stdio --no-children --sort comm -g none 2>/dev/null |
	grep -v '^$' > "$out/perf-comm.txt"
# who calls the hottest kernel symbols (kernel stacks are complete; the
# daemon's user stacks are not, it is built without frame pointers)
perf report -i "$out/perf.data" --stdio --no-children --sort comm,sym --percent-limit 2 \
	-g caller,0.5,callee,function,percent --max-stack 12 2>/dev/null |
	grep -v '^$' > "$out/perf-callers.txt"
stop_daxfs

cat "$out/perf-stat.txt" >&2
grep -v '^#' "$out/perf-comm.txt" | head -8 >&2
grep -v '^#' "$out/perf-report.txt" | head -40 >&2
echo "written: $out/perf-{stat,report,comm,callers}.txt and $out/perf.data" >&2

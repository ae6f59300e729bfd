#!/usr/bin/env bash
# bench/profile.sh - where the time goes while one workload runs on daxfs-fuse.
#
# usage: bash bench/profile.sh [--out DIR] [--prep layout|files[:N]] -- COMMAND...
#
# Mounts a fresh daxfs-fuse (a sparse 16 GiB pmem file on /dev/shm) at a
# scratch mount point, optionally prepares it, and runs COMMAND there twice:
# under perf stat -e task-clock,context-switches,cpu-migrations, then under
# perf record -g -e cpu-clock (software events: they work in VMs without
# hardware counters), each time with a second perf attached to the daemon's
# pid. Only the command's processes and this daemon are profiled: other
# daxfs-fuse daemons on the machine (tests) stay out of the figures.
# In COMMAND, the word @MNT stands for the mount point and @META for
# daxfs-bench-meta. --prep layout writes a 1 GiB file @MNT/rand.dat first;
# --prep files[:N] creates N (10000) files in @MNT/meta (both untimed).
# Writes, for SIDE daemon and command: DIR/perf-stat-SIDE.txt,
# DIR/perf-report-SIDE.txt (flat, by symbol), DIR/perf-callers-SIDE.txt (call
# chains of the hottest symbols) and DIR/perf-SIDE.data; the command's own
# output goes to DIR/command-{stat,record}.txt. Prints the top of each.
# DIR defaults to ./bench/out/profile.
#
# Examples (what bench/RESULTS.md quotes):
#   bash bench/profile.sh --prep layout -- fio --name=p --filename=@MNT/rand.dat \
#       --rw=randread --bs=4k --size=1G --direct=1 --numjobs=2 --ioengine=psync \
#       --time_based --runtime=10 --group_reporting
#   bash bench/profile.sh -- @META create @MNT 10000
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
out=$root/bench/out/profile
prep=

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

# The machine may run other daxfs-fuse daemons (tests): profiles follow
# this daemon's pid and the command's process tree, never the whole system.
# perf_attach KIND OUTPUT ARGS...: a perf of KIND (stat or record) on the
# daemon in the background, started disabled and enabled through its control
# fifo: the acknowledgement says it counts before the command starts.
perf_attach() {
	local kind=$1 output=$2 ack
	shift 2
	rm -f "$work/ctl" "$work/ack"
	mkfifo "$work/ctl" "$work/ack"
	perf "$kind" "$@" -p "$daemon_pid" -o "$output" --delay=-1 \
		--control "fifo:$work/ctl,$work/ack" 2>>"$work/perf.log" &
	perf_pid=$!
	exec {ctl_fd}>"$work/ctl" {ack_fd}<"$work/ack"
	echo enable >&"$ctl_fd"
	read -r -t "$mount_timeout" ack <&"$ack_fd" && [[ $ack == ack ]] ||
		die "perf $kind did not start: $(cat "$work/perf.log")"
}
perf_detach() {
	exec {ctl_fd}>&- {ack_fd}<&-
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
}
events=task-clock,context-switches,cpu-migrations

say "perf stat: ${cmd[*]}"
perf_attach stat "$out/perf-stat-daemon.txt" -e "$events"
perf stat -e "$events" -o "$out/perf-stat-command.txt" -- "${cmd[@]}" > "$out/command-stat.txt"
perf_detach
# The command runs twice: undo what a create or unlink did in between.
if [[ ${cmd[0]} == "$meta" && ${#cmd[@]} -eq 4 ]]; then
	case ${cmd[1]} in
	create) "$meta" unlink "${cmd[2]}" "${cmd[3]}" >/dev/null ;;
	unlink) "$meta" create "${cmd[2]}" "${cmd[3]}" >/dev/null ;;
	esac
fi
say "perf record: ${cmd[*]}"
perf_attach record "$out/perf-daemon.data" -g -e cpu-clock -F 4999
perf record -g -e cpu-clock -F 4999 -o "$out/perf-command.data" -- "${cmd[@]}" \
	> "$out/command-record.txt" 2>>"$work/perf.log"
perf_detach
for side in daemon command; do
	data=$out/perf-$side.data
	perf report -i "$data" --stdio --no-children --sort dso,sym --percent-limit 0.7 \
		-g none 2>/dev/null | grep -v '^$' > "$out/perf-report-$side.txt"
	# who calls the hottest symbols (kernel stacks are complete; user
	# stacks are not, nothing is built with frame pointers)
	perf report -i "$data" --stdio --no-children --sort dso,sym --percent-limit 3 \
		-g caller,0.5,callee,function,percent --max-stack 14 2>/dev/null |
		grep -v '^$' > "$out/perf-callers-$side.txt"
done
stop_daxfs

for side in daemon command; do
	echo "---- $side" >&2
	grep -v '^#' "$out/perf-stat-$side.txt" | grep -v '^$' >&2
	grep -v '^#' "$out/perf-report-$side.txt" | head -25 >&2
done
echo "written: $out/perf-{stat,report,callers}-{daemon,command}.txt, $out/perf-{daemon,command}.data" >&2

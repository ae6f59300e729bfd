#!/usr/bin/env bash
# fuzz/run.sh - builds the libFuzzer targets with coverage in every object and runs each for a while.
#
#   fuzz/run.sh [--merge] [SECONDS] [TARGET...]
#
# SECONDS (default 60) is the time for each target, one after the other;
# TARGETs default to all of them: table image journal ioctl print.
#
# The build ($DAXFS_FUZZ_BUILD, default build-fuzz/ at the top of the tree,
# reused between runs) compiles every object of the tree with clang,
# -fsanitize=fuzzer-no-link, ASan and UBSan, so libFuzzer sees the coverage
# of the libraries and the daemon, not only of the harness; the targets are
# linked with -fsanitize=fuzzer. Each target starts from fuzz/corpus/<target>/
# and fuzz/regressions/<target>/. What it finds goes to a temporary directory,
# and its images and backing files to a scratch directory of its own
# (mkdtemp), both removed at exit, so runs never clobber each other and a run
# leaves the tree as it was; with --merge, the inputs that reach code the
# corpus does not (new edges; libFuzzer -merge=1 -use_counters=0, smallest
# first) are added to fuzz/corpus/<target>/, to be committed.
#
# Prints, per target, the coverage at the start (the corpus replayed) and at
# the end (cov: edges, ft: features) and the executions. A crash, leak,
# sanitizer report or failed property check leaves the input in the current
# directory (<target>-crash-<sha1>), prints how to reproduce it, and makes
# the script exit 1. Exit 77: clang is not installed.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DAXFS_FUZZ_BUILD:-$src/build-fuzz}
all=(table image journal ioctl print)
merge=false
if [[ ${1:-} == --merge ]]; then
	merge=true
	shift
fi
secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

if [[ ! $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
	echo "fuzz/run.sh: SECONDS must be a positive whole number, not '$secs'" >&2
	exit 2
fi
for t in "${targets[@]}"; do
	if [[ ! -f $src/fuzz/fuzz_$t.c ]]; then
		echo "fuzz/run.sh: no target '$t' (targets: ${all[*]})" >&2
		exit 2
	fi
done
# Set up again only a build of ours: one that is not a clang build with ASan
# (the default build/, say) is somebody's own, not to be wiped.
if [[ -f $build/build.ninja ]] && ! grep -q -- '-fsanitize=fuzzer-no-link' "$build/build.ninja" &&
	! { grep -q -- '-fsanitize=address' "$build/build.ninja" && grep -q 'clang' "$build/build.ninja"; }; then
	echo "fuzz/run.sh: $build is not a fuzz build; set DAXFS_FUZZ_BUILD to a new directory" >&2
	exit 2
fi
if ! command -v clang >/dev/null; then
	echo "fuzz/run.sh: clang is not installed (tools/install-deps.sh installs it)" >&2
	exit 77
fi
# A build dir from before every object was instrumented is set up again.
# Quiet unless it fails.
run_quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		tail -n 40 <<<"$out" >&2
		echo "fuzz/run.sh: failed: $*" >&2
		exit 1
	fi
}
if [[ ! -f $build/build.ninja ]] || ! grep -q -- '-fsanitize=fuzzer-no-link' "$build/build.ninja"; then
	setup=(setup)
	[[ -f $build/build.ninja ]] && setup+=(--wipe)
	CC=clang run_quiet meson "${setup[@]}" "$build" "$src" --buildtype=debugoptimized -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'
fi
run_quiet ninja -C "$build" "${targets[@]/#/fuzz/fuzz_}"

work=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-fuzz-run.XXXXXX")
scratch=$(mktemp -d "$( [[ -w /dev/shm ]] && echo /dev/shm || echo "$work")/daxfs-fuzz-scratch.XXXXXX")
trap 'rm -rf "$work" "$scratch"' EXIT
export DAXFS_FUZZ_TMPDIR=$scratch

# The libFuzzer status line with the largest run number before "$2" in log $1.
coverage() {
	grep -E "^#[0-9]+[[:space:]]+$2" "$1" | tail -n 1 |
		sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/'
}

for t in "${targets[@]}"; do
	bin=$build/fuzz/fuzz_$t
	corpus=$src/fuzz/corpus/$t
	seeds=("$corpus")
	[[ -d $src/fuzz/regressions/$t ]] && seeds+=("$src/fuzz/regressions/$t")
	mkdir -p "$work/$t" "$corpus"
	echo "fuzz/run.sh: $t for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$PWD/$t-" "$work/$t" "${seeds[@]}" >"$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log" >&2
		echo "fuzz/run.sh: $t failed; reproduce with: $bin $PWD/$t-<crash file>" >&2
		echo "fuzz/run.sh: once fixed, keep the input in fuzz/regressions/$t/" >&2
		exit 1
	fi
	start=$(coverage "$work/$t.log" INITED)
	end=$(coverage "$work/$t.log" DONE)
	[[ -n $end ]] || end=$(coverage "$work/$t.log" '(NEW|REDUCE|pulse|INITED)')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	new=$(find "$work/$t" -type f | wc -l)
	echo "fuzz/run.sh: $t: start ${start:-cov: ? ft: ?}; end ${end:-cov: ? ft: ?}; execs: ${execs:-?}; new inputs: $new"
	if $merge && ((new > 0)); then
		before=$(find "$corpus" -type f | wc -l)
		# edges, not hit counts: only what reaches new code is kept
		"$bin" -merge=1 -use_counters=0 "$corpus" "$work/$t" >"$work/$t.merge.log" 2>&1 || {
			tail -n 30 "$work/$t.merge.log" >&2
			exit 1
		}
		echo "fuzz/run.sh: $t: merged $(($(find "$corpus" -type f | wc -l) - before)) inputs into fuzz/corpus/$t/"
	fi
done

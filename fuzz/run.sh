#!/usr/bin/env bash
# fuzz/run.sh - builds the libFuzzer targets with clang and runs each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS (default 60) is the total, shared among the targets (table, image).
# The libraries are built with clang, ASan and UBSan in $DAXFS_FUZZ_BUILD
# (default build-fuzz/ at the top of the tree, reused between runs). Each
# target starts from its seed corpus in fuzz/corpus/<target>/; the inputs it
# finds go to a temporary directory that is removed at exit, so a run leaves
# the tree as it was. A crash leaves its input in the current directory
# (crash-<sha1>), prints the reproducer and makes the script exit 1.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DAXFS_FUZZ_BUILD:-$src/build-fuzz}
secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(table image)

if ! command -v clang >/dev/null; then
	echo "fuzz/run.sh: clang is not installed (tools/install-deps.sh installs it)" >&2
	exit 77
fi
if [[ ! -f $build/build.ninja ]]; then
	CC=clang meson setup "$build" "$src" --buildtype=debugoptimized \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
libs=(src/fs/libdaxfs-fs.a src/dm/libdaxfs-dm.a src/dax/libdaxfs-dax.a src/util/libdaxfs-util.a)
ninja -C "$build" "${libs[@]}" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work" /tmp/daxfs-fuzz-pmem /dev/shm/daxfs-fuzz-image' EXIT
mkdir -p "$build/fuzz"
per=$((secs / ${#targets[@]}))
((per > 0)) || per=1
for t in "${targets[@]}"; do
	if [[ ! -f $src/fuzz/fuzz_$t.c ]]; then
		echo "fuzz/run.sh: no target '$t' (fuzz/fuzz_$t.c)" >&2
		exit 2
	fi
	bin=$build/fuzz/fuzz_$t
	clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I"$src/include" -I"$src/src" \
		"$src/fuzz/fuzz_$t.c" "${libs[@]/#/$build/}" -lpmem -lisal -pthread -o "$bin"
	mkdir -p "$work/$t"
	echo "fuzz/run.sh: $t for ${per}s"
	"$bin" -max_total_time="$per" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		"$work/$t" "$src/fuzz/corpus/$t" 2>"$work/$t.log" || {
		tail -n 60 "$work/$t.log" >&2
		echo "fuzz/run.sh: $t failed; reproduce with: $bin <crash file>" >&2
		exit 1
	}
	grep -E '^stat::number_of_executed_units' "$work/$t.log" || true
done

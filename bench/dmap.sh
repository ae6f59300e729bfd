#!/usr/bin/env bash
# bench/dmap.sh - libdaxfs: 4 KiB copies through a direct mapping, a page-cache mmap and plain memcpy.
#
# usage: bash bench/dmap.sh [SIZE_MIB] [PASSES]
#
# Builds into $DAXFS_BUILD (default ./build-bench) unless DAXFS_NO_BUILD=1,
# mounts daxfs-fuse on a fresh sparse pmem file on /dev/shm and runs
# daxfs-bench-dmap (bench/dmap.c) on a SIZE_MIB file (default 256) with
# PASSES timed passes (default 8): sequential and random 4 KiB reads and
# writes through daxfs_map, through mmap of the same file (page cache), and
# through mmap of a /dev/shm file (memcpy, the ceiling), taking turns, with
# the median of 5 rounds. Prints the raw
# lines, then a markdown table with each figure's ratio to memcpy, and writes
# both to bench/out/dmap.{txt,md}. Everything it creates is removed and
# unmounted on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
size_mib=${1:-256}
passes=${2:-8}
dev_size=$((size_mib * 2 + 512))M

[[ $size_mib =~ ^[0-9]+$ && $passes =~ ^[0-9]+$ ]] || die "usage: bash bench/dmap.sh [SIZE_MIB] [PASSES]"
bench_build
dmap=$build/bench/daxfs-bench-dmap
[[ -x $dmap ]] || die "$dmap is not built"
bench_setup
mkdir -p "$out"
start_daxfs
say "daxfs-bench-dmap: $size_mib MiB, $passes passes"
"$dmap" "$mnt_daxfs/file" "$shm" "$size_mib" "$passes" | tee "$out/dmap.txt"
stop_daxfs
awk '
	{ mib[$1 " " $2 " " $3] = $6 }
	END {
		print "| access | direct (libdaxfs) MiB/s | page-cache mmap MiB/s | memcpy MiB/s | direct / memcpy | direct / page cache |"
		print "|---|---|---|---|---|---|"
		split("seq read,seq write,rand read,rand write", rows, ",")
		for (i = 1; i <= 4; i++) {
			d = mib["direct " rows[i]]; p = mib["pagecache " rows[i]]; m = mib["memcpy " rows[i]]
			printf "| %s 4 KiB | %.0f | %.0f | %.0f | %.2fx | %.2fx |\n", rows[i], d, p, m, d / m, d / p
		}
	}' "$out/dmap.txt" | tee "$out/dmap.md"

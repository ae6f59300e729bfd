#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: install what is missing,
# build into ./build, create three sparse 1 GiB pmem files under ./pmem and a
# table that concatenates them, show the table and one direct_access
# resolution, then make a daxfs on it (once) and mount it at /mnt/daxfs.
# Running it again reuses everything that already exists.
#
# Environment (all optional):
#   DAXFS_PMEM_DIR   where the pmem files and the table live   (./pmem)
#   DAXFS_PMEM_SIZE  size of each pmem file, for truncate -s   (1G)
#   DAXFS_MNT        mount point                               (/mnt/daxfs)
#   DAXFS_BUILD      build directory                           (./build)
#   DAXFS_NO_DEPS=1  do not run tools/install-deps.sh
#   DAXFS_NO_BUILD=1 do not configure or build (use DAXFS_BUILD as it is)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
pmem_dir=${DAXFS_PMEM_DIR:-$root/pmem}
# absolute, as daxfs-fuse records SOURCE (from the physical working directory)
[[ $pmem_dir = /* ]] || pmem_dir=$(pwd -P)/$pmem_dir
pmem_size=${DAXFS_PMEM_SIZE:-1G}
mnt=${DAXFS_MNT:-/mnt/daxfs}
build=${DAXFS_BUILD:-$root/build}

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [[ ${DAXFS_NO_DEPS:-0} != 1 ]]; then
	say "installing missing Debian packages"
	bash tools/install-deps.sh
fi

if [[ ${DAXFS_NO_BUILD:-0} != 1 ]]; then
	say "building into $build"
	[[ -f $build/build.ninja ]] || meson setup "$build"
	ninja -C "$build"
fi

ctl=$build/tools/daxfs-ctl
mkfs=$build/tools/mkfs.daxfs
fsck=$build/tools/fsck.daxfs
daemon=$build/src/fuse/daxfs-fuse
if [[ ! -x $ctl ]]; then
	echo "quickstart: $ctl was not built" >&2
	exit 1
fi

say "pmem files and table in $pmem_dir"
mkdir -p "$pmem_dir"
files=("$pmem_dir/pmem0" "$pmem_dir/pmem1" "$pmem_dir/pmem2")
for f in "${files[@]}"; do
	# sparse: only the blocks the filesystem writes take space
	[[ -e $f ]] || truncate -s "$pmem_size" "$f"
done
table=$pmem_dir/daxfs.table
{
	echo "# daxfs quick start: three pmem files concatenated (written by tools/quickstart.sh)"
	start=0
	for f in "${files[@]}"; do
		# whole pages only: round the size down before converting to sectors
		# shellcheck disable=SC2017
		len=$(( $(stat -c %s "$f") / 4096 * 8 ))
		echo "$start $len linear $f 0"
		start=$((start + len))
	done
} > "$table.new"
if cmp -s "$table.new" "$table"; then
	rm -f "$table.new"
else
	mv "$table.new" "$table"
fi
cat "$table"

say "checking the table"
run "$ctl" check "$table"

say "resolving a page through the direct_access chain"
# the first page of the second file: it shows the target and device steps
second_pgoff=$(( $(stat -c %s "${files[0]}") / 4096 ))
run "$ctl" resolve "$table" "$second_pgoff" 16
run "$ctl" resolve "$table" "$second_pgoff" 16 --json

if [[ ! -x $mkfs || ! -x $daemon ]]; then
	say "done (mkfs.daxfs or daxfs-fuse is not built yet: no filesystem to mount)"
	exit 0
fi

# A dead daemon leaves a mount whose stat fails; clear it so we can remount.
if findmnt -rn "$mnt" >/dev/null 2>&1 && ! stat "$mnt" >/dev/null 2>&1; then
	say "clearing the stale mount at $mnt"
	fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt"
fi

if findmnt -rn "$mnt" >/dev/null 2>&1; then
	mounted=$(findmnt -rn -o SOURCE "$mnt" | tail -n 1)
	if [[ $mounted != "$table" ]]; then
		echo "quickstart: $mnt already has $mounted mounted on it; choose another DAXFS_MNT" >&2
		exit 1
	fi
	say "a filesystem is already mounted at $mnt"
	findmnt "$mnt"
else
	say "making the filesystem (only if there is none)"
	set +e
	"$fsck" -n "$table" >/dev/null 2>&1
	fsck_rc=$?
	set -e
	if (( fsck_rc == 8 )); then
		run "$mkfs" -L quickstart "$table"
	else
		echo "a daxfs is already on $table (fsck.daxfs -n exit status $fsck_rc)"
		(( fsck_rc < 4 )) || echo "it has problems: run $fsck -y $table" >&2
	fi

	say "mounting at $mnt"
	mkdir -p "$mnt"
	run "$daemon" "$table" "$mnt"
	findmnt "$mnt"
fi

cat <<EOT

daxfs is mounted at $mnt. Try:
    echo hello > $mnt/hello && cat $mnt/hello
    df -h $mnt
    $ctl map $mnt/hello        # where its bytes live in the pmem files
Unmount it with:
    fusermount3 -u $mnt
Remove the quick-start files (after unmounting) with:
    rm -r $pmem_dir
EOT

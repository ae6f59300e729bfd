#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: install what is missing,
# build into ./build, create three sparse 1 GiB pmem files and a table that
# concatenates them, show the table and one direct_access resolution, then
# make a daxfs on it (once) and mount it at /mnt/daxfs. Running it again
# reuses everything that already exists.
#
# The pmem files live in memory (/dev/shm/daxfs-quickstart) unless
# --persistent DIR puts them on disk: memory is what the README's figures are
# measured on, and on disk every commit waits for an msync.
#
# Environment (all optional):
#   DAXFS_PMEM_DIR   where the pmem files and the table live
#                    (/dev/shm/daxfs-quickstart; --persistent DIR wins)
#   DAXFS_PMEM_SIZE  size of each pmem file, for truncate -s   (1G)
#   DAXFS_MNT        mount point                               (/mnt/daxfs)
#   DAXFS_BUILD      build directory                           (./build)
#   DAXFS_NO_DEPS=1  do not run tools/install-deps.sh
#   DAXFS_NO_BUILD=1 do not configure or build (use DAXFS_BUILD as it is)
set -euo pipefail

usage() {
	cat <<EOT
usage: bash tools/quickstart.sh [--persistent DIR]

Builds daxfs-fuse, makes a daxfs on three sparse 1 GiB pmem files and mounts
it at /mnt/daxfs (as root).

  --persistent DIR  keep the pmem files in DIR, on disk: the filesystem then
                    survives a reboot, but every commit is an msync to disk,
                    15 to 70 times slower than in memory
  -h, --help        show this help

Without --persistent the files go to /dev/shm/daxfs-quickstart: memory, as
fast as the README's figures, and gone at the next reboot.
EOT
}

cd "$(dirname "$0")/.."
root=$PWD
default_dir=/dev/shm/daxfs-quickstart
pmem_dir=${DAXFS_PMEM_DIR:-$default_dir}
chosen=${DAXFS_PMEM_DIR:+yes}
while (($#)); do
	case $1 in
	--persistent)
		if (($# < 2)) || [[ -z $2 ]]; then
			echo "quickstart: --persistent needs a directory" >&2
			exit 2
		fi
		pmem_dir=$2
		chosen=yes
		shift 2
		;;
	--persistent=*)
		pmem_dir=${1#--persistent=}
		chosen=yes
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "quickstart: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
done
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

if [[ $pmem_dir =~ [[:space:]] ]]; then
	# the table (dmsetup text) separates its fields with blanks
	echo "quickstart: $pmem_dir: a table cannot name files whose path has blanks; choose another directory" >&2
	exit 2
fi
mkdir -p "$pmem_dir"
# the table names the files: absolute paths, whatever the caller typed
pmem_dir=$(cd "$pmem_dir" && pwd)
say "pmem files and table in $pmem_dir"
case $(stat -f -c %T "$pmem_dir") in
tmpfs | ramfs)
	where=memory
	echo "They are in memory ($(stat -f -c %T "$pmem_dir")): fast, and gone after a reboot."
	echo "To keep them on disk instead: bash tools/quickstart.sh --persistent DIR"
	;;
*)
	where=disk
	echo "They are on disk ($(stat -f -c %T "$pmem_dir")): they survive a reboot (run this"
	echo "again to mount them), but every commit waits for an msync to the disk."
	;;
esac
if [[ -z $chosen && -f $root/pmem/daxfs.table ]]; then
	echo "(An earlier quick start kept its files in $root/pmem; to go on using them:"
	echo " bash tools/quickstart.sh --persistent $root/pmem)"
fi
files=("$pmem_dir/pmem0" "$pmem_dir/pmem1" "$pmem_dir/pmem2")
for f in "${files[@]}"; do
	# sparse: only the blocks the filesystem writes take space; and for
	# nobody else: whoever may read a member reads every file's data on it,
	# whatever the files' own permissions (an earlier run's files too)
	[[ -e $f ]] || (umask 077 && truncate -s "$pmem_size" "$f")
	chmod go-rwx "$f"
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

log=$pmem_dir/daxfs-fuse.log
mounted=
if findmnt -rn "$mnt" >/dev/null 2>&1; then
	mounted=$(findmnt -rn -o SOURCE "$mnt" | tail -n 1)
	if [[ $mounted != "$table" ]]; then
		echo "quickstart: $mnt already has $mounted mounted on it; choose another DAXFS_MNT" >&2
		exit 1
	fi
fi
# statfs, not stat: a stat of a dead mount's root may come from the cache
if [[ -n $mounted ]] && stat -f "$mnt" >/dev/null 2>&1; then
	say "a filesystem is already mounted at $mnt"
	findmnt "$mnt"
else
	if [[ -n $mounted ]]; then
		say "the daemon of the mount at $mnt has died: mounting again"
		echo "(daxfs-fuse unmounts the dead mount first; the journal replays, no fsck needed)"
	fi
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
	[[ -n $mounted ]] || mkdir -p "$mnt"
	run "$daemon" -o "logfile=$log" "$table" "$mnt"
	findmnt "$mnt"
fi

if [[ $where == memory ]]; then
	keep="in memory: the filesystem is gone after a reboot"
else
	keep="on disk: after a reboot, run this script again to mount the filesystem"
fi
cat <<EOT

daxfs is mounted at $mnt, as root only (see "Troubleshooting" in README.md for
other users). Its pmem files are in $pmem_dir,
$keep. The daemon logs to $log.
Try:
    echo hello > $mnt/hello && cat $mnt/hello
    df -h $mnt
    $ctl map $mnt/hello        # where its bytes live in the pmem files
    $ctl super $table    # label, uuid, sizes
Unmount it with:
    fusermount3 -u $mnt
Remove the quick-start files (after unmounting) with:
    rm -r $pmem_dir
EOT

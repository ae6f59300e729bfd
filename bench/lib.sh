# bench/lib.sh - what the bench scripts (run.sh, caching.sh, profile.sh, dmap.sh, nfs.sh) share: dependencies,
# the build, scratch space, and mounting daxfs-fuse and tmpfs (sourced, not run).
#
# Sourced from the top of the checkout, it sets `root` (there), `build`
# (DAXFS_BUILD, or build-bench) and `out` (bench/out, where the results go);
# the caller then calls bench_setup; everything bench_setup creates is removed
# and unmounted by the EXIT trap it installs, however the script ends.

root=$PWD
build=${DAXFS_BUILD:-$root/build-bench}
out=$root/bench/out

MIB=$((1 << 20))
dev_size=16G		# both the daxfs device and the tmpfs mount
mount_timeout=10	# seconds to wait for a mount or a daemon's exit

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '== %s\n' "$*" >&2; }

# bench_args "$@": the command line of run.sh and caching.sh (--quick,
# --out DIR, --help: the script's header comment, and --only GROUP,... where
# the script names its groups of workloads in bench_groups); sets quick, out
# and only (empty: every group; else ",GROUP,...,").
bench_args() {
	local script=bench/${0##*/}
	only=
	while (($#)); do
		case $1 in
		--quick) quick=1 ;;
		--out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$2; shift ;;
		--only) [[ -n ${bench_groups:-} ]] || die "--only: $script has no groups of workloads"
			[[ $# -ge 2 && -n $2 ]] || die "--only needs a comma-separated list of: ${bench_groups// /, }"
			local g
			for g in ${2//,/ }; do
				[[ " $bench_groups " == *" $g "* ]] ||
					die "--only: unknown group '$g' (groups: ${bench_groups// /, })"
			done
			only=,$2, ; shift ;;
		-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "bench: unknown argument '$1'" >&2
		   echo "usage: bash $script [--quick] [--out DIR]${bench_groups:+ [--only GROUP,...]}" >&2
		   exit 2 ;;
		esac
		shift
	done
}

need_root() {
	[[ $EUID -eq 0 ]] || die "must run as root (it mounts tmpfs and drops the page cache)"
}

# bench_deps PKG...: installs the Debian packages that are missing, and the
# build's own (tools/install-deps.sh). DAXFS_NO_DEPS=1 installs nothing.
bench_deps() {
	[[ ${DAXFS_NO_DEPS:-0} != 1 ]] || return 0
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if ((${#missing[@]})); then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
			{ apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
	fi
	bash "$root/tools/install-deps.sh" >&2
}

# bench_build: configures (once) and builds $build unless DAXFS_NO_BUILD=1,
# then checks that every program the benchmark runs is there.
bench_build() {
	if [[ ${DAXFS_NO_BUILD:-0} != 1 ]]; then
		say "building into $build"
		[[ -f $build/build.ninja ]] || meson setup "$build" >&2
		ninja -C "$build" >&2
	fi
	daemon=$build/src/fuse/daxfs-fuse
	mkfs=$build/tools/mkfs.daxfs
	memcpy=$build/bench/daxfs-bench-memcpy
	meta=$build/bench/daxfs-bench-meta
	daxfs_run=$build/tools/daxfs-run
	report=(/usr/bin/python3 "$root/bench/report.py")
	local prog
	for prog in "$daemon" "$mkfs" "$memcpy" "$meta" "$daxfs_run"; do
		[[ -x $prog ]] || die "$prog is not built"
	done
	for prog in fio fusermount3 "$@"; do
		command -v "$prog" >/dev/null || die "$prog is not installed"
	done
}

# wanted GROUP: whether --only left GROUP in.
wanted() { [[ -z $only || $only == *",$1,"* ]]; }

is_mounted() { findmnt -rn --mountpoint "$1" >/dev/null 2>&1; }

# wait_for CMD...: polls until CMD succeeds; fails after mount_timeout seconds.
wait_for() {
	local deadline=$((SECONDS + mount_timeout))
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}

daemon_gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }
mounted_or_dead() { is_mounted "$mnt_daxfs" || daemon_gone; }

# bench_setup: scratch directories (under /tmp, and /dev/shm for the pmem
# files) and the trap that removes them.
bench_setup() {
	work=$(mktemp -d /tmp/daxfs-bench.XXXXXX)
	shm=$(mktemp -d /dev/shm/daxfs-bench.XXXXXX)
	mnt_daxfs=$work/daxfs
	mnt_tmpfs=$work/tmpfs
	mnt_peer=$work/peer
	peer_src=$work/peer-src
	mkdir "$mnt_daxfs" "$mnt_tmpfs" "$mnt_peer" "$peer_src"
	daemon_pid=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	set +e
	stop_daemon
	is_mounted "$mnt_tmpfs" && { umount "$mnt_tmpfs" || umount -l "$mnt_tmpfs"; }
	stop_peer
	rm -rf "$shm" "$work"
}

# start_daxfs [DAEMON_OPTS...]: a fresh sparse 16 GiB pmem file on /dev/shm,
# mkfs'd and mounted. The daemon runs in the foreground as our child, so its
# pid is known (for RSS and profiles) and its exit status is checked.
start_daxfs() {
	local pmem=$shm/pmem0
	rm -f "$pmem"
	"$mkfs" -s "$dev_size" -L bench "$pmem" >/dev/null
	"$daemon" -f "$@" "$pmem" "$mnt_daxfs" 2>"$work/daxfs-fuse.stderr" &
	daemon_pid=$!
	wait_for mounted_or_dead || die "daxfs-fuse did not mount within ${mount_timeout}s"
	if ! is_mounted "$mnt_daxfs"; then
		cat "$work/daxfs-fuse.stderr" >&2
		die "daxfs-fuse exited before mounting"
	fi
}

# stop_daemon: unmounts; the daemon must then exit 0 (else its stderr is
# shown and this fails).
stop_daemon() {
	[[ -n $daemon_pid ]] || return 0
	local status=0
	if is_mounted "$mnt_daxfs"; then
		fusermount3 -u "$mnt_daxfs" || fusermount3 -u -z "$mnt_daxfs" || umount -l "$mnt_daxfs"
	fi
	if ! wait_for daemon_gone; then
		echo "bench: daxfs-fuse (pid $daemon_pid) did not exit after unmount; killing it" >&2
		kill -KILL "$daemon_pid" 2>/dev/null || true
	fi
	wait "$daemon_pid" || status=$?
	daemon_pid=
	is_mounted "$mnt_daxfs" && umount -l "$mnt_daxfs"
	if ((status != 0)); then
		echo "bench: daxfs-fuse exited with status $status:" >&2
		cat "$work/daxfs-fuse.stderr" >&2
		return 1
	fi
}

stop_daxfs() {
	stop_daemon
	rm -f "$shm/pmem0"
}

start_tmpfs() { mount -t tmpfs -o "size=$dev_size" bench-tmpfs "$mnt_tmpfs"; }
stop_tmpfs() { umount "$mnt_tmpfs"; }

# The FUSE peer: bindfs (a passthrough FUSE filesystem) over a tmpfs of its
# own, so that it differs from the tmpfs column only by FUSE and from
# daxfs-fuse only by the server. It gets what daxfs-fuse asks of the kernel,
# so that the comparison is of the servers: several threads (bindfs serves
# one request at a time by default, which would halve its 2-job rows), WRITEs
# larger than a page (big_writes: libfuse 2, which bindfs uses, sends 4 KiB
# writes without it) and the page cache kept across opens (kernel_cache, as
# daxfs-fuse's keep_cache). A libfuse 2 mount needs no fusermount as root.
peer_opts=(--multithreaded -o big_writes,kernel_cache)
peer_version() { bindfs --version 2>/dev/null | awk '{ print $2; exit }'; }
start_peer() {
	mount -t tmpfs -o "size=$dev_size" bench-peer "$peer_src"
	bindfs "${peer_opts[@]}" "$peer_src" "$mnt_peer" || die "bindfs did not mount"
	wait_for is_mounted "$mnt_peer" || die "bindfs did not mount within ${mount_timeout}s"
}
stop_peer() {
	if [[ -n ${mnt_peer:-} ]] && is_mounted "$mnt_peer"; then
		umount "$mnt_peer" || umount -l "$mnt_peer"
	fi
	if [[ -n ${peer_src:-} ]] && is_mounted "$peer_src"; then
		umount "$peer_src" || umount -l "$peer_src"
	fi
}

rss_mib() { awk '/^RssAnon:/ { printf "%.3f", $2 / 1024 }' "/proc/$daemon_pid/status"; }

# drop_caches N: drops the page cache (1), dentries and inodes (2) or both
# (3), then waits a second: the kernel goes on freeing what it dropped (RCU
# callbacks, FORGETs to the FUSE servers) for a while after the write
# returns, and whatever runs first pays for it (LOOKUPs right after it ran at
# 50-85% of their rate a second later, on daxfs-fuse and the peer alike).
drop_caches() { sync; echo "$1" > /proc/sys/vm/drop_caches; sleep 1; }

# layout FILE BYTES: writes FILE sequentially (fio needs it complete before
# random reads, and the layout must not be part of any figure).
layout() {
	fio --name=layout --filename="$1" --rw=write --bs=1M --size="$2" --ioengine=psync \
		> "$work/fio.log" 2>&1 || { cat "$work/fio.log" >&2; die "fio layout of $1 failed"; }
}

"""Mounting daxfs-fuse in tests, after libfuse's test/util.py.

A Daxfs object owns one filesystem: its backing files (sparse, under the
test's tmp_path), its SOURCE (a comma-separated file list or a table file),
and at most one running daemon. The `daxfs` fixture always tears down: it
unmounts (lazily if it must), waits for the daemon, checks its exit status
and that its stderr holds nothing unexpected, and runs `fsck.daxfs -n`.
"""
import ctypes
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback

import pytest

from conftest import BUILD_DIR, sparse_file, tool  # noqa: F401  (sparse_file: for the tests)

MIB = 1 << 20
PAGE = 4096
SECTOR = 512
MOUNT_TIMEOUT = 10.0
EXIT_TIMEOUT = 20.0


def built(name):
    """Path of a built program, or None."""
    for sub in ("tools", "src/fuse"):
        path = BUILD_DIR / sub / name
        if path.exists():
            return str(path)
    return None


def need(name):
    """Path of a built program; fails the test when it is not built."""
    return tool(name)


def _unescape(field):
    """/proc/self/mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_entry(mnt):
    """The mountinfo fields of the mount at mnt, or None."""
    mnt = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape(fields[4]) == mnt:
                return fields
    return None


def is_mounted(mnt):
    return mount_entry(mnt) is not None


def wait_until(cond, timeout, what):
    """Polls cond() until it is true; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def in_processes(n, work):
    """Runs work(i) for i in 0..n-1, each in a forked child, all at once;
    every one must return without an exception."""
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            try:
                work(i)
                os._exit(0)
            except BaseException:
                traceback.print_exc()       # the test's captured stderr says why
                os._exit(1)
        pids.append(pid)
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def wait_or_fail(proc, timeout, failure, cleanup=None):
    """Waits for proc to exit; one that hangs past timeout is killed (and
    cleanup called) and the test fails with failure."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        if cleanup:
            cleanup()
        pytest.fail(failure)


def on_memory_fs(path):
    """Whether path is on tmpfs or ramfs, where a pmem file is in the
    daemon's "memory" persist mode (no msync)."""
    res = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return res.returncode == 0 and res.stdout.strip() in ("tmpfs", "ramfs")


def lazy_unmount(mnt):
    subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)
    if is_mounted(mnt):
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# The daemon's warning at mount about a member other users may read or write
# (tests that let them, on purpose, allow it).
OPEN_MEMBER = r"^daxfs-fuse: warning: .*: every user may (read|write|read and write) it \(mode"


class Daxfs:
    """One daxfs filesystem under tmp and its daemon."""

    def __init__(self, tmp, files=None, size=64 * MIB, table=None):
        """files: names of backing files (created sparse, size bytes each);
        table: table text, where {0}, {1}... stand for the files' paths."""
        self.tmp = tmp
        self.mnt = tmp / "mnt"
        self.mnt.mkdir(exist_ok=True)
        names = files or ["pmem0"]
        self.files = [sparse_file(tmp / n, size) for n in names]
        self.table = None
        if table is not None:
            self.table = str(tmp / "daxfs.table")
            self.set_table(table)
            self.source = self.table
        else:
            self.source = ",".join(self.files)
        self.proc = None
        self.stderr_path = None
        self.allowed = []       # stderr lines a test expects (allow_stderr)
        self.mounts = 0
        self.dirty = False      # killed: the fs may need recovery (fsck skipped)

    def set_table(self, table):
        """Rewrites the table file (same {0}, {1}... placeholders), e.g. to
        mount a layout-compatible table other than the one mkfs saw."""
        assert self.table is not None, "not a table-file filesystem"
        with open(self.table, "w") as f:
            f.write(table.format(*self.files))

    # ---- tools -------------------------------------------------------
    def mkfs(self, *args):
        res = subprocess.run([need("mkfs.daxfs"), *args, self.source],
                             capture_output=True, text=True)
        assert res.returncode == 0, f"mkfs.daxfs failed: {res.stderr}"
        return res

    def fsck(self):
        """fsck.daxfs -n must find the filesystem clean."""
        path = built("fsck.daxfs")
        if path is None:
            return None
        res = subprocess.run([path, "-n", self.source], capture_output=True, text=True)
        assert res.returncode == 0, \
            f"fsck.daxfs -n {self.source} exit {res.returncode}:\n{res.stdout}{res.stderr}"
        return res

    def resolve(self, md_offset, nr_pages=1):
        """The dm chain's answer for the page at md_offset bytes, as daxfs-ctl
        resolve gives it: (device path, byte offset of md_offset in that
        device, pages contiguous from there, at most nr_pages)."""
        table = self.table or self._list_table()
        res = subprocess.run([need("daxfs-ctl"), "resolve", table, str(md_offset // PAGE),
                              str(nr_pages), "--json"], capture_output=True, text=True)
        assert res.returncode == 0, f"daxfs-ctl resolve: {res.stdout}{res.stderr}"
        r = json.loads(res.stdout)
        dev = r["device"]
        return dev["path"], dev["sector"] * SECTOR + md_offset % PAGE, r["pages"]

    def _list_table(self):
        path = str(self.tmp / "list.table")
        start = 0
        with open(path, "w") as f:
            for p in self.files:
                sectors = os.path.getsize(p) // PAGE * (PAGE // SECTOR)
                f.write(f"{start} {sectors} linear {p} 0\n")
                start += sectors
        return path

    # ---- the daemon ----------------------------------------------------
    # the daemon's flags before SOURCE and MOUNTPOINT (a subclass may add -s)
    daemon_flags = ("-f",)

    def allow_stderr(self, pattern):
        self.allowed.append(re.compile(pattern))

    def start(self, *opts, source=None, cwd=None):
        """Starts `daxfs-fuse -f` (in directory cwd, if given) and returns the
        Popen (not waiting)."""
        cmd = [need("daxfs-fuse"), *self.daemon_flags, source or self.source, str(self.mnt)]
        for o in opts:
            cmd += ["-o", o]
        self.mounts += 1
        self.stderr_path = self.tmp / f"daxfs-fuse.{self.mounts}.stderr"
        with open(self.stderr_path, "w") as err:
            return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)

    def stderr(self):
        return self.stderr_path.read_text() if self.stderr_path else ""

    def mount(self, *opts, source=None, cwd=None):
        """Mounts (SOURCE and directory as start takes them) and waits until
        the mount is there; fails at once if the daemon dies first."""
        assert self.proc is None, "already mounted"
        proc = self.start(*opts, source=source, cwd=cwd)
        self.proc = proc

        def up():
            if proc.poll() is not None:
                self.proc = None
                pytest.fail(f"daxfs-fuse exited with {proc.returncode} before mounting:\n"
                            f"{self.stderr()}")
            return is_mounted(self.mnt)
        wait_until(up, MOUNT_TIMEOUT, f"the mount at {self.mnt}")
        return self.mnt

    def mount_fails(self, *opts, source=None):
        """Runs the daemon expecting it to refuse; returns its stderr."""
        proc = self.start(*opts, source=source)
        wait_or_fail(proc, MOUNT_TIMEOUT, "daxfs-fuse did not refuse the mount",
                     lambda: lazy_unmount(self.mnt))
        assert proc.returncode == 1, f"exit {proc.returncode}: {self.stderr()}"
        assert not is_mounted(self.mnt)
        return self.stderr()

    def _check_stderr(self):
        bad = [line for line in self.stderr().splitlines()
               if line.strip() and not any(p.search(line) for p in self.allowed)]
        assert not bad, "unexpected daxfs-fuse stderr:\n" + "\n".join(bad)

    def unmount(self, code=0):
        """fusermount3 -u, then the daemon must exit with code (0) and a clean stderr."""
        proc, self.proc = self.proc, None
        assert proc is not None, "not mounted"
        res = subprocess.run(["fusermount3", "-u", str(self.mnt)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            lazy_unmount(self.mnt)
        wait_or_fail(proc, EXIT_TIMEOUT, "daxfs-fuse did not exit after unmount")
        assert res.returncode == 0, f"fusermount3 -u: {res.stderr}"
        assert proc.returncode == code, f"daxfs-fuse exit {proc.returncode}:\n{self.stderr()}"
        self._check_stderr()
        self.dirty = False

    def terminate(self, sig=signal.SIGTERM):
        """Stops the daemon with sig; SIGTERM must unmount and exit 0."""
        proc, self.proc = self.proc, None
        proc.send_signal(sig)
        wait_or_fail(proc, EXIT_TIMEOUT, f"daxfs-fuse did not exit on signal {sig}",
                     lambda: lazy_unmount(self.mnt))
        if sig == signal.SIGKILL:
            self.dirty = True
            lazy_unmount(self.mnt)
            return proc.returncode
        assert proc.returncode == 0, f"exit {proc.returncode}:\n{self.stderr()}"
        assert not is_mounted(self.mnt)
        self._check_stderr()
        return 0

    def remount(self, *opts):
        self.unmount()
        return self.mount(*opts)

    def cleanup(self):
        """Teardown: never leaves a mount or a daemon behind."""
        if self.proc is not None:
            try:
                self.unmount()
            finally:
                if self.proc is not None and self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
                lazy_unmount(self.mnt)
        elif is_mounted(self.mnt):
            lazy_unmount(self.mnt)
        if self.mounts and not self.dirty:
            self.fsck()

    # ---- looking below the filesystem --------------------------------
    def iomap(self, path):
        """The file's extents: [(file_off, length, type, md_off or None)]."""
        text = os.getxattr(path, "system.daxfs.iomap").decode()
        out = []
        for line in text.splitlines():
            off, length, kind, addr = line.split()
            out.append((int(off), int(length), kind, None if addr == "-" else int(addr)))
        return out

    def backing_bytes(self, path, off=0, length=None):
        """The bytes of the file at path, read from the backing files by
        following the file's extent map and then the dm chain. Returns
        (bytes, set of backing files touched)."""
        if length is None:
            length = os.path.getsize(path) - off
        data = bytearray()
        devices = set()
        extents = self.iomap(path)
        pos, end = off, off + length
        while pos < end:
            ext = next(e for e in extents if e[0] <= pos < e[0] + e[1])
            n = min(end, ext[0] + ext[1]) - pos
            if ext[2] != "mapped":
                data += bytes(n)
            else:
                md = ext[3] + pos - ext[0]
                want = (md % PAGE + n + PAGE - 1) // PAGE
                dev, dev_off, pages = self.resolve(md, want)
                n = min(n, pages * PAGE - md % PAGE)
                with open(dev, "rb") as f:
                    f.seek(dev_off)
                    data += f.read(n)
                devices.add(dev)
            pos += n
        return bytes(data), devices


@pytest.fixture
def daxfs(tmp_path):
    """A fresh, mkfs'd, mounted filesystem on one 64 MiB sparse pmem file."""
    d = Daxfs(tmp_path)
    try:
        d.mkfs()
        d.mount()
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def daxfs_factory(tmp_path):
    """Makes Daxfs objects with custom layouts; all are cleaned up."""
    made = []

    def make(**kw):
        sub = tmp_path / f"fs{len(made)}"
        sub.mkdir()
        d = Daxfs(sub, **kw)
        made.append(d)
        return d
    try:
        yield make
    finally:
        errors = []
        for d in made:
            try:
                d.cleanup()
            except Exception as e:     # clean up every one, then report
                errors.append(e)
        if errors:
            raise errors[0]


def flock_free(path):
    """True if nobody holds the daemon's lock on a backing file."""
    with open(path, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


# ---- system calls Python's os module lacks ------------------------------
_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
FALLOC_FL_ZERO_RANGE = 16
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100


def _check(ret, what):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")
    return ret


def renameat2(old, new, flags):
    _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                ctypes.c_char_p, ctypes.c_uint]
    _check(_libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags),
           "renameat2")


def fallocate(fd, mode, off, length):
    _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    _check(_libc.fallocate(fd, mode, off, length), "fallocate")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime):
    """atime/mtime: (sec, nsec), or UTIME_NOW / UTIME_OMIT."""
    def ts(t):
        return _Timespec(0, t) if isinstance(t, int) else _Timespec(*t)
    times = (_Timespec * 2)(ts(atime), ts(mtime))
    _libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    _check(_libc.utimensat(AT_FDCWD, os.fsencode(path), times, 0), "utimensat")


class _FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 128)]


def name_to_handle_at(path):
    """The kernel's file handle of path, as an NFS server gets it:
    (handle_type, handle bytes)."""
    fh = _FileHandle(handle_bytes=128)
    mount_id = ctypes.c_int()
    _libc.name_to_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                                        ctypes.c_void_p, ctypes.c_int]
    _check(_libc.name_to_handle_at(AT_FDCWD, os.fsencode(path), ctypes.byref(fh),
                                   ctypes.byref(mount_id), 0), "name_to_handle_at")
    return fh.handle_type, bytes(fh.f_handle[:fh.handle_bytes])


def open_by_handle_at(mnt, handle, flags=os.O_RDONLY):
    """Opens the file a handle names on the filesystem mounted at mnt;
    returns the descriptor."""
    kind, data = handle
    fh = _FileHandle(handle_bytes=len(data), handle_type=kind)
    ctypes.memmove(fh.f_handle, data, len(data))
    _libc.open_by_handle_at.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    mfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _check(_libc.open_by_handle_at(mfd, ctypes.byref(fh), flags), "open_by_handle_at")
    finally:
        os.close(mfd)


FRAGMENT = """
import os, sys
path, other, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
gd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o644)
for k in reversed(range(pages)):
    assert os.pwrite(fd, bytes([k % 251]) * 4096, k * 4096) == 4096
    assert os.pwrite(gd, b"g" * 4096, k * 4096) == 4096
"""


def fragmented(path, other, pages):
    """Writes path (page k all bytes k % 251) and other a page at a time in
    turn, from their ends back, so that every page of path is an extent of
    its own: a file growing at its end would keep room ahead of it. Through
    the kernel's path, which allocates a page per page (under daxfs-run the
    library allocates 2 MiB at a time). Returns path's bytes."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run([sys.executable, "-c", FRAGMENT, str(path), str(other), str(pages)], env=env,
                   check=True, timeout=300)
    return b"".join(bytes([k % 251]) * PAGE for k in range(pages))


def drop_inode_cache():
    """What memory pressure does on its own: the kernel forgets every dentry
    and inode nobody uses (FUSE sends FORGET for them)."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")

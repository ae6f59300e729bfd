"""Fault injection on a mounted daxfs-fuse, dmerror-style: helpers for tests/test_fault_*.py.

A table switch is what fstests' _dmerror_load_error_table does: suspend
(--nolockfs unless lockfs is asked for), load the new table, resume; each
step through daxfs-ctl on the mount point.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import run_ctl
from mount import PAGE, SECTOR, wait_until

# What a daemon says on stderr while faults are injected: the failed requests
# (EIO from an error target or a bad block) and the trace.
FAULT_STDERR = [r"Input/output error", r"Memory page has hardware error",
                r"shut down", r"trace ", r"journal commit failed"]


def ctl(*args, check=True):
    r = run_ctl(*args)
    if check:
        assert r.returncode == 0, f"daxfs-ctl {' '.join(map(str, args))}: {r.stdout}{r.stderr}"
    return r


def ctl_json(*args):
    r = ctl(*args, "--json")
    assert r.stdout.count("\n") == 1, r.stdout
    return json.loads(r.stdout)


def allow_faults(d):
    for p in FAULT_STDERR:
        d.allow_stderr(p)


def mounted_for_faults(factory, *opts, **layout):
    """A fresh daxfs from factory (daxfs_factory, with layout: size, files,
    table) mounted with opts, its daemon allowed the complaints of faults."""
    d = factory(**layout)
    d.mkfs()
    d.mount(*opts)
    allow_faults(d)
    return d


@pytest.fixture(name="fs")
def fault_fs(daxfs_factory):
    """A 64 MiB daxfs mounted for faults (import it to have fixture `fs`)."""
    return mounted_for_faults(daxfs_factory)


def write_table(d, name, text):
    path = d.tmp / name
    path.write_text(text)
    return path


def switch_table(d, text, lockfs=False, name="switch.table"):
    """suspend, load, resume: the new table is live when this returns."""
    path = write_table(d, name, text)
    flags = [] if lockfs else ["--nolockfs"]
    ctl("suspend", d.mnt, *flags)
    ctl("load", d.mnt, path)
    ctl("resume", d.mnt, *flags)


def live_table(d):
    return ctl("table", d.mnt).stdout


def status(d):
    return ctl_json("status", d.mnt)


def target_errors(d):
    return sum(t["errors"] for t in status(d)["targets"])


def errno_of(fn, *args):
    """The errno fn raises, or None if it returns."""
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return None


def child(code, *args):
    """Runs code in a Python child; returns the CompletedProcess (a signal
    that killed it is a negative returncode)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


# How long a child held at a frozen filesystem may take to show up waiting
# (it happens in milliseconds) and to finish once let go.
CHILD_WAIT = 30


def start_child(code, *args):
    """Starts code in a Python child with its output piped; finish_child ends it."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_child(proc, timeout=CHILD_WAIT):
    """(exit status, stdout) of a start_child child, killed if it is not done
    within timeout."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out


def writers_waiting(d):
    """Writers the frozen filesystem of d holds at its gate (`info --json`)."""
    return ctl_json("info", d.mnt)["filesystem"]["writers_waiting"]


def wait_for_waiters(d, n=1):
    """Waits until the frozen filesystem of d holds n writers at its gate."""
    wait_until(lambda: writers_waiting(d) == n, CHILD_WAIT,
               f"{n} writer(s) waiting at the frozen filesystem")


TOUCH_MAPPED_PAGE = """
    import mmap, os, sys
    path, page = sys.argv[1], int(sys.argv[2])
    fd = os.open(path, os.O_RDONLY)
    m = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED, mmap.PROT_READ)
    sys.stdout.write("mapped\\n"); sys.stdout.flush()
    m[page * 4096]
    print("read")
"""


def mmap_touch(path, page):
    return child(TOUCH_MAPPED_PAGE, path, page)


def assert_sigbus(res):
    assert res.returncode == -signal.SIGBUS, \
        f"child exit {res.returncode}: {res.stdout}{res.stderr}"
    assert res.stdout == "mapped\n"


def write_synced(path, data, off=0):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.pwrite(fd, data, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_cached_pages(path):
    """Makes the next read go to the daemon instead of the kernel's page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def md_offset(d, path, file_off):
    """Byte offset on the mapped device of file_off of path."""
    for off, length, kind, addr in d.iomap(path):
        if off <= file_off < off + length:
            assert kind == "mapped", (path, file_off, kind)
            return addr + file_off - off
    raise AssertionError(f"{path}: offset {file_off} not mapped")


class LoopDevice:
    """A loop device over a sparse file (a block device: bio path, no DAX)."""

    def __init__(self, backing):
        self.backing = backing
        self.path = None

    def __enter__(self):
        losetup = shutil.which("losetup")
        if not losetup or os.geteuid() != 0:
            pytest.skip("loop devices need losetup and root")
        r = subprocess.run([losetup, "--find", "--show", str(self.backing)],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            pytest.skip(f"losetup: {r.stderr.strip()}")
        self.path = r.stdout.strip()
        return self

    def __exit__(self, *exc):
        subprocess.run(["losetup", "--detach", self.path], timeout=60)


def tiled_table(dev, n, sectors, bad=()):
    """n targets of sectors each over dev, in order; the ones in bad are error
    targets (same lengths: the layout fingerprint is unchanged)."""
    lines = []
    for i in range(n):
        if i in bad:
            lines.append(f"{i * sectors} {sectors} error")
        else:
            lines.append(f"{i * sectors} {sectors} linear {dev} {i * sectors}")
    return "\n".join(lines) + "\n"


__all__ = ["PAGE", "SECTOR"]

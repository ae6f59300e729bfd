"""suspend with lockfs freezes the filesystem (writers held until resume); --nolockfs does not."""
import os
import subprocess
import sys
import textwrap

import pytest

from faults import allow_faults, ctl, ctl_json, write_synced
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

WRITER = """
    import os, sys
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
    os.pwrite(fd, b"written while suspended", 0)
    os.close(fd)
    print("done")
"""

# How long a held writer must stay held to count as held: a writer that is
# not held finishes in milliseconds.
HELD = 1.0


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    allow_faults(d)
    yield d
    # never leave the device suspended (the daemon resumes at unmount, but
    # a failing test should not rely on that)
    ctl("resume", d.mnt, check=False)


def start_writer(path):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), str(path)],
                            stdout=subprocess.PIPE, text=True)


def finish(proc):
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out


@pytest.mark.parametrize("target", ["new", "existing"])
def test_suspend_with_lockfs_holds_writers_until_resume(fs, target):
    p = fs.mnt / target
    if target == "existing":
        write_synced(p, bytes(PAGE))
    ctl("suspend", fs.mnt)
    assert ctl_json("info", fs.mnt)["filesystem"]["frozen"] is True
    w = start_writer(p)
    with pytest.raises(subprocess.TimeoutExpired):
        w.wait(timeout=HELD)
    ctl("resume", fs.mnt)
    assert finish(w) == (0, "done\n")
    assert p.read_bytes().startswith(b"written while suspended")
    assert ctl_json("info", fs.mnt)["filesystem"]["frozen"] is False


def test_reads_go_on_while_frozen(fs):
    p = fs.mnt / "f"
    data = os.urandom(3 * PAGE)
    write_synced(p, data)
    ctl("suspend", fs.mnt)
    fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
    try:
        import mmap
        buf = mmap.mmap(-1, len(data))
        assert os.preadv(fd, [buf], 0) == len(data) and buf[:] == data
    finally:
        os.close(fd)
    ctl("resume", fs.mnt)


def test_suspend_nolockfs_does_not_hold_writers(fs):
    p = fs.mnt / "existing"
    write_synced(p, bytes(PAGE))
    ctl("suspend", fs.mnt, "--nolockfs")
    info = ctl_json("info", fs.mnt)
    assert info["state"] == "SUSPENDED" and info["filesystem"]["frozen"] is False
    assert finish(start_writer(p)) == (0, "done\n")
    ctl("resume", fs.mnt, "--nolockfs")
    assert ctl_json("info", fs.mnt)["state"] == "ACTIVE"


def test_unmount_while_suspended_resumes_and_exits_cleanly(fs):
    write_synced(fs.mnt / "f", b"data")
    ctl("suspend", fs.mnt)
    # a staged error table must not be swapped in by the unmount
    bad = fs.tmp / "error.table"
    bad.write_text(f"0 {64 * MIB // 512} error\n")
    ctl("load", fs.mnt, bad)
    fs.unmount()
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == b"data"

"""suspend with lockfs freezes the filesystem as freeze_super does: every call that would change it
waits before it copies a byte or takes a lock, reads go on, and a waiting caller can be
interrupted (kill, timeout) because the daemon honours FUSE INTERRUPT. --nolockfs freezes nothing."""
import errno
import mmap
import os
import signal
import subprocess

import pytest

from faults import (CHILD_WAIT, child, ctl, ctl_json, finish_child, mounted_for_faults, start_child,
                    wait_for_waiters, write_synced, writers_waiting)
from mount import MIB, PAGE, daxfs_factory, wait_until  # noqa: F401  (fixture)

WRITER = """
    import os, sys
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
    os.pwrite(fd, b"written while suspended", 0)
    os.close(fd)
    print("done")
"""


@pytest.fixture
def fs(daxfs_factory):
    d = mounted_for_faults(daxfs_factory)
    yield d
    # never leave the device suspended (the daemon resumes at unmount, but
    # a failing test should not rely on that)
    ctl("resume", d.mnt, check=False)


def member_bytes(d, path, length):
    data, _ = d.backing_bytes(path, 0, length)
    return data


@pytest.mark.parametrize("target", ["new", "existing"])
def test_suspend_with_lockfs_holds_writers_until_resume(fs, target):
    p = fs.mnt / target
    if target == "existing":
        write_synced(p, bytes(PAGE))
    ctl("suspend", fs.mnt)
    assert ctl_json("info", fs.mnt)["filesystem"]["frozen"] is True
    w = start_child(WRITER, p)
    wait_for_waiters(fs)
    assert w.poll() is None
    ctl("resume", fs.mnt)
    assert finish_child(w) == (0, "done\n")
    assert p.read_bytes().startswith(b"written while suspended")
    info = ctl_json("info", fs.mnt)["filesystem"]
    assert info["frozen"] is False and info["writers_waiting"] == 0


def held_writer(fs, old):
    """fs's file f holding old, the device suspended (the filesystem frozen)
    and WRITER of f started and waiting at the gate: (path, old, writer)."""
    p = fs.mnt / "f"
    write_synced(p, old)
    ctl("suspend", fs.mnt)
    w = start_child(WRITER, p)
    wait_for_waiters(fs)
    return p, old, w


def test_frozen_write_copies_no_byte_to_the_member(fs):
    """The kernel holds the writer at sb_start_write, before any copy: the
    backing file keeps the old bytes until resume."""
    p, old, w = held_writer(fs, b"A" * PAGE)
    assert member_bytes(fs, p, PAGE) == old
    ctl("resume", fs.mnt)
    assert finish_child(w) == (0, "done\n")
    assert member_bytes(fs, p, PAGE) == b"written while suspended" + old[23:]


O_DIRECT_READ = """
    import mmap, os, sys
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, int(sys.argv[2]))
    n = os.preadv(fd, [buf], 0)
    sys.stdout.write(buf[:n].decode())
"""


def test_o_direct_read_of_a_file_whose_writer_waits_goes_on(fs):
    p, old, w = held_writer(fs, b"B" * (3 * PAGE))
    r = child(O_DIRECT_READ, p, len(old))     # times out (fails) if held
    assert (r.returncode, r.stdout) == (0, old.decode())
    ctl("resume", fs.mnt)
    assert finish_child(w) == (0, "done\n")


def test_reads_go_on_while_frozen(fs):
    p = fs.mnt / "f"
    data = os.urandom(3 * PAGE)
    write_synced(p, data)
    ctl("suspend", fs.mnt)
    fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, len(data))
        assert os.preadv(fd, [buf], 0) == len(data) and buf[:] == data
    finally:
        os.close(fd)
    ctl("resume", fs.mnt)


# Each call that changes the filesystem, done by a child that prints "done",
# and what holds once it has run. File changes act on f, which the readers
# read; namespace changes act in the directory d: while the kernel waits for
# a namespace change it holds the directory's lock itself (on a kernel
# filesystem the freeze check comes before that lock, through FUSE it cannot),
# so a listing of d would wait in the kernel, not in the daemon.
OPS = {
    "write": ("os.pwrite(os.open(m + '/f', os.O_WRONLY), b'new', 0)",
              lambda m: (m / "f").read_bytes()[:3] == b"new"),
    "truncate": ("os.truncate(m + '/f', 1)", lambda m: (m / "f").stat().st_size == 1),
    "fallocate": ("os.posix_fallocate(os.open(m + '/f', os.O_WRONLY), 0, 1 << 20)",
                  lambda m: (m / "f").stat().st_size == MIB),
    "chmod": ("os.chmod(m + '/f', 0o600)", lambda m: (m / "f").stat().st_mode & 0o777 == 0o600),
    "setxattr": ("os.setxattr(m + '/f', 'user.k', b'v')",
                 lambda m: os.getxattr(m / "f", "user.k") == b"v"),
    "create": ("os.close(os.open(m + '/d/new', os.O_CREAT | os.O_WRONLY, 0o644))",
               lambda m: (m / "d/new").exists()),
    "mkdir": ("os.mkdir(m + '/d/sub')", lambda m: (m / "d/sub").is_dir()),
    "rename": ("os.rename(m + '/d/e', m + '/d/g')", lambda m: (m / "d/g").exists()),
    "unlink": ("os.unlink(m + '/d/e')", lambda m: not (m / "d/e").exists()),
    "link": ("os.link(m + '/d/e', m + '/d/h')", lambda m: (m / "d/h").exists()),
    "symlink": ("os.symlink('e', m + '/d/s')", lambda m: (m / "d/s").is_symlink()),
}

# A buffered write is copied into the kernel's page cache before the kernel
# sends WRITE (fuse_perform_write), so a buffered reader may see the waiting
# write's bytes there (until the kernel drops them, if the write fails); what
# the daemon serves, and O_DIRECT reads, are the old bytes.
READERS = """
    import mmap, os, sys
    m = sys.argv[1]
    os.stat(m + '/f'); os.stat(m + '/d'); os.getxattr(m + '/f', 'user.old')
    assert sorted(os.listdir(m)) == ['d', 'f']
    with open(m + '/f', 'rb') as f:
        assert len(f.read()) == 8192
    fd = os.open(m + '/f', os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 8192)
    assert os.preadv(fd, [buf], 0) == 8192 and buf[:] == b'x' * 8192
    print("read")
"""


@pytest.mark.parametrize("op", OPS)
def test_frozen_change_waits_and_reads_go_on(fs, op):
    code, done = OPS[op]
    f = fs.mnt / "f"
    write_synced(f, b"x" * 8192)
    os.setxattr(f, "user.old", b"1")
    (fs.mnt / "d").mkdir()
    write_synced(fs.mnt / "d/e", b"e")
    ctl("suspend", fs.mnt)
    w = start_child(f"import os, sys\nm = sys.argv[1]\n{code}\nprint('done')\n", fs.mnt)
    wait_for_waiters(fs)
    # getattr, lookup, readdir, getxattr, buffered and O_DIRECT reads
    r = child(READERS, fs.mnt)
    assert (r.returncode, r.stdout) == (0, "read\n"), r.stderr
    assert w.poll() is None
    ctl("resume", fs.mnt)
    assert finish_child(w)[0] == 0
    assert done(fs.mnt)


@pytest.mark.parametrize("target", ["new", "existing"])
def test_timeout_dd_on_frozen_fs_returns(fs, target):
    p = fs.mnt / "f"
    old = b"C" * PAGE
    if target == "existing":
        write_synced(p, old)
    ctl("suspend", fs.mnt)
    r = subprocess.run(["timeout", "2", "dd", "if=/dev/zero", f"of={p}", "bs=4096", "count=1"],
                       capture_output=True, timeout=CHILD_WAIT)
    assert r.returncode == 124          # timeout's SIGTERM ended dd
    assert writers_waiting(fs) == 0
    ctl("resume", fs.mnt)
    # dd's open (O_CREAT|O_TRUNC) was interrupted: nothing changed
    if target == "existing":
        assert p.read_bytes() == old
        assert member_bytes(fs, p, PAGE) == old
    else:
        assert not p.exists()


def test_kill_of_a_frozen_writer_returns(fs):
    p, old, w = held_writer(fs, b"D" * PAGE)
    w.kill()
    assert w.wait(timeout=CHILD_WAIT) == -signal.SIGKILL
    wait_until(lambda: writers_waiting(fs) == 0, CHILD_WAIT, "the killed writer's request to end")
    ctl("resume", fs.mnt)
    assert p.read_bytes() == old


EINTR_WRITER = """
    import ctypes, os, signal, sys
    libc = ctypes.CDLL(None, use_errno=True)
    signal.signal(signal.SIGUSR1, lambda *a: None)
    fd = os.open(sys.argv[1], os.O_WRONLY)
    print("open", flush=True)
    r = libc.pwrite(fd, b"E" * 4096, ctypes.c_size_t(4096), ctypes.c_long(0))
    print(r, ctypes.get_errno())
"""


def test_signal_to_a_frozen_writer_gives_eintr(fs):
    p = fs.mnt / "f"
    old = b"F" * PAGE
    write_synced(p, old)
    ctl("suspend", fs.mnt)
    w = start_child(EINTR_WRITER, p)
    assert w.stdout.readline() == "open\n"
    wait_for_waiters(fs)
    w.send_signal(signal.SIGUSR1)
    assert finish_child(w) == (0, f"-1 {errno.EINTR}\n")
    ctl("resume", fs.mnt)
    assert p.read_bytes() == old


def test_suspend_nolockfs_does_not_hold_writers(fs):
    p = fs.mnt / "existing"
    write_synced(p, bytes(PAGE))
    ctl("suspend", fs.mnt, "--nolockfs")
    info = ctl_json("info", fs.mnt)
    assert info["state"] == "SUSPENDED" and info["filesystem"]["frozen"] is False
    assert finish_child(start_child(WRITER, p)) == (0, "done\n")
    ctl("resume", fs.mnt, "--nolockfs")
    assert ctl_json("info", fs.mnt)["state"] == "ACTIVE"


def test_timeout_of_a_read_waiting_for_a_suspended_bio_device_returns(daxfs_factory):
    """On the bio path (dax=never) reads are bios, which a suspended device
    queues until resume; an interrupted one gives up."""
    d = mounted_for_faults(daxfs_factory, "dax=never")
    p = d.mnt / "f"
    write_synced(p, b"G" * PAGE)
    ctl("suspend", d.mnt, "--nolockfs")
    try:
        r = subprocess.run(["timeout", "2", "dd", f"if={p}", "of=/dev/null", "bs=4096",
                            "iflag=direct"], capture_output=True, timeout=CHILD_WAIT)
        assert r.returncode == 124
    finally:
        ctl("resume", d.mnt, "--nolockfs")
    assert child(O_DIRECT_READ, p, PAGE).stdout == "G" * PAGE


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

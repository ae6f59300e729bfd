"""syncfs on daxfs-fuse: by default (commit=0) every call is durable when it returns, so what
syncfs makes the kernel write back survives a SIGKILL of the daemon; -o commit=N batches."""
import ctypes
import mmap
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest

from faults import ctl_json
from mount import MIB, Daxfs, daxfs_factory, on_memory_fs  # noqa: F401

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syncfs.argtypes = [ctypes.c_int]


def syncfs(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _libc.syncfs(fd) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


def make_tree(mnt):
    """Changes of every kind, none of them fsynced; returns {name: bytes}."""
    data = {"a": os.urandom(5000), "b": os.urandom(300000), "d/c": os.urandom(10)}
    os.mkdir(mnt / "d")
    for name, b in data.items():
        (mnt / name).write_bytes(b)
    os.rename(mnt / "b", mnt / "d" / "b")
    data["d/b"] = data.pop("b")
    os.setxattr(mnt / "a", "user.k", b"v")
    # stores through a shared mapping reach the daemon only as write-back
    with open(mnt / "m", "w+b") as f:
        f.truncate(8192)
        with mmap.mmap(f.fileno(), 8192) as m:
            m[100:104] = b"mmap"
    data["m"] = b"\0" * 100 + b"mmap" + b"\0" * (8192 - 104)
    return data


def test_syncfs_then_sigkill_keeps_files_and_data(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    data = make_tree(d.mnt)
    syncfs(d.mnt)
    d.terminate(signal.SIGKILL)
    d.mount()
    for name, b in data.items():
        assert (d.mnt / name).read_bytes() == b, name
    assert os.getxattr(d.mnt / "a", "user.k") == b"v"
    assert not (d.mnt / "b").exists()
    d.unmount()
    d.fsck()


@pytest.fixture
def shm_daxfs():
    """A filesystem whose pmem file is on /dev/shm (tmpfs), mounted."""
    if not on_memory_fs("/dev/shm"):
        pytest.skip("/dev/shm is not tmpfs here")
    tmp = Path(tempfile.mkdtemp(prefix="daxfs-test-", dir="/dev/shm"))
    d = Daxfs(tmp, size=64 * MIB)
    try:
        d.mkfs()
        d.mount()
        yield d
    finally:
        try:
            d.cleanup()
        finally:
            shutil.rmtree(tmp)


def test_a_pmem_file_on_tmpfs_is_persisted_as_memory(shm_daxfs):
    dev = ctl_json("status", shm_daxfs.mnt)["devices"][0]
    assert dev["persist"] == "memory" and dev["is_pmem"] is False


def test_memory_mode_keeps_every_returned_call_across_sigkill(shm_daxfs):
    # no msync is issued on tmpfs: what a returned call stored is in the
    # file, and the next mount replays the journal from it
    d = shm_daxfs
    data = make_tree(d.mnt)
    syncfs(d.mnt)
    before = ctl_json("status", d.mnt)["devices"][0]
    assert before["flushes"] > 0
    d.terminate(signal.SIGKILL)
    d.mount()
    for name, b in data.items():
        assert (d.mnt / name).read_bytes() == b, name
    assert os.getxattr(d.mnt / "a", "user.k") == b"v"
    d.unmount()
    d.fsck()


def test_os_sync_then_sigkill_keeps_a_created_file(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    (d.mnt / "f").write_bytes(b"x" * 4096)
    os.sync()
    d.terminate(signal.SIGKILL)
    d.mount()
    assert (d.mnt / "f").read_bytes() == b"x" * 4096
    d.unmount()
    d.fsck()


def test_commit_option_batches_past_syncfs(daxfs_factory):
    # a day-long interval: nothing commits by itself while the test runs,
    # and syncfs never reaches the daemon
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount("commit=86400")
    (d.mnt / "kept").write_bytes(b"k")
    fd = os.open(d.mnt / "kept", os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    (d.mnt / "pending").write_bytes(b"p")
    syncfs(d.mnt)
    d.terminate(signal.SIGKILL)
    d.mount()
    assert (d.mnt / "kept").read_bytes() == b"k"
    assert not (d.mnt / "pending").exists()
    d.unmount()
    d.fsck()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "86401", "99999999999999999999"])
def test_commit_option_refuses_a_bad_value(daxfs_factory, value):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    err = d.mount_fails(f"commit={value}")
    assert f"invalid option commit={value}" in err, err
    assert "whole seconds" in err, err

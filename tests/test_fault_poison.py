"""Injected bad blocks (poison) on a backing device of a mounted filesystem: daxfs-ctl badblocks."""
import errno
import mmap
import os

import pytest

from faults import (allow_faults, assert_sigbus, ctl, ctl_json, errno_of, md_offset,
                    mmap_touch, status, write_synced)
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    allow_faults(d)
    return d


def poison_page(fs, path, file_off):
    """Marks the device page under file_off of path bad; returns (device, sector)."""
    md = md_offset(fs, path, file_off)
    dev, dev_off, _ = fs.resolve(md)
    sector = dev_off // 512
    ctl("badblocks", fs.mnt, dev, "add", sector, 8)
    return dev, sector


def direct_read(path, off, length):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, length)
    try:
        return os.preadv(fd, [buf], off), buf
    finally:
        os.close(fd)


def direct_write(path, off, data):
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, len(data))
    buf[:] = data
    try:
        return os.pwritev(fd, [buf], off)
    finally:
        os.close(fd)


def test_read_of_poisoned_page_is_short_then_eio(fs):
    p = fs.mnt / "f"
    data = os.urandom(4 * PAGE)
    write_synced(p, data)
    poison_page(fs, p, 2 * PAGE)
    n, buf = direct_read(p, 0, 4 * PAGE)
    assert n == 2 * PAGE and buf[:n] == data[:n]
    assert errno_of(direct_read, p, 2 * PAGE, PAGE) == errno.EIO
    assert sum(d["errors"] for d in status(fs)["devices"]) > 0


def test_mmap_fault_on_poisoned_page_raises_sigbus(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(4 * PAGE))
    poison_page(fs, p, 3 * PAGE)
    fd = os.open(p, os.O_RDONLY)       # drop the pages cached by write()
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    assert_sigbus(mmap_touch(p, 3))


def test_partial_write_of_poisoned_page_is_eio(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(2 * PAGE))
    poison_page(fs, p, PAGE)
    fd = os.open(p, os.O_WRONLY)
    try:
        assert errno_of(os.pwrite, fd, b"x" * 100, PAGE + 10) == errno.EIO
    finally:
        os.close(fd)


def test_full_page_overwrite_clears_the_poison(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(2 * PAGE))
    dev, sector = poison_page(fs, p, PAGE)
    assert ctl_json("badblocks", fs.mnt, dev, "list") == [{"sector": sector, "len": 8}]
    new = os.urandom(PAGE)
    assert direct_write(p, PAGE, new) == PAGE
    assert ctl_json("badblocks", fs.mnt, dev, "list") == []
    n, buf = direct_read(p, PAGE, PAGE)
    assert n == PAGE and buf[:] == new


def test_badblocks_clear_makes_the_old_data_readable(fs):
    p = fs.mnt / "f"
    data = os.urandom(2 * PAGE)
    write_synced(p, data)
    dev, sector = poison_page(fs, p, 0)
    assert errno_of(direct_read, p, 0, PAGE) == errno.EIO
    ctl("badblocks", fs.mnt, dev, "clear", sector, 8)
    assert ctl("badblocks", fs.mnt, dev).stdout == ""
    n, buf = direct_read(p, 0, 2 * PAGE)
    assert buf[:n] == data

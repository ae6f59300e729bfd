"""Injected bad blocks (poison) on a backing device of a mounted filesystem: daxfs-ctl badblocks."""
import errno
import mmap
import os
import subprocess

import pytest

from conftest import BUILD_DIR
from faults import (assert_sigbus, ctl, ctl_json, drop_cached_pages, errno_of, md_offset,
                    mmap_touch, mounted_for_faults, status, write_synced)
from faults import fault_fs  # noqa: F401  (fixture fs)
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

CACHING = {"plain": (), "writeback_cache": ("writeback_cache",)}


@pytest.fixture(params=list(CACHING))
def any_fs(request, daxfs_factory):
    """Mounted without and with the writeback cache."""
    return mounted_for_faults(daxfs_factory, *CACHING[request.param])


def poison_page(fs, path, file_off):
    """Marks the device page under file_off of path bad; returns (device, sector)."""
    md = md_offset(fs, path, file_off)
    dev, dev_off, _ = fs.resolve(md)
    sector = dev_off // 512
    ctl("badblocks", fs.mnt, dev, "add", sector, 8)
    return dev, sector


def poisoned_file(fs, size, at, drop=True):
    """fs's file f of size random bytes, written and synced, with the device
    page under file offset at marked bad and (drop) none of its pages
    cached: (path, data, (device, sector))."""
    p = fs.mnt / "f"
    data = os.urandom(size)
    write_synced(p, data)                           # leaves the pages cached
    bad = poison_page(fs, p, at)
    if drop:
        drop_cached_pages(p)
    return p, data, bad


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
    p, data, _ = poisoned_file(fs, 4 * PAGE, 2 * PAGE)
    n, buf = direct_read(p, 0, 4 * PAGE)
    assert n == 2 * PAGE and buf[:n] == data[:n]
    assert errno_of(direct_read, p, 2 * PAGE, PAGE) == errno.EIO
    n, buf = direct_read(p, 3 * PAGE, PAGE)         # a read that starts after it
    assert n == PAGE and buf[:] == data[3 * PAGE:]
    assert sum(d["errors"] for d in status(fs)["devices"]) > 0


def test_direct_read_of_several_requests_stops_at_the_poisoned_page(fs):
    """A 4 MiB read travels as four 1 MiB READs; the one that starts at the
    bad page fails, and the read returns the bytes of the ones before."""
    p, data, _ = poisoned_file(fs, 4 * MIB, 2 * MIB)
    n, buf = direct_read(p, 0, 4 * MIB)
    assert n == 2 * MIB and buf[:n] == data[:n]


def test_direct_read_stops_at_the_poisoned_page_even_when_it_is_cached(fs):
    """An O_DIRECT open has FOPEN_DIRECT_IO (src/fuse/rawio.c): its reads never
    look at the page cache, as dax_iomap_rw does not, so pages cached before
    the poison do not complete a short read (generic_file_read_iter would)."""
    p, data, _ = poisoned_file(fs, 4 * PAGE, 2 * PAGE, drop=False)
    n, buf = direct_read(p, 0, 4 * PAGE)
    assert n == 2 * PAGE and buf[:n] == data[:n]


def test_buffered_copy_of_poisoned_file_fails_with_eio_and_keeps_its_size(any_fs, tmp_path):
    """A page-cache READ never gets a short reply (the kernel's FUSE client
    takes one for EOF): cp reads the pages before the bad one, then fails."""
    p, data, _ = poisoned_file(any_fs, 8 * PAGE, 2 * PAGE)
    r = subprocess.run(["cp", str(p), str(tmp_path / "copy")], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == f"cp: error reading '{p}': Input/output error\n"
    assert (tmp_path / "copy").read_bytes() == data[:2 * PAGE]
    assert os.stat(p).st_size == 8 * PAGE
    with open(p, "rb") as f:                        # nothing after it became zeroes
        assert os.pread(f.fileno(), 5 * PAGE, 3 * PAGE) == data[3 * PAGE:]
        assert errno_of(os.pread, f.fileno(), PAGE, 2 * PAGE) == errno.EIO
    assert os.stat(p).st_size == 8 * PAGE


def test_small_write_next_to_poisoned_page_keeps_the_device_page(any_fs):
    """With the writeback cache, a short reply once left zeroed pages in the
    cache, and a 1-byte write then stored a zero page on the device."""
    p, data, _ = poisoned_file(any_fs, 8 * PAGE, 2 * PAGE)
    with open(p, "rb") as f:
        assert errno_of(f.read) == errno.EIO
    fd = os.open(p, os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"X", 3 * PAGE + 7) == 1
        os.fsync(fd)
    finally:
        os.close(fd)
    want = bytearray(data)
    want[3 * PAGE + 7] = ord("X")
    on_device, _ = any_fs.backing_bytes(p, 3 * PAGE, 5 * PAGE)
    assert on_device == want[3 * PAGE:]
    assert os.stat(p).st_size == 8 * PAGE


def test_mmap_fault_on_poisoned_page_raises_sigbus(fs):
    p, _, _ = poisoned_file(fs, 4 * PAGE, 3 * PAGE)
    assert_sigbus(mmap_touch(p, 3))


def test_mmap_fault_on_poisoned_page_is_bus_adrerr(fs):
    """Not the kernel's BUS_MCEERR_AR: a mapping of a FUSE file is page-cache
    backed, and a page its READ fails makes filemap_fault return
    VM_FAULT_SIGBUS, which the kernel reports as BUS_ADRERR whatever the
    error (docs/DESIGN.md, "Faults")."""
    p, _, _ = poisoned_file(fs, 4 * PAGE, 1 * PAGE)
    r = subprocess.run([str(BUILD_DIR / "tests" / "fault" / "touch"), str(p), "1"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (3, "SIGBUS BUS_ADRERR\n"), r.stderr


def test_partial_write_of_poisoned_page_is_eio(fs):
    p, _, _ = poisoned_file(fs, 2 * PAGE, PAGE, drop=False)
    fd = os.open(p, os.O_WRONLY)
    try:
        assert errno_of(os.pwrite, fd, b"x" * 100, PAGE + 10) == errno.EIO
    finally:
        os.close(fd)


def test_full_page_overwrite_clears_the_poison(fs):
    p, _, (dev, sector) = poisoned_file(fs, 2 * PAGE, PAGE, drop=False)
    assert ctl_json("badblocks", fs.mnt, dev, "list") == [{"sector": sector, "len": 8}]
    new = os.urandom(PAGE)
    assert direct_write(p, PAGE, new) == PAGE
    assert ctl_json("badblocks", fs.mnt, dev, "list") == []
    n, buf = direct_read(p, PAGE, PAGE)
    assert n == PAGE and buf[:] == new


def test_badblocks_clear_makes_the_old_data_readable(fs):
    p, data, (dev, sector) = poisoned_file(fs, 2 * PAGE, 0, drop=False)
    assert errno_of(direct_read, p, 0, PAGE) == errno.EIO
    ctl("badblocks", fs.mnt, dev, "clear", sector, 8)
    assert ctl("badblocks", fs.mnt, dev).stdout == ""
    n, buf = direct_read(p, 0, 2 * PAGE)
    assert buf[:n] == data

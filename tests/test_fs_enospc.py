"""A full filesystem: clean ENOSPC, nothing else damaged, space back after unlink.

Allocation is all or nothing per request and calls that shrink never fail
for space (docs/DESIGN.md, "Full filesystems"); every test ends with the
fixture's fsck -n.
"""
import errno
import mmap
import os
import shutil
import signal
import struct
import subprocess

import pytest

from conftest import tool
from media import BLOCK
from mount import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, MIB, PAGE,  # noqa: F401
                   daxfs_factory, fallocate, wait_until)


def fill(path):
    """Writes 1 MiB chunks until ENOSPC; returns the bytes written."""
    chunk = b"F" * MIB
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    written = 0
    try:
        with pytest.raises(OSError) as e:
            while True:
                written += os.write(fd, chunk)
        assert e.value.errno == errno.ENOSPC
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


@pytest.fixture
def small_fs(daxfs_factory):
    d = daxfs_factory(size=16 * MIB)
    d.mkfs()
    d.mount()
    return d


def test_filling_the_filesystem_gives_enospc(small_fs):
    written = fill(small_fs.mnt / "fill")
    assert 0 < written < 16 * MIB
    assert os.path.getsize(small_fs.mnt / "fill") == written
    assert os.statvfs(small_fs.mnt).f_bavail * os.statvfs(small_fs.mnt).f_frsize < MIB


def test_full_filesystem_keeps_existing_data(small_fs):
    keep = os.urandom(MIB)
    (small_fs.mnt / "keep").write_bytes(keep)
    fill(small_fs.mnt / "fill")
    assert (small_fs.mnt / "keep").read_bytes() == keep
    small_fs.remount()
    assert (small_fs.mnt / "keep").read_bytes() == keep


def test_full_filesystem_refuses_growth_but_allows_reads_and_removal(small_fs):
    fill(small_fs.mnt / "fill")
    with pytest.raises(OSError) as e:
        with open(small_fs.mnt / "more", "wb") as f:
            f.write(b"x" * MIB)
            f.flush()
    assert e.value.errno == errno.ENOSPC
    assert (small_fs.mnt / "fill").read_bytes()[:4] == b"FFFF"
    os.unlink(small_fs.mnt / "fill")


def test_space_comes_back_after_unlink(small_fs):
    free_before = os.statvfs(small_fs.mnt).f_bfree
    first = fill(small_fs.mnt / "fill")
    os.unlink(small_fs.mnt / "fill")
    # close sends RELEASE in the background: until it arrives the unlinked
    # file is still open, an orphan whose blocks are not free yet
    wait_until(lambda: os.statvfs(small_fs.mnt).f_bfree >= free_before - 2, 30,
               "the unlinked file's blocks to come back")
    second = fill(small_fs.mnt / "again")
    assert second >= first - MIB


def itable_extents(d):
    with open(d.files[0], "rb") as f:
        f.seek(212)
        return struct.unpack("<I", f.read(4))[0]


@pytest.mark.parametrize("crash", [False, True], ids=["unmounted", "killed"])
def test_inode_table_grown_by_many_files_gives_its_space_back(small_fs, crash):
    """Many empty files grow the inode table by extents taken from data
    space; once they are all gone, the next mount gives the table's trailing
    extents back, or a filesystem that once held many small files would
    keep that space for good (ENOSPC for data on an empty filesystem). A
    crash right after that mount's commit replays to the same."""
    d = small_fs
    used_empty = os.statvfs(d.mnt).f_blocks - os.statvfs(d.mnt).f_bfree
    (d.mnt / "many").mkdir()
    for k in range(3000):
        os.close(os.open(d.mnt / "many" / f"f{k}", os.O_CREAT | os.O_WRONLY, 0o644))
    full = os.statvfs(d.mnt)
    assert full.f_blocks - full.f_bfree > used_empty + 150     # the table grew
    for k in range(3000):
        os.unlink(d.mnt / "many" / f"f{k}")
    (d.mnt / "many").rmdir()
    d.unmount()
    assert itable_extents(d) > 1
    d.mount()
    st = os.statvfs(d.mnt)
    assert st.f_blocks - st.f_bfree <= used_empty + 2
    if crash:
        d.terminate(signal.SIGKILL)
    else:
        d.unmount()
    assert itable_extents(d) == 1
    d.mount()
    (d.mnt / "data").write_bytes(b"d" * 12 * MIB)           # the space is there for data
    for k in range(300):                                    # and the table grows again
        os.close(os.open(d.mnt / f"g{k}", os.O_CREAT | os.O_WRONLY, 0o644))
    assert (d.mnt / "data").read_bytes() == b"d" * 12 * MIB
    d.unmount()


def test_a_crash_between_a_shrinking_mount_and_its_checkpoint_replays(small_fs, tmp_path):
    """The mount that releases an orphan in the table's last extent and then
    gives the extent back logs the slot it cleared there along with the
    superblock whose table no longer has it. Replay must take that block for
    the inode table block it was, not refuse the transaction: the state
    between that commit record and the checkpoint (this mount's log over the
    media of before) mounts and checks clean."""
    d = small_fs
    for k in range(300):                            # a second table extent
        os.close(os.open(d.mnt / f"f{k}", os.O_CREAT | os.O_WRONLY, 0o644))
    held = os.open(d.mnt / "f299", os.O_RDONLY)     # an orphan in that extent
    try:
        for k in range(300):
            os.unlink(d.mnt / f"f{k}")
        d.terminate(signal.SIGKILL)
    finally:
        os.close(held)
    image = d.files[0]
    before = tmp_path / "before"
    shutil.copyfile(image, before)
    assert itable_extents(d) == 2
    d.mount()                                       # releases it, shrinks, commits
    d.terminate(signal.SIGKILL)
    assert itable_extents(d) == 1
    with open(image, "rb") as f:
        js, jb = struct.unpack_from("<QQ", f.read(BLOCK), 120)
        f.seek((js + 1) * BLOCK)
        log = f.read((jb - 1) * BLOCK)
    shutil.copyfile(before, image)                  # the media of before, with this log
    with open(image, "r+b") as f:
        f.seek((js + 1) * BLOCK)
        f.write(log)
        f.seek(256 + 16)
        gone, = struct.unpack("<Q", f.read(8))      # the extent given back
        # a slot of it that is not free (nothing logged clears it): the log
        # would drop an inode with the extent, and is refused
        f.seek(gone * BLOCK + (400 - 256) * 256)
        f.write(b"\x01")
    r = subprocess.run([tool("fsck.daxfs"), "-n", d.source], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 4 and f"gives back inode table block {gone + 9}" in r.stdout, r.stdout
    with open(image, "r+b") as f:
        f.seek(gone * BLOCK + (400 - 256) * 256)
        f.write(b"\x00")
    r = subprocess.run([tool("fsck.daxfs"), "-n", d.source], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    d.mount()
    assert os.listdir(d.mnt) == []
    d.unmount()
    assert itable_extents(d) == 1


# ---- all or nothing, and shrinking always works -------------------------

def bavail(d):
    return os.statvfs(d.mnt).f_bavail


def leave(d, filler, n):
    """Shortens the filler so that exactly n blocks are available."""
    have = bavail(d)
    assert have <= n
    os.truncate(filler, os.path.getsize(filler) - (n - have) * PAGE)
    assert bavail(d) == n


def striped(path, n, byte=b"a"):
    """A file of n one-block extents at blocks 0, 2, 4...: the inode's four
    inline extents are full at n = 4."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for k in range(n):
            assert os.pwrite(fd, byte * PAGE, 2 * k * PAGE) == PAGE
    finally:
        os.close(fd)


def test_statfs_keeps_two_percent_for_shrinking(small_fs):
    st = os.statvfs(small_fs.mnt)
    reserved = min(st.f_blocks // 50, 4096)
    assert st.f_bavail == st.f_bfree - reserved
    fill(small_fs.mnt / "fill")
    st = os.statvfs(small_fs.mnt)
    assert st.f_bavail == 0
    assert st.f_bfree == reserved


def test_hole_write_short_of_space_keeps_exactly_what_it_wrote(small_fs):
    m = small_fs.mnt
    striped(m / "sparse", 4)
    fill(m / "fill")
    leave(small_fs, m / "fill", 3)
    # the fifth extent takes a block for the extent chain first
    fd = os.open(m / "sparse", os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"b" * 5 * PAGE, 10 * PAGE) == 2 * PAGE
        with pytest.raises(OSError) as e:
            os.pwrite(fd, b"c" * PAGE, 20 * PAGE)
        assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert os.stat(m / "sparse").st_blocks == 6 * PAGE // 512
    small_fs.remount()      # the fixture's fsck -n runs at the end
    data = (m / "sparse").read_bytes()
    assert len(data) == 12 * PAGE
    assert data[10 * PAGE:] == b"b" * 2 * PAGE
    assert data[6 * PAGE:7 * PAGE] == b"a" * PAGE


def test_hole_write_without_room_for_its_extent_block_changes_nothing(small_fs):
    m = small_fs.mnt
    striped(m / "sparse", 4)
    fill(m / "fill")
    leave(small_fs, m / "fill", 1)
    bfree = os.statvfs(m).f_bfree
    fd = os.open(m / "sparse", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.pwrite(fd, b"b" * PAGE, 10 * PAGE)
        assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert os.statvfs(m).f_bfree == bfree
    assert os.stat(m / "sparse").st_blocks == 4 * PAGE // 512
    assert os.path.getsize(m / "sparse") == 7 * PAGE


def test_shrinking_calls_on_a_full_filesystem_succeed(small_fs):
    m = small_fs.mnt
    striped(m / "frag", 6)
    striped(m / "big", 3, b"B")
    with open(m / "big", "r+b") as f:       # four extents: the inode's inline map is full
        f.seek(10 * PAGE)
        f.write(b"B" * 64 * PAGE)
    (m / "victim").write_bytes(b"v" * PAGE)
    (m / "other").write_bytes(b"o" * PAGE)
    os.mkdir(m / "dir")
    os.setxattr(m / "other", "user.a", b"1")
    os.setxattr(m / "other", "user.b", b"2")
    fill(m / "fill")
    assert bavail(small_fs) == 0
    # a hole inside one extent splits it: the fifth extent needs a chain
    # block, from the reserve
    fd = os.open(m / "big", os.O_RDWR)
    try:
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 20 * PAGE, 2 * PAGE)
    finally:
        os.close(fd)
    os.truncate(m / "frag", 5 * PAGE + 100)
    os.truncate(m / "big", 50 * PAGE + 1)
    os.removexattr(m / "other", "user.a")
    os.removexattr(m / "other", "user.b")
    os.rename(m / "other", m / "victim")
    os.unlink(m / "frag")
    os.rmdir(m / "dir")
    big = (m / "big").read_bytes()
    assert big[10 * PAGE:] == b"B" * 10 * PAGE + bytes(2 * PAGE) + b"B" * (28 * PAGE + 1)
    assert (m / "victim").read_bytes() == b"o" * PAGE


def test_write_into_preallocated_space_on_a_full_filesystem_succeeds(small_fs):
    m = small_fs.mnt
    striped(m / "pre", 3)
    fd = os.open(m / "pre", os.O_RDWR)
    try:
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 100 * PAGE, 64 * PAGE)
        fill(m / "fill")
        # the write splits the unwritten extent: six extents, a chain block
        assert os.pwrite(fd, b"w" * PAGE, 130 * PAGE) == PAGE
    finally:
        os.close(fd)
    small_fs.remount()
    data = (m / "pre").read_bytes()
    assert data[129 * PAGE:130 * PAGE] == bytes(PAGE)
    assert data[130 * PAGE:] == b"w" * PAGE


def test_mapped_stores_get_enospc_at_msync_and_written_blocks_keep_them(small_fs):
    """FUSE sends nothing at a page fault: stores into a hole are allocated
    when the kernel writes the page back, and a full filesystem fails that
    (msync says ENOSPC) where ext4 would raise SIGBUS at the store. Stores
    into written blocks need no space and stay."""
    m = small_fs.mnt
    (m / "written").write_bytes(b"\x11" * (64 * PAGE))
    with open(m / "sparse", "wb") as f:
        f.truncate(64 * PAGE)
    fill(m / "fill")
    for name, byte, fails in (("written", 0xAA, False), ("sparse", 0xBB, True)):
        fd = os.open(m / name, os.O_RDWR)
        try:
            with mmap.mmap(fd, 64 * PAGE) as mp:
                mp[:] = bytes([byte]) * (64 * PAGE)
                if fails:
                    with pytest.raises(OSError) as e:
                        mp.flush()
                    assert e.value.errno == errno.ENOSPC
                else:
                    mp.flush()
        finally:
            os.close(fd)
    small_fs.remount()
    assert (m / "written").read_bytes() == b"\xaa" * (64 * PAGE)
    assert (m / "sparse").read_bytes() == bytes(64 * PAGE)      # nothing was stored


def test_mapped_stores_with_room_for_part_of_a_write_back_get_enospc_at_msync(small_fs):
    """Room for 32 of 64 pages stored through a mapping: a write-back request
    that fits in part was answered with a short count, which the kernel takes
    as done. The pages past it were dropped, and msync and fsync both
    succeeded. Now msync says ENOSPC, and every page reads back as stored or
    as the hole it stayed."""
    m = small_fs.mnt
    with open(m / "sparse", "wb") as f:
        f.truncate(64 * PAGE)
    fill(m / "fill")
    leave(small_fs, m / "fill", 32)
    fd = os.open(m / "sparse", os.O_RDWR)
    try:
        with mmap.mmap(fd, 64 * PAGE) as mp:
            mp[:] = b"\xbb" * (64 * PAGE)
            with pytest.raises(OSError) as e:
                mp.flush()
            assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    small_fs.remount()
    data = (m / "sparse").read_bytes()
    pages = [data[k * PAGE:(k + 1) * PAGE] for k in range(64)]
    assert set(pages) <= {b"\xbb" * PAGE, bytes(PAGE)}
    assert 0 < pages.count(b"\xbb" * PAGE) < 64


def test_fallocate_that_does_not_fit_allocates_nothing(small_fs):
    m = small_fs.mnt
    (m / "f").write_bytes(b"")
    fill(m / "fill")
    leave(small_fs, m / "fill", 10)
    for mode in (0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE):
        fd = os.open(m / "f", os.O_RDWR)
        try:
            with pytest.raises(OSError) as e:
                fallocate(fd, mode, 0, 20 * PAGE)
            assert e.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert os.stat(m / "f").st_blocks == 0
        assert os.path.getsize(m / "f") == 0
        assert bavail(small_fs) == 10


def test_zero_range_that_does_not_fit_keeps_the_data(small_fs):
    m = small_fs.mnt
    fd = os.open(m / "z", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"U" * 4 * PAGE, 0)
        os.pwrite(fd, b"U" * PAGE, 19 * PAGE)
        fill(m / "fill")
        leave(small_fs, m / "fill", 2)
        with pytest.raises(OSError) as e:
            fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 20 * PAGE)
        assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    small_fs.remount()
    data = (m / "z").read_bytes()
    assert data[:4 * PAGE] == b"U" * 4 * PAGE
    assert data[19 * PAGE:] == b"U" * PAGE

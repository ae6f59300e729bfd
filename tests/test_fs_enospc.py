"""A full filesystem: clean ENOSPC, nothing else damaged, space back after unlink."""
import errno
import os

import pytest

from mount import MIB, daxfs_factory, wait_until  # noqa: F401


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

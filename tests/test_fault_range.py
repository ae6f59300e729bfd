"""One range of the device switched to error (dmerror's _dmerror_mark_range_bad), on a block device.

On a DAX device the kernel's type rule refuses a table mixing linear and
error targets (kernel-chain.md Part B 1.7), so range errors run over a loop
device, where the filesystem uses the bio path. The filesystem is made on a
table of equal linear targets so that a table with one of them replaced by
error keeps the layout fingerprint.
"""
import errno
import os

import pytest

from faults import (LoopDevice, allow_faults, assert_sigbus, ctl, errno_of, md_offset,
                    mmap_touch, status, switch_table, tiled_table, write_synced)
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

TARGETS = 32
TARGET_SECTORS = 2 * MIB // 512
TARGET_BYTES = TARGET_SECTORS * 512


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=TARGETS * TARGET_BYTES)
    with LoopDevice(d.files[0]) as loop:
        d.source = d.table = str(d.tmp / "loop.table")
        with open(d.table, "w") as f:
            f.write(tiled_table(loop.path, TARGETS, TARGET_SECTORS))
        d.loop = loop.path
        d.mkfs()
        d.mount()
        allow_faults(d)
        try:
            yield d
        finally:
            d.cleanup()         # unmount and fsck while the loop device exists
            d.mounts = 0        # nothing left for the factory's cleanup


def big_file(fs, name="big", size=6 * MIB):
    """A file spanning several targets; returns (path, data, the index of the
    target holding its byte at size/2, the file offset where that target starts)."""
    p = fs.mnt / name
    data = os.urandom(size)
    write_synced(p, data)
    mid = md_offset(fs, p, size // 2)
    bad = mid // TARGET_BYTES
    # the file offset of the first byte in the bad target, found by walking
    # the file's pages (the extent map is monotonic only within an extent)
    first = next(off for off in range(0, size, PAGE)
                 if md_offset(fs, p, off) // TARGET_BYTES == bad)
    return p, data, bad, first


def test_read_across_error_range_is_short_then_eio(fs):
    p, data, bad, first = big_file(fs)
    assert first > 0, "the file must start before the bad target"
    switch_table(fs, tiled_table(fs.loop, TARGETS, TARGET_SECTORS, bad={bad}))
    fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
    try:
        import mmap
        buf = mmap.mmap(-1, len(data))
        n = os.preadv(fd, [buf], 0)
        assert 0 < n <= first and n % PAGE == 0
        assert buf[:n] == data[:n]
        assert errno_of(os.preadv, fd, [memoryview(buf)[:PAGE]], first) == errno.EIO
    finally:
        os.close(fd)
    t = status(fs)["targets"][bad]
    assert t["type"] == "error" and t["errors"] > 0


def test_mmap_of_page_in_error_range_raises_sigbus(fs):
    p, data, bad, first = big_file(fs)
    switch_table(fs, tiled_table(fs.loop, TARGETS, TARGET_SECTORS, bad={bad}))
    assert_sigbus(mmap_touch(p, first // PAGE))
    assert mmap_touch(p, 0).returncode == 0


def test_files_elsewhere_keep_working(fs):
    p, data, bad, first = big_file(fs)
    other = fs.mnt / "other"
    other_data = os.urandom(3 * PAGE)
    write_synced(other, other_data)
    if md_offset(fs, other, 0) // TARGET_BYTES == bad:
        pytest.skip("the allocator put both files in one target")
    switch_table(fs, tiled_table(fs.loop, TARGETS, TARGET_SECTORS, bad={bad}))
    assert other.read_bytes() == other_data
    with open(other, "r+b") as f:
        f.write(b"still writable")
    assert errno_of(p.read_bytes) == errno.EIO


def test_marking_the_range_good_restores_the_data(fs):
    p, data, bad, first = big_file(fs)
    working = ctl("table", fs.mnt).stdout
    switch_table(fs, tiled_table(fs.loop, TARGETS, TARGET_SECTORS, bad={bad}))
    assert errno_of(p.read_bytes) == errno.EIO
    switch_table(fs, working)
    assert p.read_bytes() == data
    fs.unmount()


FSYNC_AFTER_LOST_WRITEBACK = """
    import mmap, os, sys
    path, off = sys.argv[1], int(sys.argv[2])
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
    m[off:off + 5] = b"dirty"           # dirty page cache, not yet written back
    sys.stdout.write("dirty\\n"); sys.stdout.flush()
    sys.stdin.readline()                 # the table is switched meanwhile
    out = []
    for _ in range(2):
        try:
            os.fsync(fd)
            out.append("0")
        except OSError as e:
            out.append(str(e.errno))
    print(" ".join(out))
"""


def test_fsync_after_lost_writeback_is_eio_once_then_ok(fs):
    import subprocess
    import sys
    import textwrap
    p, data, bad, first = big_file(fs)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(FSYNC_AFTER_LOST_WRITEBACK),
                             str(p), str(first)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "dirty\n"
        switch_table(fs, tiled_table(fs.loop, TARGETS, TARGET_SECTORS, bad={bad}))
        out, _ = proc.communicate("go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.split() == [str(errno.EIO), "0"]

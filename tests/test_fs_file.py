"""File data through the kernel: open flags, read, write, fsync, fallocate, lseek, copy_file_range."""
import errno
import hashlib
import mmap
import os
import random
import subprocess
import sys

import pytest

from mount import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, MIB,  # noqa: F401
                   PAGE, daxfs, fallocate, fragmented, in_processes)


def pattern(n, seed=1):
    return random.Random(seed).randbytes(n)


def test_small_write_reads_back(daxfs):
    (daxfs.mnt / "f").write_bytes(b"hello, pmem")
    assert (daxfs.mnt / "f").read_bytes() == b"hello, pmem"


@pytest.mark.parametrize("size", [1, PAGE - 1, PAGE + 1, MIB, 3 * MIB + 17],
                         ids=["1B", "page-1", "page+1", "1MiB", "3MiB+17"])
def test_write_then_read_round_trips(daxfs, size):
    data = pattern(size)
    (daxfs.mnt / "f").write_bytes(data)
    assert (daxfs.mnt / "f").read_bytes() == data


def test_unaligned_overwrite_inside_a_file(daxfs):
    p = daxfs.mnt / "f"
    data = bytearray(pattern(3 * PAGE))
    p.write_bytes(data)
    with open(p, "r+b") as f:
        f.seek(PAGE - 5)
        f.write(b"Z" * 10)
    data[PAGE - 5:PAGE + 5] = b"Z" * 10
    assert p.read_bytes() == bytes(data)


def test_write_past_eof_leaves_a_hole_of_zeros(daxfs):
    p = daxfs.mnt / "f"
    with open(p, "wb") as f:
        f.seek(5 * MIB)
        f.write(b"end")
    data = p.read_bytes()
    assert len(data) == 5 * MIB + 3
    assert data[:5 * MIB] == bytes(5 * MIB)


def test_read_past_eof_returns_nothing(daxfs):
    (daxfs.mnt / "f").write_bytes(b"abc")
    fd = os.open(daxfs.mnt / "f", os.O_RDONLY)
    try:
        assert os.pread(fd, 10, 100) == b""
        assert os.pread(fd, 10, 1) == b"bc"
    finally:
        os.close(fd)


def test_o_trunc_empties_the_file(daxfs):
    (daxfs.mnt / "f").write_bytes(b"old contents")
    fd = os.open(daxfs.mnt / "f", os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert (daxfs.mnt / "f").read_bytes() == b""


def test_o_trunc_through_create_of_an_existing_file(daxfs):
    (daxfs.mnt / "f").write_bytes(b"old contents")
    fd = os.open(daxfs.mnt / "f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"new")
    os.close(fd)
    assert (daxfs.mnt / "f").read_bytes() == b"new"


def test_o_append_writes_at_the_end(daxfs):
    (daxfs.mnt / "f").write_bytes(b"start")
    fd = os.open(daxfs.mnt / "f", os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"+end")
    finally:
        os.close(fd)
    assert (daxfs.mnt / "f").read_bytes() == b"start+end"


def test_o_excl_on_an_existing_file_is_eexist(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    with pytest.raises(FileExistsError):
        os.open(daxfs.mnt / "f", os.O_WRONLY | os.O_CREAT | os.O_EXCL)


def test_o_sync_write_is_readable_at_once(daxfs):
    fd = os.open(daxfs.mnt / "f", os.O_WRONLY | os.O_CREAT | os.O_SYNC)
    try:
        assert os.write(fd, b"synced") == 6
    finally:
        os.close(fd)
    assert (daxfs.mnt / "f").read_bytes() == b"synced"


def test_file_in_more_pieces_than_a_read_reply_holds_reads_whole(daxfs):
    """256 one-page extents: a 1 MiB page-cache READ needs more pieces than
    one zero-copy reply holds; a short reply would be EOF to the kernel."""
    f, g = daxfs.mnt / "f", daxfs.mnt / "g"
    data = fragmented(f, g, 256)
    assert len(daxfs.iomap(f)) == 256
    # readahead of 1 MiB (the mount's own bdi; 128 KiB by default), so that
    # one READ asks for all 256 pieces
    st = os.stat(daxfs.mnt)
    bdi = f"/sys/class/bdi/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/read_ahead_kb"
    with open(bdi, "w") as b:
        b.write("1024")
    fd = os.open(f, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert os.pread(fd, 256 * PAGE, 0) == data
    finally:
        os.close(fd)
    assert os.stat(f).st_size == 256 * PAGE


FRAGMENTED_WRITES = """
import mmap, os, sys
path, size = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
print(os.pwrite(fd, b"b" * size, 0))
os.fsync(fd)
dfd = os.open(path, os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, size)
buf.write(b"d" * size)
print(os.pwrite(dfd, buf, 0))
os.close(dfd)
m = mmap.mmap(fd, size)
m[:] = b"m" * size
m.flush()
m.close()
os.fsync(fd)
"""


def test_a_write_into_a_file_of_many_extents_is_never_short(daxfs):
    """A 1 MiB write, the largest request, into 256 one-page extents: one
    piece per page. The daemon's write stopped at 64 pieces, and write()
    gave 256 KiB back with space to spare, a short count that a regular file
    never gives and that many programs never check. Buffered, O_DIRECT, and
    a mapping written back, each through the kernel's path (without the
    library, which serves writes itself)."""
    f, g = daxfs.mnt / "f", daxfs.mnt / "g"
    fragmented(f, g, 256)
    assert len(daxfs.iomap(f)) == 256
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run([sys.executable, "-c", FRAGMENTED_WRITES, str(f), str(256 * PAGE)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(256 * PAGE)] * 2
    fd = os.open(f, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert os.pread(fd, 257 * PAGE, 0) == b"m" * (256 * PAGE)
    finally:
        os.close(fd)
    assert g.read_bytes() == b"g" * (256 * PAGE)
    assert len(daxfs.iomap(f)) == 256     # overwritten in place


APPEND_IN_TURN = """
import os, sys
blocks, paths = int(sys.argv[1]), sys.argv[2:]
fds = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) for p in paths]
for k in range(blocks):
    for fd in fds:
        assert os.write(fd, bytes([k % 251]) * 4096) == 4096
"""


def append_in_turn(paths, blocks):
    """Appends 4 KiB to each file in turn through the kernel's path (the
    library allocates ahead in large batches of its own)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run([sys.executable, "-c", APPEND_IN_TURN, str(blocks)] + [str(p) for p in paths],
                   env=env, check=True, timeout=300)


def test_files_appended_in_turn_stay_in_few_extents(daxfs):
    """Files that grow together (logs, a database and its journal) took
    blocks in turn: each append was an extent of its own, and two files
    appended 4 KiB at a time ran out of extents (ENOSPC) at 69 MiB each on
    an almost empty filesystem. A growing file keeps room ahead of it that
    the others take last (docs/DESIGN.md, "Stream windows")."""
    paths = [daxfs.mnt / f"log{i}" for i in range(4)]
    append_in_turn(paths, 1024)
    for p in paths:
        extents = daxfs.iomap(p)
        assert len(extents) <= 16, (p, len(extents))
        assert sum(e[1] for e in extents) == 1024 * PAGE
        data = p.read_bytes()
        assert all(data[k * PAGE:(k + 1) * PAGE] == bytes([k % 251]) * PAGE for k in range(1024))


def test_room_kept_for_growing_files_is_given_out_when_nothing_else_is_left(daxfs):
    """The windows are a preference: a third file still fills the filesystem
    to its last block while two growing files keep theirs."""
    append_in_turn([daxfs.mnt / "a", daxfs.mnt / "b"], 64)
    fd = os.open(daxfs.mnt / "fill", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with pytest.raises(OSError) as e:
            while True:
                os.write(fd, b"F" * PAGE)
        assert e.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert os.statvfs(daxfs.mnt).f_bavail == 0


def test_o_direct_write_is_seen_by_a_cached_reader(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(2 * PAGE))
    cached = os.open(p, os.O_RDONLY)
    direct = os.open(p, os.O_RDWR | os.O_DIRECT)
    try:
        assert os.pread(cached, 2 * PAGE, 0) == bytes(2 * PAGE)   # fill the page cache
        buf = mmap.mmap(-1, PAGE)                                 # aligned buffer
        buf.write(b"D" * PAGE)
        assert os.pwritev(direct, [buf], PAGE) == PAGE
        assert os.pread(cached, PAGE, PAGE) == b"D" * PAGE
        assert os.pread(direct, PAGE, PAGE) == b"D" * PAGE
    finally:
        os.close(direct)
        os.close(cached)


def test_fsync_and_fdatasync_succeed(daxfs):
    with open(daxfs.mnt / "f", "wb") as f:
        f.write(b"x" * 100)
        f.flush()
        os.fsync(f.fileno())
        os.fdatasync(f.fileno())


def test_fsync_of_a_directory_succeeds(daxfs):
    fd = os.open(daxfs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_data_survives_remount(daxfs):
    data = pattern(2 * MIB + 123, seed=7)
    (daxfs.mnt / "f").write_bytes(data)
    daxfs.remount()
    assert hashlib.sha256((daxfs.mnt / "f").read_bytes()).digest() == \
        hashlib.sha256(data).digest()


def test_fallocate_extends_the_size_with_zeros(daxfs):
    with open(daxfs.mnt / "f", "wb+") as f:
        os.posix_fallocate(f.fileno(), 0, 3 * PAGE)
        assert os.fstat(f.fileno()).st_size == 3 * PAGE
        assert f.read() == bytes(3 * PAGE)


def test_fallocate_keep_size_does_not_change_the_size(daxfs):
    with open(daxfs.mnt / "f", "wb+") as f:
        f.write(b"abc")
        f.flush()
        fallocate(f.fileno(), FALLOC_FL_KEEP_SIZE, 0, 4 * PAGE)
        assert os.fstat(f.fileno()).st_size == 3


def test_punch_hole_reads_back_zeros_and_keeps_the_size(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"x" * 4 * PAGE)
    with open(p, "r+b") as f:
        fallocate(f.fileno(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, 2 * PAGE)
    assert p.read_bytes() == b"x" * PAGE + bytes(2 * PAGE) + b"x" * PAGE


def test_punch_hole_of_a_partial_page_zeroes_only_that_range(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"x" * PAGE)
    with open(p, "r+b") as f:
        fallocate(f.fileno(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 50)
    assert p.read_bytes() == b"x" * 100 + bytes(50) + b"x" * (PAGE - 150)


def test_zero_range_reads_back_zeros(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"y" * 3 * PAGE)
    with open(p, "r+b") as f:
        fallocate(f.fileno(), FALLOC_FL_ZERO_RANGE, 10, PAGE)
    assert p.read_bytes() == b"y" * 10 + bytes(PAGE) + b"y" * (2 * PAGE - 10)


def test_seek_data_and_seek_hole_find_the_extents(daxfs):
    p = daxfs.mnt / "f"
    with open(p, "wb") as f:
        f.seek(MIB)
        f.write(b"d" * PAGE)
        f.truncate(3 * MIB)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.lseek(fd, 0, os.SEEK_DATA) == MIB
        assert os.lseek(fd, MIB, os.SEEK_HOLE) == MIB + PAGE
        with pytest.raises(OSError) as e:
            os.lseek(fd, MIB + PAGE, os.SEEK_DATA)
        assert e.value.errno == errno.ENXIO
    finally:
        os.close(fd)


def test_copy_file_range_copies_the_bytes(daxfs):
    data = pattern(MIB + 5, seed=3)
    (daxfs.mnt / "src").write_bytes(data)
    (daxfs.mnt / "dst").write_bytes(b"")
    src = os.open(daxfs.mnt / "src", os.O_RDONLY)
    dst = os.open(daxfs.mnt / "dst", os.O_WRONLY)
    try:
        done = 0
        while done < len(data):
            n = os.copy_file_range(src, dst, len(data) - done, done, done)
            assert n > 0
            done += n
    finally:
        os.close(src)
        os.close(dst)
    assert (daxfs.mnt / "dst").read_bytes() == data


def test_copy_file_range_into_a_cached_file_is_seen(daxfs):
    (daxfs.mnt / "src").write_bytes(b"S" * PAGE)
    (daxfs.mnt / "dst").write_bytes(b"D" * PAGE)
    dst = os.open(daxfs.mnt / "dst", os.O_RDWR)
    src = os.open(daxfs.mnt / "src", os.O_RDONLY)
    try:
        assert os.pread(dst, PAGE, 0) == b"D" * PAGE       # cached
        assert os.copy_file_range(src, dst, 100, 0, 0) == 100
        assert os.pread(dst, PAGE, 0) == b"S" * 100 + b"D" * (PAGE - 100)
    finally:
        os.close(src)
        os.close(dst)


def test_concurrent_writers_to_different_files(daxfs):
    def work(i):
        (daxfs.mnt / f"f{i}").write_bytes(pattern(MIB, seed=i))
    in_processes(4, work)
    for i in range(4):
        assert (daxfs.mnt / f"f{i}").read_bytes() == pattern(MIB, seed=i)


def test_concurrent_writers_to_disjoint_ranges_of_one_file(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")

    def work(i):
        fd = os.open(p, os.O_WRONLY)
        for k in range(16):           # interleave the writers
            off = (k * 4 + i) * (64 << 10)
            os.pwrite(fd, pattern(64 << 10, seed=k * 4 + i), off)
        os.close(fd)
    in_processes(4, work)
    data = p.read_bytes()
    assert len(data) == 64 * (64 << 10)
    for j in range(64):
        assert data[j * (64 << 10):(j + 1) * (64 << 10)] == pattern(64 << 10, seed=j), j

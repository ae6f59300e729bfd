"""O_DIRECT opens get FOPEN_DIRECT_IO and FOPEN_PARALLEL_DIRECT_WRITES, on a connection that accepted
FUSE_DIRECT_IO_ALLOW_MMAP (src/fuse/rawio.c): writers of one file run side by side, the file can still
be mapped shared and stays coherent with buffered I/O, and the daemon drops the set-id bits the kernel
no longer drops for such writes."""
import mmap
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from faults import (CHILD_WAIT, ctl, finish_child, mounted_for_faults, start_child, wait_for_waiters,
                    write_synced)
from mount import PAGE, daxfs_factory  # noqa: F401  (fixture)
from users import shared_dir, shared_fs, users  # noqa: F401  (fixtures)


@pytest.fixture
def fs(daxfs_factory):
    d = mounted_for_faults(daxfs_factory)
    yield d
    ctl("resume", d.mnt, check=False)     # never leave it frozen


def aligned(data):
    buf = mmap.mmap(-1, len(data))        # page-aligned, as O_DIRECT wants
    buf[:] = data
    return buf


def direct_pwrite(path, data, off):
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        return os.pwritev(fd, [aligned(data)], off)
    finally:
        os.close(fd)


def direct_pread(path, length, off):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, length)
    try:
        n = os.preadv(fd, [buf], off)
        return buf[:n]
    finally:
        os.close(fd)


DIRECT_WRITER = """
    import mmap, os, sys
    buf = mmap.mmap(-1, 4096)
    buf[:] = sys.argv[2].encode() * 4096
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
    assert os.pwritev(fd, [buf], int(sys.argv[3])) == 4096
    os.close(fd)
    print("done")
"""


def test_two_o_direct_writers_of_one_file_reach_the_daemon_together(fs):
    """With the filesystem frozen both WRITEs wait in the daemon at once;
    without FOPEN_PARALLEL_DIRECT_WRITES the second writer would wait in the
    kernel for the inode's lock the first holds across its request."""
    p = fs.mnt / "f"
    write_synced(p, bytes(4 * PAGE))
    ctl("suspend", fs.mnt)
    procs = [start_child(DIRECT_WRITER, p, c, i * PAGE) for i, c in enumerate("ab")]
    try:
        wait_for_waiters(fs, 2)            # both WRITEs are in the daemon
    finally:
        ctl("resume", fs.mnt)
        results = [finish_child(w) for w in procs]
    assert results == [(0, "done\n")] * 2
    assert p.read_bytes() == b"a" * PAGE + b"b" * PAGE + bytes(2 * PAGE)


def test_many_o_direct_writers_of_one_file_lose_nothing(fs):
    """Four processes rewrite interleaved pages of one file many times over;
    every page ends with its writer's last pass."""
    p = fs.mnt / "f"
    pages, passes = 64, 20
    write_synced(p, bytes(pages * PAGE))
    code = """
        import mmap, os, sys
        me, n, pages, passes = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        buf = mmap.mmap(-1, 4096)
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
        for k in range(passes):
            for pg in range(int(me), pages, n):
                buf[:] = (b"%c%02d" % (65 + int(me), k)) * 1365 + b"."
                assert os.pwritev(fd, [buf], pg * 4096) == 4096
        os.close(fd)
        print("done")
    """
    procs = [start_child(code, p, i, 4, pages, passes) for i in range(4)]
    assert [finish_child(w) for w in procs] == [(0, "done\n")] * 4
    data = p.read_bytes()
    for pg in range(pages):
        want = (b"%c%02d" % (65 + pg % 4, passes - 1)) * 1365 + b"."
        assert data[pg * PAGE:(pg + 1) * PAGE] == want, f"page {pg}"


def test_o_direct_descriptor_can_be_mapped_shared_and_stays_coherent(fs):
    """FOPEN_DIRECT_IO alone refuses MAP_SHARED (ENODEV); with
    FUSE_DIRECT_IO_ALLOW_MMAP the mapping works, a direct write reaches it
    and its stores reach a direct read once written back."""
    p = fs.mnt / "f"
    write_synced(p, b"0" * 2 * PAGE)
    fd = os.open(p, os.O_RDWR | os.O_DIRECT)
    try:
        m = mmap.mmap(fd, 2 * PAGE)
        try:
            assert m[:1] == b"0"
            m[0:5] = b"store"
            m.flush()
            assert direct_pread(p, PAGE, 0)[:5] == b"store"
            assert os.pwritev(fd, [aligned(b"D" * PAGE)], PAGE) == PAGE
            assert m[PAGE:PAGE + 4] == b"DDDD"
        finally:
            m.close()
    finally:
        os.close(fd)
    assert p.read_bytes() == b"store" + b"0" * (PAGE - 5) + b"D" * PAGE


def test_direct_write_replaces_the_pages_a_buffered_reader_cached(fs):
    p = fs.mnt / "f"
    write_synced(p, b"o" * 3 * PAGE)
    with open(p, "rb", buffering=0) as reader:
        assert reader.read() == b"o" * 3 * PAGE      # cached
        assert direct_pwrite(p, b"n" * PAGE, PAGE) == PAGE
        assert os.pread(reader.fileno(), 3 * PAGE, 0) == b"o" * PAGE + b"n" * PAGE + b"o" * PAGE


def test_direct_write_past_the_end_extends_the_file(fs):
    p = fs.mnt / "f"
    write_synced(p, b"x" * PAGE)
    assert direct_pwrite(p, b"y" * PAGE, 3 * PAGE) == PAGE
    assert os.stat(p).st_size == 4 * PAGE
    assert p.read_bytes() == b"x" * PAGE + bytes(2 * PAGE) + b"y" * PAGE


def test_direct_append_lands_at_the_end(fs):
    p = fs.mnt / "f"
    write_synced(p, b"x" * PAGE)
    fd = os.open(p, os.O_WRONLY | os.O_DIRECT | os.O_APPEND)
    try:
        for c in b"ab":
            assert os.writev(fd, [aligned(bytes([c]) * PAGE)]) == PAGE
    finally:
        os.close(fd)
    assert p.read_bytes() == b"x" * PAGE + b"a" * PAGE + b"b" * PAGE


# ---- set-id bits ---------------------------------------------------------------

@pytest.fixture
def shared(shared_fs):
    shared_fs.mount("allow_other")
    return shared_fs


def set_id_file(fs, mode):
    path = fs.mnt / "f"
    path.write_bytes(bytes(2 * PAGE))
    os.chmod(path, mode)
    return path


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def cached_mode_of(path):
    """The mode as the kernel has it cached: coreutils' stat asks statx for
    STATX_MODE alone, which a write's dropped times do not refresh."""
    r = subprocess.run(["stat", "-c", "%a", str(path)], capture_output=True, text=True, check=True)
    return int(r.stdout, 8)


WRITE_AND_STAT = """
    import mmap, os, sys
    buf = mmap.mmap(-1, 4096)
    buf[:] = b"w" * 4096
    fd = os.open(sys.argv[1], os.O_WRONLY | (os.O_DIRECT if sys.argv[2] == "1" else 0))
    assert os.pwritev(fd, [buf], 4096) == 4096
    os.close(fd)
"""


def without_cap_fsetid(*argv):
    """argv as root without CAP_FSETID (gone from the bounding and
    inheritable sets, so exec does not give it back)."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is missing"
    return [setpriv, "--inh-caps=-fsetid", "--bounding-set=-fsetid", *argv]


@pytest.mark.parametrize("direct", [False, True], ids=["buffered", "O_DIRECT"])
def test_write_by_root_without_cap_fsetid_clears_set_id_bits(shared, direct):
    """What decides is the capability, not the uid: root that dropped
    CAP_FSETID loses the bits as any user would (the kernel's rule)."""
    path = set_id_file(shared, 0o6777)
    r = subprocess.run(without_cap_fsetid(sys.executable, "-c", textwrap.dedent(WRITE_AND_STAT),
                                          str(path), "1" if direct else "0"),
                       capture_output=True, text=True, timeout=CHILD_WAIT)
    assert r.returncode == 0, r.stderr
    assert cached_mode_of(path) == 0o777   # the kernel's cached mode was dropped
    assert mode_of(path) == 0o777
    assert path.read_bytes()[PAGE:] == b"w" * PAGE


def test_direct_write_by_root_with_cap_fsetid_keeps_set_id_bits(shared):
    path = set_id_file(shared, 0o6777)
    assert direct_pwrite(path, b"r" * PAGE, PAGE) == PAGE
    assert mode_of(path) == 0o6777


def test_direct_write_by_root_of_another_user_namespace_clears_set_id_bits(shared):
    """capable() asks about the initial namespace: a namespace's own root,
    which has every capability there, is not root of the filesystem."""
    path = set_id_file(shared, 0o6777)
    r = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c",
                        textwrap.dedent(WRITE_AND_STAT), str(path), "1"],
                       capture_output=True, text=True, timeout=CHILD_WAIT)
    assert r.returncode == 0, r.stderr
    assert cached_mode_of(path) == 0o777
    assert mode_of(path) == 0o777


def test_direct_write_keeps_set_group_id_without_group_execute(shared, users):
    path = set_id_file(shared, 0o6767)
    r = users.outsider.run(WRITE_AND_STAT, path, "1")
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o2767

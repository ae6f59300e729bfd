"""libdaxfs leases: blocks under a direct mapping go to no other file until the holder is gone."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from client_util import create, dmaps  # noqa: F401  (fixture)
from mount import MIB, PAGE, daxfs, fallocate  # noqa: F401  (fixture)

SIZE = 64 * PAGE
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
DEADLINE = 30.0


def blocks(fs, path):
    """The mapped device pages under path's data."""
    out = set()
    for off, length, kind, addr in fs.iomap(path):
        if kind != "hole":
            out.update(range(addr // PAGE, (addr + length) // PAGE))
    return out


def fill_until_enospc(path, byte):
    """Appends byte-filled data to path until the filesystem is full."""
    chunk = bytes([byte]) * (256 * 1024)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                if os.write(fd, chunk) < len(chunk):
                    break
            except OSError as e:
                assert e.errno == errno.ENOSPC
                if len(chunk) == PAGE:
                    break
                chunk = chunk[:PAGE]
        os.fsync(fd)
    finally:
        os.close(fd)


def truncate(path):
    os.truncate(path, 0)


def punch(path):
    fd = os.open(path, os.O_WRONLY)
    try:
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, SIZE)
    finally:
        os.close(fd)


def unlink(path):
    os.unlink(path)


def mapped_file(daxfs, dmaps):
    """A file "a" of SIZE bytes of 0xaa that a holder maps whole:
    (its path, its blocks, the holder)."""
    a = daxfs.mnt / "a"
    create(a, b"\xaa" * SIZE)
    old = blocks(daxfs, a)
    d = dmaps(a)
    assert d.map(0, SIZE)[0]
    return a, old, d


def reused_by_a_new_file(daxfs, old):
    """Whether a new file "b", filled until ENOSPC, gets any of the blocks old."""
    b = daxfs.mnt / "b"
    fill_until_enospc(b, 0xBB)
    return bool(blocks(daxfs, b) & old)


@pytest.mark.parametrize("drop", [truncate, punch, unlink], ids=["truncate", "punch", "unlink"])
def test_blocks_dropped_while_mapped_go_to_no_other_file(daxfs, dmaps, drop):
    a, old, d = mapped_file(daxfs, dmaps)
    drop(a)
    assert not reused_by_a_new_file(daxfs, old)
    assert d.read(0, SIZE) == b"\xaa" * SIZE


def test_blocks_held_for_a_mapping_are_free_but_not_available(daxfs, dmaps):
    """statfs counted the blocks a truncate dropped under a mapping as
    available, while no write could have them: a filesystem filled to
    ENOSPC still showed them in df's Avail."""
    a, old, d = mapped_file(daxfs, dmaps)
    before = os.statvfs(daxfs.mnt)
    truncate(a)
    after = os.statvfs(daxfs.mnt)
    assert after.f_bfree >= before.f_bfree + len(old)
    assert after.f_bavail < before.f_bavail + len(old)
    # filled through the kernel's path until statfs agrees: under daxfs-run
    # this process's blocks allocated ahead of a's end come back at its
    # RELEASE, which the kernel sends when it gets to it, and the library
    # would allocate ahead of b's end too, giving it back at the close
    deadline = time.monotonic() + DEADLINE
    fill = ("import sys\n"
            "from test_client_lease import fill_until_enospc\n"
            "fill_until_enospc(sys.argv[1], 0xBB)\n")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    while True:
        subprocess.run([sys.executable, "-c", fill, str(daxfs.mnt / "b")], env=env, check=True,
                       cwd=os.path.dirname(__file__), timeout=120)
        if os.statvfs(daxfs.mnt).f_bavail == 0:
            break
        assert time.monotonic() < deadline, "statfs shows room that no write can have"
        time.sleep(0.05)
    assert d.read(0, SIZE) == b"\xaa" * SIZE


def test_blocks_dropped_while_mapped_are_reused_after_the_holder_is_killed(daxfs, dmaps):
    a, old, d = mapped_file(daxfs, dmaps)
    truncate(a)
    fill_until_enospc(daxfs.mnt / "b", 0xBB)
    d.kill()
    # The kernel sends RELEASE once the killed holder's files are closed:
    # poll until the held blocks are handed out.
    c = daxfs.mnt / "c"
    deadline = time.monotonic() + DEADLINE
    while not (c.exists() and blocks(daxfs, c) & old):
        assert time.monotonic() < deadline, "held blocks never came back"
        fill_until_enospc(c, 0xCC)


def test_unmap_ends_the_lease(daxfs, dmaps):
    a, old, d = mapped_file(daxfs, dmaps)
    truncate(a)
    d.ok("unmap")
    assert reused_by_a_new_file(daxfs, old)


def test_closing_the_callers_fd_keeps_the_lease(daxfs, dmaps):
    a, old, d = mapped_file(daxfs, dmaps)
    d.ok("close")
    truncate(a)
    assert not reused_by_a_new_file(daxfs, old)


@pytest.mark.parametrize("size", [0, 2 * MIB], ids=["past-eof", "hole"])
def test_alloc_is_durable_when_map_returns_even_if_the_daemon_is_killed(daxfs, dmaps, size):
    path = daxfs.mnt / "f"
    with open(path, "wb") as f:
        f.truncate(size)                    # all of it a hole
        os.fsync(f.fileno())
    d = dmaps(path)
    assert d.map(0, MIB, alloc=True) == (True, "")
    daxfs.terminate(signal.SIGKILL)
    d.kill()
    daxfs.mount()
    assert os.path.getsize(path) == max(size, MIB)
    assert [(off, length, kind) for off, length, kind, _ in daxfs.iomap(path)][0] == \
        (0, MIB, "mapped")
    with open(path, "rb") as f:
        assert f.read(MIB) == bytes(MIB)

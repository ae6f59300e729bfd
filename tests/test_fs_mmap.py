"""Applications' mmap of daxfs-fuse files: shared and private, coherence with read/write, msync."""
import contextlib
import mmap
import os
import signal
import subprocess
import sys
import textwrap

from mount import MIB, PAGE, daxfs  # noqa: F401


def in_child(code, *args):
    """Runs code in a separate Python process (its own mapping, its own fds)."""
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


STORE_AND_MSYNC = """
    import mmap, os, sys
    path, off, data = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED)
    m[off:off + len(data)] = data
    m.flush()                      # msync(MS_SYNC)
    m.close()
    os.close(fd)
"""


def test_shared_mmap_store_from_another_process_is_read_back(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(3 * PAGE))
    in_child(STORE_AND_MSYNC, p, PAGE + 7, "stored via mmap")
    data = p.read_bytes()
    assert data[PAGE + 7:PAGE + 22] == b"stored via mmap"
    assert data[:PAGE + 7] == bytes(PAGE + 7)


def test_mmap_store_sets_mtime_and_ctime_and_they_persist(daxfs):
    # the kernel's write-back of a mapped page is an overwrite that shares
    # the file's lock in the daemon; it still stamps the times, durably
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(4 * PAGE))
    os.utime(p, (1000, 1000))
    before = os.stat(p)
    in_child(STORE_AND_MSYNC, p, 2 * PAGE + 1, "stamped")
    daxfs.remount()
    after = os.stat(p)
    assert after.st_mtime > 1000
    assert after.st_ctime_ns > before.st_ctime_ns
    assert p.read_bytes()[2 * PAGE + 1:2 * PAGE + 8] == b"stamped"


def test_mmap_read_sees_data_written_by_write(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"w" * 2 * PAGE)
    out = in_child("""
        import mmap, os, sys
        fd = os.open(sys.argv[1], os.O_RDONLY)
        m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
        sys.stdout.write(m[PAGE - 2:PAGE + 2].decode())
    """.replace("PAGE", str(PAGE)), p)
    assert out == "wwww"


def test_write_is_visible_through_an_existing_mapping(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(PAGE))
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), PAGE, mmap.MAP_SHARED)
        assert m[:4] == bytes(4)                 # page now cached and mapped
        os.pwrite(f.fileno(), b"new!", 0)
        assert m[:4] == b"new!"
        m.close()


def test_store_through_mapping_is_visible_to_read_before_msync(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(PAGE))
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), PAGE, mmap.MAP_SHARED)
        m[10:15] = b"store"
        assert os.pread(f.fileno(), 5, 10) == b"store"
        m.close()


def test_private_mapping_store_does_not_reach_the_file(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"p" * PAGE)
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), PAGE, mmap.MAP_PRIVATE)
        m[:4] = b"priv"
        assert m[:4] == b"priv"
        m.close()
    assert p.read_bytes() == b"p" * PAGE


def test_large_shared_mapping_round_trips(daxfs):
    p = daxfs.mnt / "f"
    size = 8 * MIB
    p.write_bytes(bytes(size))
    in_child("""
        import mmap, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        m = mmap.mmap(fd, 0, mmap.MAP_SHARED)
        for i in range(0, len(m), 4096):
            m[i:i + 8] = i.to_bytes(8, "little")
        m.flush()
    """, p)
    data = p.read_bytes()
    for i in range(0, size, PAGE):
        assert int.from_bytes(data[i:i + 8], "little") == i


def test_msync_is_durable_across_a_daemon_kill(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(2 * PAGE))
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    in_child(STORE_AND_MSYNC, p, PAGE, "durable")
    daxfs.terminate(signal.SIGKILL)
    daxfs.mount()
    assert p.read_bytes()[PAGE:PAGE + 7] == b"durable"


def test_mapping_beyond_eof_after_truncate_gets_sigbus(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"t" * 4 * PAGE)
    out = in_child("""
        import mmap, os, signal, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        m = mmap.mmap(fd, 4 * 4096, mmap.MAP_SHARED)
        os.ftruncate(fd, 4096)
        assert m[0] == ord("t")
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGBUS, signal.SIG_DFL)
            m[3 * 4096]
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(str(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1))
    """, p)
    assert int(out) == signal.SIGBUS


# ---- O_DIRECT opens: mapped shared, direct I/O still bypasses the page cache ----

def aligned(data):
    """An anonymous mapping holding data: a page-aligned O_DIRECT buffer."""
    buf = mmap.mmap(-1, len(data))
    buf[:] = data
    return buf


@contextlib.contextmanager
def direct_and_mapped(path, length):
    """path opened O_RDWR | O_DIRECT and length bytes of it mapped shared
    through that descriptor: (fd, mapping), both closed after."""
    fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    try:
        m = mmap.mmap(fd, length, mmap.MAP_SHARED)
        try:
            yield fd, m
        finally:
            m.close()
    finally:
        os.close(fd)


def test_o_direct_open_can_be_mapped_shared(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"d" * PAGE)
    with direct_and_mapped(p, PAGE) as (_, m):     # was ENODEV (FOPEN_DIRECT_IO)
        assert m[:4] == b"dddd"


def test_o_direct_write_is_seen_through_a_shared_mapping_of_the_same_descriptor(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(4 * PAGE))
    with direct_and_mapped(p, 4 * PAGE) as (fd, m):
        assert m[PAGE:2 * PAGE] == bytes(PAGE)      # the page is mapped and cached now
        assert os.pwritev(fd, [aligned(b"W" * 2 * PAGE)], PAGE) == 2 * PAGE
        assert m[PAGE:3 * PAGE] == b"W" * 2 * PAGE
        assert m[:PAGE] == bytes(PAGE)


def test_store_through_a_shared_mapping_is_read_by_o_direct_on_the_same_descriptor(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(4 * PAGE))
    with direct_and_mapped(p, 4 * PAGE) as (fd, m):
        m[2 * PAGE + 5:2 * PAGE + 11] = b"stored"  # a dirty page, not msync'ed
        buf = aligned(bytes(4 * PAGE))
        assert os.preadv(fd, [buf], 0) == 4 * PAGE
        assert buf[2 * PAGE + 5:2 * PAGE + 11] == b"stored"


def test_o_direct_write_reaches_the_device_before_it_returns(daxfs):
    """Direct I/O bypasses the page cache, writeback cache or not: the
    bytes are on the device when the write returns, before any fsync."""
    daxfs.remount("writeback_cache")
    p = daxfs.mnt / "f"
    p.write_bytes(bytes(2 * PAGE))
    os.sync()
    with direct_and_mapped(p, 2 * PAGE) as (fd, m):
        assert m[:1] == b"\0"
        assert os.pwritev(fd, [aligned(b"D" * PAGE)], PAGE) == PAGE
        on_device, _ = daxfs.backing_bytes(p, PAGE, PAGE)
        assert on_device == b"D" * PAGE
        assert m[PAGE:PAGE + 4] == b"DDDD"

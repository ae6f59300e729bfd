"""daxfs-run: writes that extend a file leave its size and times pending in the table the daemon
shares, without a request; every way another process can look still sees them."""
import contextlib
import os
import select
import signal
import textwrap

from mount import PAGE, daxfs, daxfs_factory  # noqa: F401  (fixture)
from run_util import RUN_TIMEOUT, Stepper, py_plain, py_run, py_start


def step(s, expr):
    """Stepper.step, failing instead of hanging when the process does not
    answer (it waits for a daemon that is stopped)."""
    s.proc.stdin.write(expr + "\n")
    s.proc.stdin.flush()
    ready, _, _ = select.select([s.proc.stdout], [], [], RUN_TIMEOUT)
    assert ready, f"no answer to {expr!r}: it waits for the daemon"
    return s.proc.stdout.readline().rstrip("\n")


@contextlib.contextmanager
def daemon_stopped(d):
    """The daemon stopped (SIGSTOP): whatever needs a request waits."""
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)


def stat_of(p):
    out = py_plain("""
        import os, sys
        st = os.stat(sys.argv[1])
        print(st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        """, p)
    return tuple(int(x) for x in out.split())


def test_an_extending_write_needs_no_request_and_another_process_sees_it(daxfs):
    """With the daemon stopped, appends within the blocks allocated ahead
    still return: they ask nothing. Then stat and read() by a process
    without the library see the size, the data and new times."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    old = 1_000_000_000
    os.utime(p, (old, old))
    with Stepper(p, os.O_RDWR | os.O_APPEND) as s:
        assert step(s, "os.write(fd, b'a' * 3000)") == "3000"
        with daemon_stopped(daxfs):
            for i in range(5):
                assert step(s, f"os.write(fd, bytes([98 + {i}]) * 1000)") == "1000"
        size, mtime, ctime = stat_of(p)
        assert size == 8000
        assert mtime > old * 10**9 and ctime > old * 10**9
        assert p.read_bytes() == b"a" * 3000 + b"".join(bytes([98 + i]) * 1000 for i in range(5))
        # the next write moves mtime again, seen at the next look
        os.utime(p, (old, old))
        assert step(s, "os.write(fd, b'z')") == "1"
        assert stat_of(p)[:2] > (8000, old * 10**9)
        assert "served directly" in s.finish()


def test_a_daxfs_run_reader_sees_a_pending_size_without_the_daemon(daxfs):
    """A second daxfs-run process reads the pending end from the table: its
    pread past the size the daemon knows returns the new bytes, with the
    daemon stopped."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"0" * 100)
    with Stepper(p) as w, Stepper(p, os.O_RDONLY) as r:
        assert step(w, "os.pwrite(fd, b'1' * 100, 100)") == "100"
        assert step(r, "os.pread(fd, 10, 195)") == repr(b"1" * 5)
        with daemon_stopped(daxfs):
            assert step(w, "os.pwrite(fd, b'2' * 300, 200)") == "300"
            assert step(r, "os.pread(fd, 1000, 150)") == repr(b"1" * 50 + b"2" * 300)
        assert p.stat().st_size == 500


def test_the_writers_kill_leaves_the_pending_size_with_the_file(daxfs):
    """kill -9 of the writer after appends nobody looked at: the daemon
    folds them in when the kernel releases the writer's files; the file has
    every byte, and fsck finds the filesystem consistent."""
    p = daxfs.mnt / "f"
    code = textwrap.dedent("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        for i in range(20):
            os.write(fd, bytes([65 + i]) * 777)
        print("ready", flush=True)
        sys.stdin.readline()
        """)
    w = py_start(code, p, debug=False, stderr=False)
    try:
        assert w.stdout.readline() == "ready\n"
    finally:
        w.kill()
        w.wait()
    want = b"".join(bytes([65 + i]) * 777 for i in range(20))
    assert p.read_bytes() == want
    daxfs.unmount()
    daxfs.fsck()
    daxfs.mount()
    assert p.read_bytes() == want


def test_another_processes_fsync_makes_a_pending_size_durable(daxfs):
    """The daemon keeps metadata for a minute (commit=60000): an fsync by a
    process without the library, after daxfs-run's appends, makes their
    size durable; it survives the daemon's SIGKILL."""
    daxfs.unmount()
    daxfs.mount("commit=60000")
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    with Stepper(p, os.O_RDWR | os.O_APPEND) as s:
        for i in range(4):
            assert step(s, f"os.write(fd, bytes([70 + {i}]) * 3000)") == "3000"
        py_plain("""
            import os, sys
            fd = os.open(sys.argv[1], os.O_RDONLY)
            os.fsync(fd)
            """, p)
        daxfs.terminate(signal.SIGKILL)
        s.finish()
    daxfs.mount()
    assert p.read_bytes() == b"".join(bytes([70 + i]) * 3000 for i in range(4))


def test_a_truncate_and_a_plain_append_come_after_pending_writes(daxfs):
    """A truncate that grows the file, by another process, keeps what a
    pending write put past the size the daemon knew; a process without the
    library that appends writes after it."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    with Stepper(p) as s:
        assert step(s, "os.pwrite(fd, b'w' * 5000, 0)") == "5000"
        os.truncate(p, 9000)
        assert p.read_bytes() == b"w" * 5000 + bytes(4000)
        assert step(s, "os.pwrite(fd, b'v' * 1000, 9000)") == "1000"
        with open(p, "ab") as f:
            f.write(b"PLAIN")
        assert step(s, "os.fstat(fd).st_size") == "10005"
    assert p.read_bytes() == b"w" * 5000 + bytes(4000) + b"v" * 1000 + b"PLAIN"


def test_a_mapping_over_pages_the_process_appended_needs_no_request(daxfs):
    """As LMDB does: a read-only mapping longer than the file, then appends
    through write(); the first touch of an appended page maps it from what
    the library already knows, with the daemon stopped (no extent query)."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"m" * PAGE)
    with Stepper(p) as s:
        step(s, "globals().update(ct=__import__('ctypes')) or 0")
        step(s, "globals().update(libc=ct.CDLL(None, use_errno=True)) or 0")
        step(s, "setattr(libc.mmap, 'restype', ct.c_void_p) or 0")
        step(s, "globals().update(addr=libc.mmap(None, 64 * 4096, 1, 1, fd, ct.c_long(0))) or 0")
        assert step(s, "ct.string_at(addr, 3)") == repr(b"mmm")
        assert step(s, "os.pwrite(fd, b'n' * 8192, 4096)") == "8192"
        with daemon_stopped(daxfs):
            assert step(s, "ct.string_at(addr + 4096, 2)") == repr(b"nn")
            assert step(s, "ct.string_at(addr + 12287, 1)") == repr(b"n")
        assert "served directly" in s.finish()
    assert p.stat().st_size == 3 * PAGE


def test_a_hostile_pending_size_is_not_taken(daxfs):
    """A process with a write lease can store anything into the table of
    pending sizes: the daemon takes no end that written blocks of the file
    do not back, so sizes stay as they are and fsck finds nothing wrong."""
    daxfs.allow_stderr(r"a daxfs-run size of 1099511627776 is not taken: extend: \[\d+, \+\d+\) "
                       r"of inode \d+ is not all written blocks")
    p = daxfs.mnt / "f"
    p.write_bytes(b"h" * 5000)
    q = daxfs.mnt / "g"
    q.write_bytes(b"g" * 100)
    r = py_run("""
        import ctypes, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        os.pwrite(fd, b"H", 0)
        for line in open("/proc/self/maps"):
            if "daxfs-run-pending" in line and line.split()[1].startswith("rw"):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                break
        else:
            sys.exit("no writable pending table")
        # every record: an end far past anything written, a moved count
        for at in range(lo, hi, 64):
            ctypes.c_uint64.from_address(at).value = 1 << 40
            ctypes.c_uint64.from_address(at + 8).value += 1
        """, p)
    assert "served directly" in r.stderr
    assert p.stat().st_size == 5000 and q.stat().st_size == 100
    assert "a daxfs-run size of 1099511627776 is not taken" in daxfs.stderr()
    assert p.read_bytes() == b"H" + b"h" * 4999
    assert q.read_bytes() == b"g" * 100
    daxfs.unmount()
    daxfs.fsck()
    daxfs.mount()
    assert p.stat().st_size == 5000

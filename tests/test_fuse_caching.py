"""The daemon's caching options: timeout, keep_cache, readdirplus, writeback_cache, notify_store.

Where an option's effect is which requests the kernel sends, the test mounts
with `-o debug` and counts them in libfuse's request log ("unique: N, opcode:
NAME (n), nodeid: N, insize: N, pid: N"), keeping to the requests of this
process (its pid) and of the kernel itself (pid 0: write-back, for one) made
after a mark, so that nothing timed is involved.
"""
import errno
import mmap
import os
import re
import threading

import pytest

from client_util import create, dmaps  # noqa: F401  (fixture)
from mount import PAGE, Daxfs, daxfs  # noqa: F401  (fixture)

REQUEST = re.compile(r"unique: \d+, opcode: (\w+) \(\d+\), nodeid: (\d+), insize: \d+, pid: (\d+)")


class RequestLog:
    """The requests the daemon logged since mark()."""

    def __init__(self, fs):
        fs.allow_stderr(".")       # the debug log is all stderr holds
        self.fs = fs
        self.pos = 0

    def mark(self):
        self.pos = len(self.fs.stderr())

    def ops(self):
        """Opcodes since the mark, of requests made by us or the kernel."""
        pids = (os.getpid(), 0)
        return [m.group(1) for m in REQUEST.finditer(self.fs.stderr()[self.pos:])
                if int(m.group(3)) in pids]

    def count(self, *names):
        return sum(op in names for op in self.ops())


def mounted(tmp_path, *opts):
    fs = Daxfs(tmp_path)
    fs.mkfs()
    fs.mount(*opts)
    return fs


@pytest.fixture
def fs_with(tmp_path):
    """fs_with(*opts): a fresh filesystem mounted with opts and the debug
    log; cleaned up at teardown."""
    made = []

    def make(*opts):
        fs = Daxfs(tmp_path)
        fs.mkfs()
        log = RequestLog(fs)
        fs.mount("debug", *opts)
        made.append(fs)
        return fs, log
    try:
        yield make
    finally:
        for fs in made:
            fs.cleanup()


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# ---- timeout --------------------------------------------------------------

def test_timeout_zero_makes_every_stat_ask_the_daemon(fs_with):
    fs, log = fs_with("timeout=0")
    path = fs.mnt / "f"
    write_file(path, b"x")
    log.mark()
    for _ in range(5):
        os.stat(path)
    assert log.count("GETATTR", "LOOKUP") >= 5


def test_default_timeout_answers_stat_from_the_cache(fs_with):
    fs, log = fs_with()
    path = fs.mnt / "f"
    write_file(path, b"x")
    os.stat(path)
    log.mark()
    for _ in range(5):
        os.stat(path)
    assert log.count("GETATTR", "LOOKUP") == 0


def test_timeout_zero_caches_no_negative_entry(fs_with):
    fs, log = fs_with("timeout=0")
    missing = fs.mnt / "missing"
    for _ in range(2):
        assert not missing.exists()
    log.mark()
    assert not missing.exists()
    assert log.count("LOOKUP") == 1


# ---- keep_cache -----------------------------------------------------------

def reread_after_reopen(fs, log):
    path = fs.mnt / "f"
    write_file(path, os.urandom(8 * PAGE))
    read_file(path)         # cached now
    log.mark()
    return read_file(path)


def test_keep_cache_rereads_without_read_requests(fs_with):
    fs, log = fs_with()
    reread_after_reopen(fs, log)
    assert log.count("READ") == 0


def test_no_keep_cache_rereads_through_the_daemon(fs_with):
    fs, log = fs_with("no_keep_cache")
    reread_after_reopen(fs, log)
    assert log.count("READ") >= 1


def test_no_keep_cache_reads_what_was_written(daxfs):
    daxfs.remount("no_keep_cache")
    path = daxfs.mnt / "f"
    data = os.urandom(3 * PAGE + 5)
    write_file(path, data)
    with open(path, "rb") as f, open(path, "r+b") as g:
        assert f.read() == data
        g.write(b"new")
        g.flush()
        f.seek(0)
        assert f.read() == b"new" + data[3:]


# ---- readdirplus ------------------------------------------------------------

def list_big_dir(fs, log, opts, n=1000):
    """os.listdir (no stat) of n entries from a cold cache: the number of
    READDIR and READDIRPLUS requests it took."""
    d = fs.mnt / "d"
    d.mkdir()
    for i in range(n):
        (d / f"entry-{i:05d}").touch()
    fs.remount("debug", *opts)      # cold dentries and attributes
    log.pos = 0
    names = os.listdir(d)
    assert len(names) == n
    return log.count("READDIR"), log.count("READDIRPLUS")


@pytest.mark.parametrize("mode, plain, plus", [
    ("no", True, False),
    ("yes", False, True),
    ("auto", True, True),   # plus for the first buffer, then plain while no lookups follow
], ids=["no", "yes", "auto"])
def test_readdirplus_mode_chooses_the_listing_request(fs_with, mode, plain, plus):
    opt = f"readdirplus={mode}"
    fs, log = fs_with(opt)
    n_plain, n_plus = list_big_dir(fs, log, [opt])
    assert (n_plain > 0) == plain, f"{n_plain} READDIR"
    assert (n_plus > 0) == plus, f"{n_plus} READDIRPLUS"


@pytest.mark.parametrize("mode", ["yes", "no", "auto"])
def test_readdirplus_mode_lists_every_entry_with_its_attributes(tmp_path, mode):
    fs = mounted(tmp_path, f"readdirplus={mode}")
    try:
        d = fs.mnt / "d"
        d.mkdir()
        for i in range(300):
            write_file(d / f"f{i}", b"y" * i)
        fs.remount(f"readdirplus={mode}")
        sizes = {e.name: e.stat().st_size for e in os.scandir(d)}
        assert sizes == {f"f{i}": i for i in range(300)}
    finally:
        fs.cleanup()


# ---- writeback_cache --------------------------------------------------------

def small_writes(fs, log, fsync):
    """The WRITE requests the daemon gets for 100 writes of 100 bytes to a
    new file (then an fsync, if asked)."""
    fd = os.open(fs.mnt / "f", os.O_WRONLY | os.O_CREAT)
    try:
        log.mark()
        for _ in range(100):
            os.write(fd, b"z" * 100)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return log.count("WRITE")


def test_writeback_cache_coalesces_small_writes(fs_with):
    assert 1 <= small_writes(*fs_with("writeback_cache"), fsync=True) < 10


def test_write_through_sends_every_write(fs_with):
    # at least one each (the kernel splits the two that cross a page)
    assert small_writes(*fs_with(), fsync=False) >= 100


def test_writeback_cache_data_survives_remount(daxfs):
    """write, O_APPEND from two files, truncate, mmap, fsync: the model and
    the file agree before and after a remount."""
    daxfs.remount("writeback_cache")
    path = daxfs.mnt / "f"
    model = bytearray(os.urandom(5 * PAGE + 123))
    write_file(path, model)
    with open(path, "ab") as a, open(path, "ab") as b:
        for i in range(20):
            chunk = bytes([i]) * (300 + i)
            (a if i % 2 else b).write(chunk)
            (a if i % 2 else b).flush()
            model += chunk
    os.truncate(path, 4 * PAGE + 7)
    del model[4 * PAGE + 7:]
    with open(path, "r+b") as f:
        f.truncate(6 * PAGE)
        model += bytes(6 * PAGE - len(model))
        with mmap.mmap(f.fileno(), 6 * PAGE) as m:
            m[PAGE - 10:PAGE + 10] = b"M" * 20
            m.flush()
        model[PAGE - 10:PAGE + 10] = b"M" * 20
        os.fsync(f.fileno())
    # A write-only open is made read-write by the kernel, which reads the
    # page around a partial write through it.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"partial", 2 * PAGE + 100)
        os.fsync(fd)
    finally:
        os.close(fd)
    model[2 * PAGE + 100:2 * PAGE + 107] = b"partial"
    assert read_file(path) == model
    assert os.stat(path).st_size == len(model)
    daxfs.remount()
    assert read_file(path) == model


def test_writeback_cache_o_append_appends_once(daxfs):
    daxfs.remount("writeback_cache")
    path = daxfs.mnt / "f"
    write_file(path, b"head")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"-one")
        os.write(fd, b"-two")
    finally:
        os.close(fd)
    assert read_file(path) == b"head-one-two"
    daxfs.remount()
    assert read_file(path) == b"head-one-two"


def test_writeback_cache_refuses_a_direct_mapping(daxfs, dmaps):
    daxfs.remount("writeback_cache")
    daxfs.allow_stderr(r"refused: the mount uses writeback_cache")
    path = daxfs.mnt / "f"
    create(path, bytes(4 * PAGE))
    err, msg = dmaps(path).error(f"map 0 {4 * PAGE} r")
    assert err == -errno.EOPNOTSUPP
    assert "writeback_cache" in msg, msg


# ---- notify_store -----------------------------------------------------------

def first_mmap_read(fs_with, store, size):
    """A file of size random bytes read whole through a new mapping after a
    remount with notify_store=store: the daemon's log of that read."""
    fs, log = fs_with(f"notify_store={store}")
    path = fs.mnt / "f"
    data = os.urandom(size)
    write_file(path, data)
    fs.remount("debug", f"notify_store={store}")
    log.pos = 0
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[:] == data
    return log


def test_notify_store_first_mmap_read_needs_no_read_request(fs_with):
    log = first_mmap_read(fs_with, 65536, 10 * PAGE + 17)
    assert log.count("OPEN") == 1
    assert log.count("READ") == 0


def test_notify_store_of_the_largest_size_stores_all_of_it(fs_with):
    assert first_mmap_read(fs_with, 1048576, 1 << 20).count("READ") == 0


def test_without_notify_store_first_mmap_read_asks_the_daemon(fs_with):
    fs, log = fs_with()
    path = fs.mnt / "f"
    write_file(path, os.urandom(3 * PAGE))
    fs.remount("debug")
    log.pos = 0
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        m[:]
    assert log.count("READ") >= 1


def test_notify_store_skips_files_larger_than_the_limit(fs_with):
    fs, log = fs_with("notify_store=4096")
    path = fs.mnt / "f"
    write_file(path, os.urandom(2 * PAGE))
    fs.remount("debug", "notify_store=4096")
    log.pos = 0
    read_file(path)
    assert log.count("READ") >= 1


def test_notify_store_content_follows_a_write_through_another_file(daxfs):
    daxfs.remount("notify_store=65536")
    path = daxfs.mnt / "f"
    data = bytearray(os.urandom(5 * PAGE + 1))
    write_file(path, data)
    daxfs.remount("notify_store=65536")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
        assert m[:] == data
        with open(path, "r+b") as g:
            g.seek(PAGE + 3)
            g.write(b"changed")
            g.flush()
        data[PAGE + 3:PAGE + 10] = b"changed"
        assert m[:] == data
    assert read_file(path) == data
    os.truncate(path, 7)
    assert read_file(path) == data[:7]
    daxfs.remount()
    assert read_file(path) == data[:7]


class SingleThreaded(Daxfs):
    """A daemon started with -s: one thread serves every request."""

    daemon_flags = ("-f", "-s")


@pytest.mark.parametrize("cls", [Daxfs, SingleThreaded], ids=["threads", "single-thread"])
def test_notify_store_does_not_deadlock_with_concurrent_access(tmp_path, cls):
    """Opens that store race opens that read, mmap, write and truncate the
    same small files. A deadlock shows as a thread still running after a
    generous join (the work itself takes well under a second)."""
    fs = cls(tmp_path)
    errors = []

    def worker(k):
        try:
            for i in range(150):
                p = names[(i + k) % len(names)]
                op = (i + k) % 4
                if op == 0:
                    with open(p, "rb") as f:
                        with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                            m[:]
                elif op == 1:
                    with open(p, "r+b") as f:
                        f.write(bytes([k]) * 100)
                elif op == 2:
                    os.truncate(p, PAGE * (1 + i % 3))
                else:
                    read_file(p)
        except OSError as e:
            errors.append(e)
    try:
        fs.mkfs()
        fs.mount("notify_store=65536")
        names = [fs.mnt / f"f{i}" for i in range(4)]
        for p in names:
            write_file(p, bytes(3 * PAGE))
        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a thread hung: deadlock"
        assert not errors, errors
    finally:
        fs.cleanup()


# ---- bad values ---------------------------------------------------------------

@pytest.mark.parametrize("opt, message", [
    ("timeout=-1", "invalid option timeout=-1"),
    ("timeout=abc", "invalid option timeout=abc"),
    ("timeout=inf", "invalid option timeout=inf"),
    ("readdirplus=maybe", "invalid option readdirplus=maybe"),
    ("notify_store=x", "invalid option notify_store=x"),
    ("notify_store=-5", "invalid option notify_store=-5"),
    ("notify_store=2000000", "invalid option notify_store=2000000"),
    ("poll_us=x", "invalid option poll_us=x: expected whole microseconds from 0 (never)"),
    ("poll_us=-1", "invalid option poll_us=-1"),
    ("poll_us=1000001", "invalid option poll_us=1000001"),
    # libfuse 3.14 reads these with %u: -1 was four billion threads, 0 one
    ("max_threads=-1", "invalid option max_threads=-1: expected a number of threads from 1"),
    ("max_threads=0", "invalid option max_threads=0: expected a number of threads from 1 to 100000"),
    ("max_threads=100001", "invalid option max_threads=100001"),
    ("max_idle_threads=-1", "invalid option max_idle_threads=-1: expected a number of threads from 0"),
    ("max_idle_threads=x", "invalid option max_idle_threads=x"),
], ids=lambda v: "" if str(v).startswith("invalid") else v)
def test_bad_option_value_is_refused_with_a_clear_error(tmp_path, opt, message):
    fs = Daxfs(tmp_path)
    try:
        fs.mkfs()
        err = fs.mount_fails(opt)
        assert message in err, err
    finally:
        fs.cleanup()


@pytest.mark.parametrize("opt", ["timeout=0", "timeout=0.5", "timeout=86400", "keep_cache",
                                 "no_keep_cache", "readdirplus=yes", "readdirplus=no",
                                 "readdirplus=auto", "writeback_cache", "no_writeback_cache",
                                 "notify_store=0", "notify_store=1048576", "poll_us=0",
                                 "poll_us=1000000", "max_threads=1", "max_idle_threads=0"])
def test_option_is_accepted(tmp_path, opt):
    fs = mounted(tmp_path, opt)
    try:
        write_file(fs.mnt / "f", b"data")
        assert read_file(fs.mnt / "f") == b"data"
    finally:
        fs.cleanup()

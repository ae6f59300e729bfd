"""daxfs-run: what it cannot serve goes the ordinary way, visibly in its debug log; faults as on DAX."""
import errno
import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import BUILD_DIR, tool
from faults import (CHILD_WAIT, allow_faults, ctl, finish_child, live_table, start_child,
                    wait_for_waiters, write_table)
from mount import MIB, PAGE, daxfs, daxfs_factory  # noqa: F401  (fixture)
from run_util import Driven, Stepper, py_run, run_env, under_run
from test_client_lease import blocks, fill_until_enospc
from test_fault_poison import poison_page
from users import shared_dir, shared_fs, users  # noqa: F401  (fixture)

PROBE = BUILD_DIR / "tests/run/probe"

WORKLOAD = """
    import os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"abc" * 3000, 100)
    print(os.pread(fd, 6, 100), os.fstat(fd).st_size)
    """


@pytest.mark.parametrize("option, why", [
    ("dax=never", "the mount does not use DAX"),
    ("writeback_cache", "caches writes in the kernel (writeback_cache)"),
])
def test_a_mount_it_cannot_serve_is_used_the_ordinary_way(daxfs, option, why):
    daxfs.remount(option)
    p = daxfs.mnt / "f"
    r = py_run(WORKLOAD, p)
    assert r.stdout == "b'abcabc' 9100\n"
    assert "the ordinary path: " in r.stderr and why in r.stderr
    assert "served directly" not in r.stderr
    assert p.read_bytes() == bytes(100) + b"abc" * 3000


def test_a_member_path_replaced_by_a_copy_is_not_mapped(daxfs):
    """A member's path renamed over by a copy taken before the last write
    (the daemon keeps the file it opened): the library opened the path and
    mapped the copy, read what the file held once, and its writes reached
    only the copy. It now checks that the path is still the file the mount
    uses, and takes the ordinary path when not."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"old" * 1000)
    copy = daxfs.files[0] + ".copy"
    subprocess.run(["cp", "--sparse=always", daxfs.files[0], copy], check=True)
    p.write_bytes(b"new" * 1000)
    os.rename(copy, daxfs.files[0])
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        print(os.pread(fd, 3, 0))
        os.pwrite(fd, b"run", 3)
        """, p)
    assert r.stdout == "b'new'\n", r.stderr
    assert "no longer the file the mount uses" in r.stderr
    assert p.read_bytes() == b"newrun" + b"new" * 998


def test_without_the_debug_log_a_fallback_is_silent(daxfs):
    daxfs.remount("dax=never")
    r = py_run(WORKLOAD, daxfs.mnt / "f", debug=False)
    assert r.stdout == "b'abcabc' 9100\n" and r.stderr == ""


def test_a_write_only_open_is_served_through_an_open_file_of_the_library(daxfs):
    """A lease needs an open file readable: the library opens the file again
    for reading and writing and writes through that; the program's
    write-only open file is marked as served, so it is no plain writer."""
    p = daxfs.mnt / "f"
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"only" * 1000)
        os.write(fd, b"more")
        try:
            os.read(fd, 1)
        except OSError as e:
            print(e.errno)
        """, p)
    assert r.stdout == "9\n"                    # EBADF: still write-only
    assert "served directly" in r.stderr and "the ordinary path" not in r.stderr
    assert p.read_bytes() == b"only" * 1000 + b"more"


def test_a_file_another_process_stores_into_through_the_page_cache(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"0" * PAGE)
    with Stepper(p) as s:
        assert s.step("os.pread(fd, 4, 0)") == "b'0000'"
        with open(p, "r+b") as f:
            m = mmap.mmap(f.fileno(), PAGE, mmap.MAP_SHARED)
            m[0:4] = b"MMAP"
            m.flush()                   # written back: the daemon sees it
            assert s.step("os.pread(fd, 4, 0)") == "b'MMAP'"
            m[4:8] = b"more"
            m.flush()
            assert s.step("os.pread(fd, 8, 0)") == "b'MMAPmore'"
            m.close()
        log = s.finish()
    assert "another process writes it through a page-cache mapping" in log


def test_a_forced_table_swap_revokes_and_the_file_is_served_the_ordinary_way(daxfs):
    daxfs.allow_stderr("forced table swap: revoked 1 direct-access lease holders")
    p = daxfs.mnt / "f"
    p.write_bytes(b"x" * PAGE)
    with Stepper(p) as s:
        assert s.step("os.pwrite(fd, b'before', 0)") == "6"
        table = write_table(daxfs, "same.table", live_table(daxfs))
        r = ctl("reload", daxfs.mnt, table, check=False)
        assert r.returncode == 1 and "mapped directly by an application" in r.stderr
        assert ctl("reload", daxfs.mnt, table, "--force", check=False).returncode == 0
        assert s.step("os.pwrite(fd, b'after', 100)") == "5"
        assert s.step("os.pread(fd, 6, 0) + os.pread(fd, 5, 100)") == "b'beforeafter'"
        log = s.finish()
    assert "leases revoked by a forced table swap" in log
    data = p.read_bytes()
    assert data[:6] == b"before" and data[100:105] == b"after"


STAT_SIZE = """
    import os, sys
    print(os.stat(sys.argv[1]).st_size)
"""


def test_a_forced_resume_is_not_held_by_a_size_that_waits_for_the_thaw(daxfs):
    """A size a daxfs-run writer left pending is taken in by the next stat;
    on a frozen filesystem that waits for the thaw, with the file's daxfs-run
    record in hand. The forced resume that swaps in a staged table revokes
    every record's mappings before it thaws: it must not wait for that
    record, or the two wait for each other for ever."""
    daxfs.allow_stderr("forced table swap: revoked 1 direct-access lease holders")
    p = daxfs.mnt / "f"
    p.write_bytes(b"x" * PAGE)
    with Stepper(p) as s:
        assert s.step(f"os.pwrite(fd, b'tail', {PAGE - 2})") == "4"
        assert p.stat().st_size == PAGE + 2
        assert s.step(f"os.pwrite(fd, b'tail', {PAGE + 2})") == "4"    # the size stays pending
        table = write_table(daxfs, "same.table", live_table(daxfs))
        ctl("suspend", daxfs.mnt)
        stat = start_child(STAT_SIZE, p)
        try:
            ctl("load", daxfs.mnt, table)
            wait_for_waiters(daxfs)                     # the stat's fold
            resume = subprocess.Popen([tool("daxfs-ctl"), "resume", daxfs.mnt, "--force"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                _, err = resume.communicate(timeout=CHILD_WAIT)
            except subprocess.TimeoutExpired:
                # both wait for ever: only the daemon's death frees them
                daxfs.proc.kill()
                resume.communicate()
                pytest.fail("the forced resume waits for the fold, which waits for the thaw")
            assert resume.returncode == 0, err
        finally:
            ctl("resume", daxfs.mnt, check=False)
        assert finish_child(stat) == (0, f"{PAGE + 6}\n")
        s.finish()
    assert p.read_bytes() == b"x" * (PAGE - 2) + b"tail" * 2


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    allow_faults(d)
    return d


def test_a_poisoned_page_is_eio_to_read_and_write_and_sigbus_mapped(fs):
    p = fs.mnt / "f"
    data = os.urandom(4 * PAGE)
    p.write_bytes(data)
    with Stepper(p) as s:
        assert s.step("os.pread(fd, 10, 0)") == repr(data[:10])    # mapped before
        poison_page(fs, p, 2 * PAGE)
        # the bytes before the bad page, then EIO at it, as from DAX
        assert s.step(f"len(os.pread(fd, {4 * PAGE}, 0))") == str(2 * PAGE)
        assert s.step(f"os.pread(fd, 10, {2 * PAGE})") == "OSError EIO"
        assert s.step(f"os.pread(fd, 10, {3 * PAGE}) == {data[3 * PAGE:3 * PAGE + 10]!r}") \
            == "True"
        assert s.step(f"os.pwrite(fd, b'x', {2 * PAGE + 5})") == "OSError EIO"
    r = under_run([PROBE, "touch", p, 2 * PAGE + 5])
    assert r.stdout == "sigbus\n"
    r = under_run([PROBE, "touch", p, PAGE])
    assert r.stdout == f"loaded {data[PAGE] if data[PAGE] < 128 else data[PAGE] - 256}\n"


def run_env_preload():
    """The sanitizer runtime a test run asks to preload, and its options."""
    env = run_env(debug=False)
    return {k: env[k] for k in ("LD_PRELOAD", "ASAN_OPTIONS") if k in env}


AS_USER = """
    import os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"mine" * 1000, 0)
    print(os.pread(fd, 8, 0))
    """


@pytest.mark.parametrize("grant", [False, True], ids=["no-access", "dax_users"])
def test_a_user_who_cannot_open_the_members(shared_fs, shared_dir, users, grant):
    """The members are root's: a user may map them only through the
    daemon's grant (-o dax_users=GROUP, for a member of GROUP); otherwise
    its files go the ordinary way."""
    import shutil
    for f in shared_fs.files:
        os.chmod(f, 0o600)
    opts = ["allow_other", "default_permissions"]
    if grant:
        opts.append(f"dax_users={users.group}")
    shared_fs.mount(*opts)
    (shared_fs.mnt / "d").mkdir()
    os.chmod(shared_fs.mnt / "d", 0o777)
    lib = shared_dir / "libdaxfs-run.so"
    shutil.copy2(BUILD_DIR / "src/preload/libdaxfs-run.so", lib)
    shutil.copy2(tool("daxfs-run"), shared_dir / "daxfs-run")
    p = shared_fs.mnt / "d" / "f"
    r = subprocess.run([str(shared_dir / "daxfs-run"), "--debug", "python3", "-c",
                        AS_USER.replace("\n    ", "\n"), str(p)], capture_output=True, text=True,
                       timeout=60, env={"DAXFS_RUN_LIB": str(lib), "PATH": os.environ["PATH"],
                                        **run_env_preload()},
                       **users.member.popen_args())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b'minemine'\n"
    assert p.read_bytes() == b"mine" * 1000
    if grant:
        assert "served directly" in r.stderr and "the ordinary path" not in r.stderr
    else:
        assert "opening backing device" in r.stderr and "the ordinary path" in r.stderr


# Holds f open and mapped, written through both; at a line of stdin it writes
# and stores again, saying what became of the write.
OUTLIVES = """
    import mmap, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.pwrite(fd, b"a" * 8192, 0)
    m = mmap.mmap(fd, 8192)
    m[:4] = b"bbbb"
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        os.pwrite(fd, b"X" * 8192, 0)
        print("written", flush=True)
    except OSError as e:
        print(os.strerror(e.errno), flush=True)
    m[:8192] = b"Y" * 8192
    print("stored", flush=True)
    """


def test_a_process_that_outlives_its_daemon_stores_into_no_other_file(daxfs):
    """kill -9 of the daemon ends the leases that held a daxfs-run process's
    blocks back from the allocator; the next mount may give them to another
    file. The process must notice the daemon's end before that: its writes
    fail as on the dead mount, a store through its mapping raises SIGBUS."""
    f, g = daxfs.mnt / "f", daxfs.mnt / "g"
    f.write_bytes(bytes(8192))
    with Driven([sys.executable, "-c", textwrap.dedent(OUTLIVES), f], "ready") as w:
        old = blocks(daxfs, f)
        daxfs.terminate(signal.SIGKILL)
        daxfs.mount()
        os.truncate(f, 0)                   # its blocks go back to the allocator
        fill_until_enospc(g, ord("G"))
        assert blocks(daxfs, g) & old, "another file never got the blocks"
        assert w.step("") == os.strerror(errno.ENOTCONN)
        err = w.finish()                    # then its store through the mapping
    assert w.proc.returncode == -signal.SIGBUS, err
    assert "the mount's daemon is gone" in err
    assert set(g.read_bytes()) == {ord("G")}


FORKED = """
    import mmap, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.pwrite(fd, b"a" * 8192, 0)
    m = mmap.mmap(fd, 8192)
    m[:4] = b"bbbb"
    pid = os.fork()
    if pid == 0:            # stores only through the mapping it inherited
        print("ready", flush=True)
        sys.stdin.readline()
        m[:8192] = b"Y" * 8192
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    sys.exit(100 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    """


def test_a_forked_child_that_outlives_the_daemon_stores_into_no_other_file(daxfs, tmp_path):
    """As above, for a child that never calls into the library after the
    fork: it waits for the daemon's end with a thread of its own from the
    fork on. The child stores once both threads said so (the debug log):
    on a loaded machine a wake-up may take longer than the refill."""
    f, g, log = daxfs.mnt / "f", daxfs.mnt / "g", tmp_path / "stderr"
    f.write_bytes(bytes(8192))
    with open(log, "w") as err_file:
        proc = subprocess.Popen([tool("daxfs-run"), sys.executable, "-c", textwrap.dedent(FORKED),
                                 f], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=err_file, text=True, env=run_env())
    try:
        assert proc.stdout.readline() == "ready\n"
        old = blocks(daxfs, f)
        daxfs.terminate(signal.SIGKILL)
        daxfs.mount()
        os.truncate(f, 0)
        fill_until_enospc(g, ord("G"))
        assert blocks(daxfs, g) & old, "another file never got the blocks"
        deadline = time.monotonic() + 30
        while log.read_text().count("the mount's daemon is gone") < 2:   # parent and child
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.stdin.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 100 + signal.SIGBUS, log.read_text()
    assert set(g.read_bytes()) == {ord("G")}


CLOSES_ALL = """
    import errno, mmap, os, resource, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.pwrite(fd, b"a" * 8192, 0)
    m = mmap.mmap(fd, 8192)
    # what a daemonizing program does: every descriptor but its own goes
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    for n in range(3, limit):
        if n != fd:
            try:
                os.close(n)
            except OSError:
                pass
    os.closerange(fd + 1, limit)
    left = [int(n) for n in os.listdir("/proc/self/fd") if int(n) > 2 and int(n) != fd]
    dup2 = set()
    for n in left:              # still there: the library's, not to be replaced
        try:
            os.dup2(fd, n)
        except OSError as e:
            dup2.add(e.errno)
    print("ready", bool(left), dup2 == {errno.EBUSY}, flush=True)
    sys.stdin.readline()
    m[:8192] = b"X" * 8192
    print("stored", flush=True)
    """


def test_a_program_that_closes_every_descriptor_keeps_the_librarys(daxfs):
    """Descriptors the library keeps for itself (its lease's open file, the
    members, the liveness lock) are not the program's to close: closed,
    the lease ends while the program still maps the blocks, which another
    process's truncate then gives to other files."""
    f, g = daxfs.mnt / "f", daxfs.mnt / "g"
    f.write_bytes(bytes(8192))
    with Driven([sys.executable, "-c", textwrap.dedent(CLOSES_ALL), f], "ready True True") as w:
        os.truncate(f, 0)           # the lease holds its blocks back from the allocator
        fill_until_enospc(g, ord("G"))
        err = w.finish()            # a store past EOF: SIGBUS, as on DAX
    assert w.proc.returncode == -signal.SIGBUS, err
    assert set(g.read_bytes()) == {ord("G")}

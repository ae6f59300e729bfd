"""Mounting again: right after an unmount, and over a mount whose daemon died."""
import errno
import os
import signal
import subprocess

import pytest

from mount import (Daxfs, daxfs_factory, flock_free, is_mounted, lazy_unmount,  # noqa: F401
                   mount_entry, need, wait_or_fail, wait_until, EXIT_TIMEOUT, MIB, MOUNT_TIMEOUT)

DEAD_NOTE = r"left by a daemon that died; mounting again"


def background_mount(d, *opts):
    """daxfs-fuse without -f: returns once mounted (or refused)."""
    cmd = [need("daxfs-fuse"), d.source, str(d.mnt)]
    for o in opts:
        cmd += ["-o", o]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=MOUNT_TIMEOUT)


def lock_waiter(path):
    """Whether /proc/locks shows a process blocked on a lock of path."""
    st = os.stat(path)
    ident = f" {os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino} "
    with open("/proc/locks") as f:
        return any("->" in line and ident in line for line in f)


def kill_daemon(d):
    """SIGKILL, leaving the dead mount behind (as a crash does)."""
    proc, d.proc = d.proc, None
    proc.kill()
    proc.wait()
    d.dirty = True
    with pytest.raises(OSError) as e:
        os.statvfs(d.mnt)
    assert e.value.errno == errno.ENOTCONN


def alive(mnt):
    """A mount at mnt whose daemon answers. statvfs first: once it works,
    the dead mount is gone (detached), so a mount seen after it is new."""
    try:
        os.statvfs(mnt)
    except OSError:
        return False
    return is_mounted(mnt)


def mount_over_dead(d, *opts):
    """d.mount() for a mount point that still shows the dead mount."""
    proc = d.start(*opts)
    d.proc = proc

    def up():
        if proc.poll() is not None:
            d.proc = None
            pytest.fail(f"daxfs-fuse exited with {proc.returncode}:\n{d.stderr()}")
        return alive(d.mnt)
    wait_until(up, MOUNT_TIMEOUT, f"the new mount at {d.mnt}")


def refused(d, *opts):
    """Runs the daemon over a dead mount expecting it to refuse; its stderr."""
    proc = d.start(*opts)
    wait_or_fail(proc, MOUNT_TIMEOUT, "daxfs-fuse did not refuse the mount")
    assert proc.returncode == 1, d.stderr()
    return d.stderr()


@pytest.fixture
def fs(tmp_path):
    d = Daxfs(tmp_path, size=64 * MIB)
    try:
        d.mkfs()
        yield d
    finally:
        d.cleanup()


def test_mount_right_after_unmount_never_finds_the_files_in_use(fs):
    """fusermount3 -u returns before the daemon has written the filesystem
    back and closed its files; the next mount waits for it instead of
    calling the files in use."""
    data = os.urandom(MIB)
    try:
        for i in range(25):
            r = background_mount(fs)
            assert r.returncode == 0, f"round {i}: {r.stderr}"
            (fs.mnt / f"f{i}").write_bytes(data)
            assert subprocess.run(["fusermount3", "-u", str(fs.mnt)]).returncode == 0
    finally:
        lazy_unmount(fs.mnt)
        wait_until(lambda: flock_free(fs.files[0]), EXIT_TIMEOUT, "the last daemon to exit")
    fs.mount()
    assert [(fs.mnt / f"f{i}").read_bytes() == data for i in range(25)] == [True] * 25


def test_mount_waits_for_a_daemon_still_writing_back(fs):
    fs.mount()
    (fs.mnt / "f").write_bytes(b"written by the first daemon")
    old = fs.proc
    old.send_signal(signal.SIGSTOP)      # stopped as if its write-back were slow
    new = None
    try:
        assert subprocess.run(["fusermount3", "-u", str(fs.mnt)]).returncode == 0
        new = subprocess.Popen([need("daxfs-fuse"), fs.source, str(fs.mnt)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: lock_waiter(fs.files[0]) or new.poll() is not None, MOUNT_TIMEOUT,
                   "the new mount to wait for the lock")
        assert new.poll() is None, f"the new mount did not wait: {new.communicate()[1]}"
    finally:
        old.send_signal(signal.SIGCONT)
    assert old.wait(timeout=EXIT_TIMEOUT) == 0
    fs.proc = None
    out = new.communicate(timeout=MOUNT_TIMEOUT)[1]
    assert new.returncode == 0, out
    try:
        assert (fs.mnt / "f").read_bytes() == b"written by the first daemon"
    finally:
        subprocess.run(["fusermount3", "-u", str(fs.mnt)], check=True)
        wait_until(lambda: flock_free(fs.files[0]), EXIT_TIMEOUT, "the daemon to exit")


def test_second_mount_is_still_refused_while_the_first_serves(fs, tmp_path):
    fs.mount()
    fs.proc.send_signal(signal.SIGSTOP)  # a live mount, however slow, is in use
    other = tmp_path / "mnt2"
    other.mkdir()
    try:
        r = subprocess.run([need("daxfs-fuse"), "-f", fs.source, str(other)],
                           capture_output=True, text=True, timeout=MOUNT_TIMEOUT)
    finally:
        fs.proc.send_signal(signal.SIGCONT)
        lazy_unmount(other)
    assert r.returncode == 1
    assert f"{fs.files[0]}: in use by another daxfs mount" in r.stderr


def test_mount_over_a_dead_mount_of_the_same_source_recovers_it(fs):
    fs.mount()
    (fs.mnt / "f").write_bytes(b"durable at return")
    kill_daemon(fs)
    fs.allow_stderr(DEAD_NOTE)
    mount_over_dead(fs)
    assert f"{fs.mnt}: unmounted {fs.source}, {DEAD_NOTE}" in fs.stderr()
    assert (fs.mnt / "f").read_bytes() == b"durable at return"
    assert mount_entry(fs.mnt)[-2] == fs.source


def test_dead_mount_of_another_source_needs_recover(daxfs_factory):
    first, second = daxfs_factory(), daxfs_factory()
    first.mkfs()
    second.mkfs()
    second.mnt = first.mnt
    first.mount()
    kill_daemon(first)
    err = refused(second)
    assert (f"{first.mnt}: the daxfs-fuse daemon that served {first.source} there has died "
            "(Transport endpoint is not connected). Mount with -o recover") in err
    assert f"'fusermount3 -u {first.mnt}'" in err
    second.allow_stderr(DEAD_NOTE)
    mount_over_dead(second, "recover")
    assert f"unmounted {first.source}, {DEAD_NOTE}" in second.stderr()
    assert mount_entry(second.mnt)[-2] == second.source
    second.unmount()
    # the first filesystem is fine: its journal replays at its next mount
    first.mnt = first.tmp / "mnt2"
    first.mnt.mkdir()
    first.mount()


def test_dead_mount_of_another_kind_is_left_alone(daxfs_factory):
    first, second = daxfs_factory(), daxfs_factory()
    first.mkfs()
    second.mkfs()
    second.mnt = first.mnt
    first.mount("subtype=other")         # to the kernel, not a daxfs-fuse mount
    assert mount_entry(first.mnt)[-3] == "fuse.other"
    kill_daemon(first)
    try:
        err = refused(second, "recover")
        assert (f"{first.mnt}: the fuse.other daemon that served this mount point has died "
                "(Transport endpoint is not connected); it is not a daxfs-fuse mount, so it "
                "is left alone") in err
    finally:
        lazy_unmount(first.mnt)

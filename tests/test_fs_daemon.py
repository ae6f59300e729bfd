"""daxfs-fuse as a program: options, startup, backgrounding, locking, shutdown."""
import errno
import mmap
import os
import re
import shutil
import signal
import subprocess

import pytest

from mount import (Daxfs, daxfs, flock_free, is_mounted, lazy_unmount, mount_entry,  # noqa: F401
                   need, wait_until, EXIT_TIMEOUT, MIB, MOUNT_TIMEOUT)


def run(*args, **kw):
    return subprocess.run([need("daxfs-fuse"), *args], capture_output=True, text=True,
                          timeout=MOUNT_TIMEOUT, **kw)


def test_help_prints_usage_and_exits_0():
    res = run("--help")
    assert res.returncode == 0
    assert "SOURCE MOUNTPOINT" in res.stdout
    assert "dax=inode|always|never" in res.stdout


def test_help_says_what_source_may_be():
    res = run("--help")
    assert "a device-mapper table file, or a\ncomma-separated list of pmem files" in res.stdout
    assert "single backing file" not in res.stdout


def test_version_prints_version_and_exits_0():
    res = run("--version")
    assert res.returncode == 0
    assert res.stdout.startswith("daxfs-fuse version ")


def test_missing_mountpoint_is_a_usage_error(tmp_path):
    res = run(str(tmp_path / "pmem0"))
    assert res.returncode == 1
    assert "missing MOUNTPOINT" in res.stderr


def test_no_arguments_is_a_usage_error():
    res = run()
    assert res.returncode == 1
    assert "missing SOURCE and MOUNTPOINT" in res.stderr


def test_bad_dax_mode_is_refused_before_touching_the_source(tmp_path):
    d = Daxfs(tmp_path)
    err = d.mount_fails("dax=sometimes")
    assert "invalid option dax=sometimes" in err
    assert "expected dax=inode, dax=always or dax=never" in err


def test_fstab_comment_options_are_ignored(tmp_path):
    d = Daxfs(tmp_path)
    d.mkfs()
    try:
        d.mount("x-systemd.requires=local-fs.target", "x-gvfs-hide")
        assert (d.mnt / ".").is_dir()
    finally:
        d.cleanup()


@pytest.mark.parametrize("value,reason", [
    ("", "expected a file name"),
    ("{tmp}", "not a regular file or a character device"),
    ("{tmp}/missing/log", "No such file or directory"),
    ("{tmp}/fifo", "not a regular file or a character device"),
], ids=["empty", "directory", "missing-directory", "fifo"])
def test_bad_logfile_is_refused_before_mounting(tmp_path, value, reason):
    d = Daxfs(tmp_path)
    d.mkfs()
    os.mkfifo(tmp_path / "fifo")
    value = value.format(tmp=tmp_path)
    err = d.mount_fails(f"logfile={value}")
    assert err == f"daxfs-fuse: invalid option logfile={value}: {reason}\n"


def test_unknown_option_is_refused(tmp_path):
    d = Daxfs(tmp_path)
    d.mkfs()
    err = d.mount_fails("no_such_option")
    assert "no_such_option" in err


def test_missing_source_names_the_file(tmp_path):
    d = Daxfs(tmp_path)
    missing = str(tmp_path / "nonexistent")
    err = d.mount_fails(source=missing)
    assert err == f"daxfs-fuse: {missing}: No such file or directory\n"


def test_missing_mountpoint_directory_is_refused(tmp_path):
    d = Daxfs(tmp_path)
    d.mkfs()
    d.mnt.rmdir()
    err = d.mount_fails()
    assert "mount" in err and str(d.mnt) in err


def test_bare_dax_option_means_always(tmp_path):
    d = Daxfs(tmp_path, table="0 8192 linear {0} 0\n8192 8192 linear {0} 8192\n")
    d.mkfs()
    d.set_table("0 8192 linear {0} 0\n8192 8192 zero\n")
    err = d.mount_fails("dax")
    assert "zero" in err


def test_unformatted_source_is_refused(tmp_path):
    d = Daxfs(tmp_path)
    err = d.mount_fails()
    assert "cannot mount" in err


def test_second_mount_of_the_same_files_is_refused_naming_the_file(daxfs, tmp_path):
    other = tmp_path / "mnt2"
    other.mkdir()
    try:
        res = run("-f", daxfs.source, str(other))
    finally:
        lazy_unmount(other)
    assert res.returncode == 1
    assert daxfs.files[0] in res.stderr
    assert "in use" in res.stderr
    assert not is_mounted(other)


def test_mount_shows_source_and_type_in_mountinfo(daxfs):
    fields = mount_entry(daxfs.mnt)
    sep = fields.index("-")
    assert fields[sep + 1] == "fuse.daxfs-fuse"
    assert fields[sep + 2] == daxfs.source


def test_sigterm_unmounts_and_exits_0(daxfs):
    (daxfs.mnt / "f").write_bytes(b"kept")
    daxfs.terminate(signal.SIGTERM)
    daxfs.mount()
    assert (daxfs.mnt / "f").read_bytes() == b"kept"


def test_read_only_mount_refuses_writes(daxfs):
    (daxfs.mnt / "f").write_bytes(b"data")
    daxfs.remount("ro")
    assert (daxfs.mnt / "f").read_bytes() == b"data"
    with pytest.raises(OSError) as e:
        (daxfs.mnt / "g").write_bytes(b"x")
    assert e.value.errno == errno.EROFS
    assert "ro" in mount_entry(daxfs.mnt)[5].split(",")


def _wait_daemon_gone(d):
    """A backgrounded daemon has no pid we know: it is gone when its lock is."""
    wait_until(lambda: flock_free(d.files[0]), EXIT_TIMEOUT, "the daemon to exit")


def test_background_mode_returns_once_mounted(tmp_path):
    d = Daxfs(tmp_path)
    d.mkfs()
    try:
        res = subprocess.run([need("daxfs-fuse"), d.source, str(d.mnt)],
                             capture_output=True, text=True, timeout=MOUNT_TIMEOUT)
        assert res.returncode == 0, res.stderr
        assert is_mounted(d.mnt)     # no waiting: ready when the parent exits
        (d.mnt / "f").write_bytes(b"x")
        assert subprocess.run(["fusermount3", "-u", str(d.mnt)]).returncode == 0
        _wait_daemon_gone(d)
    finally:
        lazy_unmount(d.mnt)
    d.fsck()


def test_background_mode_failure_exits_1_with_the_reason(tmp_path):
    d = Daxfs(tmp_path)
    try:
        res = subprocess.run([need("daxfs-fuse"), d.source, str(d.mnt)],
                             capture_output=True, text=True, timeout=MOUNT_TIMEOUT)
    finally:
        if is_mounted(d.mnt):
            subprocess.run(["fusermount3", "-u", str(d.mnt)])
    assert res.returncode == 1
    assert "cannot mount" in res.stderr
    assert not is_mounted(d.mnt)


def _path_with_daemon():
    bindir = os.path.dirname(need("daxfs-fuse"))
    return {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}


@pytest.mark.parametrize("form", ["type", "hash"])
def test_mount_fuse3_starts_the_daemon(tmp_path, form):
    helper = shutil.which("mount.fuse3") or "/usr/sbin/mount.fuse3"
    if not os.path.exists(helper):
        pytest.skip("mount.fuse3 not installed")
    d = Daxfs(tmp_path)
    d.mkfs()
    if form == "type":     # fstab: SOURCE MNT fuse.daxfs-fuse dax=inode
        cmd = [helper, d.source, str(d.mnt), "-t", "fuse.daxfs-fuse", "-o", "dax=inode"]
    else:                  # fstab: daxfs-fuse#SOURCE MNT fuse defaults
        cmd = [helper, "daxfs-fuse#" + d.source, str(d.mnt), "-o", "defaults"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, env=_path_with_daemon(),
                             timeout=MOUNT_TIMEOUT)
        assert res.returncode == 0, res.stderr
        assert is_mounted(d.mnt)
        (d.mnt / "f").write_bytes(b"x")
        assert (d.mnt / "f").read_bytes() == b"x"
        assert subprocess.run(["fusermount3", "-u", str(d.mnt)]).returncode == 0
        _wait_daemon_gone(d)
    finally:
        lazy_unmount(d.mnt)
    d.fsck()


def as_nobody(fn):
    """Runs fn() in a child as uid/gid 65534; returns its exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            os._exit(fn())
        except BaseException:
            os._exit(99)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def read_as_nobody(path):
    """Whether uid 65534 can read path: 0 yes, 13 EACCES. The child opens it
    relative to its directory, opened here, so that the directories above the
    mount (tmp_path is 0700) do not matter."""
    dirfd = os.open(path.parent, os.O_PATH)

    def read():
        try:
            fd = os.open(path.name, os.O_RDONLY, dir_fd=dirfd)
            ok = os.read(fd, 100) == b"open to all"
            os.close(fd)
            return 0 if ok else 2
        except PermissionError:
            return 13
    try:
        return as_nobody(read)
    finally:
        os.close(dirfd)     # an open fd would keep the mount busy


def test_other_users_are_shut_out_without_allow_other(daxfs):
    (daxfs.mnt / "f").write_bytes(b"open to all")
    os.chmod(daxfs.mnt / "f", 0o644)
    assert read_as_nobody(daxfs.mnt / "f") == 13


def test_allow_other_lets_other_users_in_by_the_file_modes(daxfs):
    (daxfs.mnt / "f").write_bytes(b"open to all")
    os.chmod(daxfs.mnt / "f", 0o644)
    daxfs.remount("allow_other")
    assert read_as_nobody(daxfs.mnt / "f") == 0
    os.chmod(daxfs.mnt / "f", 0o600)
    assert read_as_nobody(daxfs.mnt / "f") == 13


def _reply_sizes(log, opcode):
    """Output sizes of the replies to opcode in libfuse's debug log."""
    uniques, sizes = set(), []
    for line in log.splitlines():
        m = re.match(r"unique: (\d+), opcode: (\w+) \(\d+\), nodeid: \d+, insize: (\d+)", line)
        if m and m.group(2) == opcode:
            uniques.add(m.group(1))
        m = re.match(r"\s*unique: (\d+), success, outsize: (\d+)", line)
        if m and m.group(1) in uniques:
            sizes.append(int(m.group(2)))
    return sizes


def _request_sizes(log, opcode):
    return [int(m.group(1)) for m in
            re.finditer(r"opcode: " + opcode + r" \(\d+\), nodeid: \d+, insize: (\d+)", log)]


def test_reads_and_writes_travel_in_1_mib_requests(daxfs):
    daxfs.remount("debug")
    daxfs.allow_stderr(r".")          # the debug log
    data = os.urandom(4 * MIB)
    fd = os.open(daxfs.mnt / "f", os.O_RDWR | os.O_CREAT | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, 4 * MIB)
        buf.write(data)
        assert os.pwritev(fd, [buf], 0) == 4 * MIB
        buf.seek(0)
        assert os.preadv(fd, [buf], 0) == 4 * MIB
        assert bytes(buf) == data
    finally:
        os.close(fd)
    log = daxfs.stderr()
    assert max(_request_sizes(log, "WRITE")) >= MIB    # header + 1 MiB of data
    assert max(_reply_sizes(log, "READ")) >= MIB


def test_page_cache_is_kept_across_opens(daxfs):
    data = os.urandom(256 << 10)
    (daxfs.mnt / "f").write_bytes(data)
    assert (daxfs.mnt / "f").read_bytes() == data       # cached now
    daxfs.unmount()
    daxfs.mount("debug")
    daxfs.allow_stderr(r".")
    assert (daxfs.mnt / "f").read_bytes() == data       # READs fill the cache
    reads = len(_request_sizes(daxfs.stderr(), "READ"))
    assert reads > 0
    assert (daxfs.mnt / "f").read_bytes() == data       # a new open: no READ
    assert len(_request_sizes(daxfs.stderr(), "READ")) == reads

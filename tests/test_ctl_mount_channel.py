"""The control channel itself: who may use it, on which inode, which version; and what status and trace report."""
import ctypes
import errno
import fcntl
import mmap
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import tool as ctl_tool_path
from faults import LoopDevice, ctl, ctl_json, write_synced
from mount import MIB, PAGE, daxfs_factory, on_memory_fs  # noqa: F401  (fixture)

# struct daxfs_ioc_ctl (include/daxfs/ioctl.h)
TEXT_MAX = 16320
CTL_SIZE = 40 + TEXT_MAX


def ioc(nr):
    # _IOWR(0xDA, nr, struct daxfs_ioc_ctl)
    return (3 << 30) | (CTL_SIZE << 16) | (0xDA << 8) | nr


DAXFS_IOC_INFO = ioc(0x02)
DAXFS_IOC_WORKERS = ioc(0x0b)


def raw_request(path, cmd, version=2, flags=0):
    """Sends one request; returns (errno or 0, error field, text)."""
    buf = bytearray(CTL_SIZE)
    buf[0:4] = version.to_bytes(4, "little")
    buf[4:8] = flags.to_bytes(4, "little")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, cmd, buf)
    except OSError as e:
        return e.errno, None, None
    finally:
        os.close(fd)
    err = int.from_bytes(buf[12:16], "little", signed=True)
    text = bytes(buf[40:]).split(b"\0", 1)[0].decode()
    return 0, err, text


def direct_read(path, length):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        return os.preadv(fd, [mmap.mmap(-1, length)], 0)
    finally:
        os.close(fd)


def ctl_tool(name="daxfs-ctl"):
    return ctl_tool_path(name)


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount("allow_other")
    return d


def test_root_gets_an_answer(fs):
    assert raw_request(fs.mnt, DAXFS_IOC_INFO)[:2] == (0, 0)


@pytest.mark.parametrize("request_nr", [DAXFS_IOC_INFO, DAXFS_IOC_WORKERS], ids=["info", "workers"])
def test_another_user_gets_eperm(fs, request_nr):
    # The directory is opened here: the test's tmp directories are not
    # searchable by the other user, the mount's root is (allow_other).
    code = """
        import fcntl, os, sys
        os.setgid(65534); os.setuid(65534)
        try:
            fcntl.ioctl(int(sys.argv[1]), int(sys.argv[2]), bytearray(int(sys.argv[3])))
        except OSError as e:
            print(e.errno)
    """
    fd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(fd),
                            str(request_nr), str(CTL_SIZE)], capture_output=True,
                           text=True, timeout=60, pass_fds=(fd,))
    finally:
        os.close(fd)
    assert r.stdout.strip() == str(errno.EPERM), r.stderr


@pytest.mark.parametrize("version", [1, 3])
def test_another_version_gets_eproto(fs, version):
    # 1: a daxfs-ctl that reads text answers; 3: one newer than the daemon
    assert raw_request(fs.mnt, DAXFS_IOC_INFO, version=version)[0] == errno.EPROTO


DAXFS_IOC_TABLE = ioc(0x01)
F_INACTIVE, F_MORE = 1 << 1, 1 << 3


def piece_request(path, cmd, answer, start, flags=F_MORE):
    """Asks for a piece of an answer; returns (error field, start, len, text_len, answer, text)."""
    buf = bytearray(CTL_SIZE)
    buf[0:4] = (2).to_bytes(4, "little")
    buf[4:8] = flags.to_bytes(4, "little")
    buf[16:24] = start.to_bytes(8, "little")
    buf[36:40] = answer.to_bytes(4, "little")
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, cmd, buf)
    finally:
        os.close(fd)
    u = lambda a, b: int.from_bytes(buf[a:b], "little")  # noqa: E731
    text_len = u(32, 36)
    return (int.from_bytes(buf[12:16], "little", signed=True), u(16, 24), u(24, 32), text_len,
            u(36, 40), bytes(buf[40:40 + text_len]))


def test_an_answer_comes_in_pieces_and_another_command_replaces_it(fs, tmp_path):
    lines = [f"{i * 8} 8 linear {fs.files[0]} {i * 8}" for i in range(1200)]
    staged = tmp_path / "long.table"
    staged.write_text("\n".join(lines) + "\n")
    ctl("load", fs.mnt, staged)
    err, start, total, n, answer, first = piece_request(fs.mnt, DAXFS_IOC_TABLE, 0, 0, F_INACTIVE)
    assert (err, start, n) == (0, 0, TEXT_MAX) and total > TEXT_MAX and answer > 0
    assert first[:4] == b"DWIR" and int.from_bytes(first[8:12], "little") == total
    # a piece from the middle, as often as asked
    for _ in range(2):
        err, start, total2, n, answer2, _ = piece_request(fs.mnt, DAXFS_IOC_TABLE, answer, 100)
        assert (err, start, total2, n, answer2) == (0, 100, total, TEXT_MAX, answer)
    err, _, _, _, _, text = piece_request(fs.mnt, DAXFS_IOC_TABLE, answer, total)
    assert (err, text) == (-errno.EINVAL, f"answer {answer} has {total} bytes: no piece starts "
                           f"at {total}".encode())
    # another command's answer takes its place
    assert raw_request(fs.mnt, DAXFS_IOC_INFO)[:2] == (0, 0)
    err, _, _, _, _, text = piece_request(fs.mnt, DAXFS_IOC_TABLE, answer, TEXT_MAX)
    assert (err, text) == (-errno.ESTALE, f"answer {answer} is no longer held (another "
                           "command's answer took its place): ask again".encode())
    ctl("clear", fs.mnt)


def test_device_control_on_a_file_gets_enotty(fs):
    write_synced(fs.mnt / "f", b"x")
    assert raw_request(fs.mnt / "f", DAXFS_IOC_INFO)[0] == errno.ENOTTY


def test_unknown_number_gets_enotty(fs):
    assert raw_request(fs.mnt, ioc(0x3e))[0] == errno.ENOTTY


def test_info_counts_the_mount_as_an_opener(fs):
    info = ctl_json("info", fs.mnt)
    assert info["open_count"] == 1 and info["tables"] == ["LIVE"]
    assert "Open count:        1" in ctl("info", fs.mnt).stdout


def test_status_reports_a_pmem_file_as_dax_capable(fs):
    s = ctl_json("status", fs.mnt)
    dev = s["devices"][0]
    assert dev["path"] == fs.files[0]
    assert dev["dax"] is True and dev["not_dax_reason"] is None
    mode = "memory" if on_memory_fs(fs.files[0]) else "msync"
    assert dev["is_pmem"] is False and dev["persist"] == mode
    assert s["targets"][0]["type"] == "linear" and s["targets"][0]["dax"] is True
    text = ctl("status", fs.mnt, "--verbose").stdout
    assert f"device {fs.files[0]}: size={64 * MIB} dax=yes is_pmem=no persist={mode}" in text


def test_status_counts_io_per_target_and_device(fs):
    before = ctl_json("status", fs.mnt)
    write_synced(fs.mnt / "f", os.urandom(8 * PAGE))
    after = ctl_json("status", fs.mnt)
    assert after["targets"][0]["ios"] > before["targets"][0]["ios"]
    assert after["devices"][0]["flushes"] > before["devices"][0]["flushes"]


def test_status_says_why_a_block_device_is_not_dax(daxfs_factory):
    d = daxfs_factory(size=16 * MIB)
    with LoopDevice(d.files[0]) as loop:
        d.source = d.table = str(d.tmp / "loop.table")
        with open(d.table, "w") as f:
            f.write(f"0 {16 * MIB // 512} linear {loop.path} 0\n")
        d.mkfs()
        d.mount()
        try:
            s = ctl_json("status", d.mnt)
            assert s["type"] == "bio" and s["filesystem"]["uses_dax"] is False
            dev = s["devices"][0]
            assert dev["dax"] is False and "block device" in dev["not_dax_reason"]
            assert dev["persist"] == "fsync"
            assert re.search(r"dax=no \(.*block device", ctl("status", d.mnt, "--verbose").stdout)
        finally:
            d.cleanup()
            d.mounts = 0


def test_trace_logs_each_step_of_the_chain(fs):
    fs.allow_stderr(r"daxfs-fuse: trace ")
    p = fs.mnt / "f"
    write_synced(p, os.urandom(2 * PAGE))
    ctl("trace", fs.mnt, "on")
    direct_read(p, 2 * PAGE)
    ctl("trace", fs.mnt, "off")
    lines = [line for line in fs.stderr().splitlines() if "trace read" in line]
    assert lines, fs.stderr()
    assert re.search(r"trace read ino \d+ off 0 -> md byte \d+ pgoff \d+ -> target 0 "
                     r"\(linear 0\+\d+\) stripe -1 -> " + re.escape(fs.files[0]) +
                     r" sector \d+ pgoff \d+ -> \d+ pages", lines[0]), lines[0]
    n = len(lines)
    direct_read(p, PAGE)                  # traced no more
    assert len([x for x in fs.stderr().splitlines() if "trace read" in x]) == n


def test_trace_file_gets_the_lines_and_the_log_none(fs, tmp_path):
    trace = tmp_path / "trace.log"
    p = fs.mnt / "f"
    write_synced(p, os.urandom(PAGE))
    # a relative PATH is the caller's, not the daemon's (whose cwd is /)
    r = subprocess.run([ctl_tool(), "trace", str(fs.mnt), "on", "--file", "trace.log"],
                       cwd=tmp_path)
    assert r.returncode == 0
    direct_read(p, PAGE)
    ctl("trace", fs.mnt, "off")
    lines = trace.read_text().splitlines()
    assert lines and all(line.startswith("daxfs-fuse: trace ") for line in lines), lines
    assert re.search(r"trace read ino \d+ off 0 -> .* -> " + re.escape(fs.files[0]), lines[-1])
    assert "trace" not in fs.stderr()
    n = len(lines)
    direct_read(p, PAGE)                  # off: the file gets nothing more
    assert len(trace.read_text().splitlines()) == n


def test_trace_file_the_daemon_cannot_open_is_refused(fs, tmp_path):
    r = subprocess.run([ctl_tool(), "trace", str(fs.mnt), "on", "--file",
                        str(tmp_path / "missing" / "trace.log")], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"trace: {tmp_path}/missing/trace.log: No such file or directory" in r.stderr


def test_trace_to_a_log_that_goes_nowhere_is_refused(tmp_path, daxfs_factory):
    """A daemon in the background logs to syslog; without one, a trace
    without --file would vanish, so it is refused."""
    if os.path.exists("/dev/log"):
        pytest.skip("this machine has a syslog (/dev/log)")
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    r = subprocess.run([ctl_tool("daxfs-fuse"), d.source, str(d.mnt)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        assert "no syslog on this machine (/dev/log)" in r.stderr
        t = subprocess.run([ctl_tool(), "trace", str(d.mnt), "on"], capture_output=True,
                           text=True)
        assert t.returncode == 1
        assert "the trace would be lost; give it a file with --file PATH" in t.stderr
    finally:
        subprocess.run(["fusermount3", "-u", str(d.mnt)], check=True)


def test_trace_goes_to_the_daemons_logfile(tmp_path, daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    log = tmp_path / "daemon.log"
    r = subprocess.run([ctl_tool("daxfs-fuse"), "-o", f"logfile={log}", d.source, str(d.mnt)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        assert r.stderr == ""
        write_synced(d.mnt / "f", os.urandom(PAGE))
        ctl("trace", d.mnt, "on")
        direct_read(d.mnt / "f", PAGE)
        ctl("trace", d.mnt, "off")
    finally:
        subprocess.run(["fusermount3", "-u", str(d.mnt)], check=True)
    lines = [x for x in log.read_text().splitlines() if "trace read" in x]
    # the log file's lines carry the time and the daemon's pid, as syslog's do
    assert lines and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[\d+\] daxfs-fuse: trace read",
                              lines[0]), lines


def test_trace_file_that_is_a_fifo_is_refused_without_hanging(fs, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = subprocess.run([ctl_tool(), "trace", str(fs.mnt), "on", "--file", str(fifo)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert f"trace: {fifo}: " in r.stderr
    ctl("info", fs.mnt)                   # the control channel still answers

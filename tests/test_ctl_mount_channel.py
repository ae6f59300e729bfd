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

from faults import LoopDevice, ctl, ctl_json, write_synced
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

# struct daxfs_ioc_ctl (include/daxfs/ioctl.h)
TEXT_MAX = 16320
CTL_SIZE = 40 + TEXT_MAX


def ioc(nr):
    # _IOWR(0xDA, nr, struct daxfs_ioc_ctl)
    return (3 << 30) | (CTL_SIZE << 16) | (0xDA << 8) | nr


DAXFS_IOC_INFO = ioc(0x02)


def raw_request(path, cmd, version=1, flags=0):
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


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount("allow_other")
    return d


def test_root_gets_an_answer(fs):
    assert raw_request(fs.mnt, DAXFS_IOC_INFO)[:2] == (0, 0)


def test_another_user_gets_eperm(fs):
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
                            str(DAXFS_IOC_INFO), str(CTL_SIZE)], capture_output=True,
                           text=True, timeout=60, pass_fds=(fd,))
    finally:
        os.close(fd)
    assert r.stdout.strip() == str(errno.EPERM), r.stderr


def test_another_version_gets_eproto(fs):
    assert raw_request(fs.mnt, DAXFS_IOC_INFO, version=2)[0] == errno.EPROTO


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
    assert dev["is_pmem"] is False and dev["persist"] == "msync"
    assert s["targets"][0]["type"] == "linear" and s["targets"][0]["dax"] is True
    text = ctl("status", fs.mnt, "--verbose").stdout
    assert f"device {fs.files[0]}: size={64 * MIB} dax=yes is_pmem=no persist=msync" in text


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

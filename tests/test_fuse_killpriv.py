"""FUSE_HANDLE_KILLPRIV_V2: a write asks for security.capability once per file, not once per write, and the
daemon clears the set-id bits the kernel no longer clears for it (src/fuse/rawio.c)."""
import mmap
import os
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)
from users import shared_dir, shared_fs, users  # noqa: F401  (fixtures)

GETXATTR = re.compile(r"opcode: GETXATTR \(22\)")


@pytest.fixture
def debug_fs(daxfs_factory):
    """Mounted with libfuse's request log on stderr."""
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.allow_stderr(r".*")
    d.mount("debug")
    return d


def getxattrs(d):
    return len(GETXATTR.findall(d.stderr()))


@pytest.mark.parametrize("direct", [False, True], ids=["buffered", "O_DIRECT"])
def test_writes_ask_for_security_capability_once_per_file(debug_fs, direct):
    path = debug_fs.mnt / "f"
    before = getxattrs(debug_fs)
    path.write_bytes(b"\0" * 16 * PAGE)
    fd = os.open(path, os.O_WRONLY | (os.O_DIRECT if direct else 0))
    buf = mmap.mmap(-1, PAGE)          # page-aligned, as O_DIRECT wants
    buf.write(b"w" * PAGE)
    try:
        for i in range(16):
            assert os.pwritev(fd, [buf], ((i * 7) % 16) * PAGE) == PAGE
    finally:
        os.close(fd)
    # the first write asks and the inode is S_NOSEC from then on; without
    # KILLPRIV_V2 every one of the 17 writes asks
    assert getxattrs(debug_fs) - before == 1
    assert path.read_bytes() == b"w" * 16 * PAGE


@pytest.fixture
def fs(shared_fs):
    shared_fs.mount("allow_other")
    return shared_fs


def set_id_file(fs, name, mode):
    path = fs.mnt / name
    path.write_bytes(b"\0" * 2 * PAGE)
    os.chmod(path, mode)
    return path


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_by_a_user_without_cap_fsetid_clears_set_id_bits(fs, users):
    path = set_id_file(fs, "f", 0o6777)
    r = users.outsider.run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY)
        os.pwrite(fd, b"x", 10)
        os.close(fd)
    """, path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o777
    assert path.read_bytes()[10:11] == b"x"


def test_o_direct_write_by_a_user_clears_set_id_bits(fs, users):
    # an O_DIRECT write takes the same file_remove_privs as a buffered one
    path = set_id_file(fs, "f", 0o6777)
    r = users.outsider.run("""
        import mmap, os, sys
        buf = mmap.mmap(-1, 4096)
        buf.write(b"d" * 4096)
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
        assert os.pwritev(fd, [buf], 4096) == 4096
        os.close(fd)
    """, path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o777
    assert path.read_bytes()[4096:] == b"d" * 4096


@pytest.mark.parametrize("direct", [False, True], ids=["buffered", "O_DIRECT"])
def test_a_write_after_a_chmod_clears_them_again(fs, users, direct):
    # the inode is S_NOSEC after the first write; a chmod must end that, or
    # the writes after it would keep the new bits
    path = set_id_file(fs, "f", 0o6777)
    code = textwrap.dedent("""
        import mmap, os, sys
        buf = mmap.mmap(-1, 4096)
        fd = os.open(sys.argv[1], os.O_WRONLY | (os.O_DIRECT if sys.argv[2] == "1" else 0))
        for i in range(3):
            buf[0:1] = b"abc"[i:i + 1]
            assert os.pwritev(fd, [buf], i * 4096) == 4096
            print(oct(os.fstat(fd).st_mode & 0o7777), flush=True)
            if i < 2:
                sys.stdin.readline()          # the owner sets the bits again
        os.close(fd)
    """)
    p = subprocess.Popen([sys.executable, "-c", code, str(path), "1" if direct else "0"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **users.outsider.popen_args())
    try:
        modes = []
        for i in range(3):
            modes.append(p.stdout.readline().strip())
            if i < 2:
                os.chmod(path, 0o6777)
                p.stdin.write("\n")
                p.stdin.flush()
        assert p.wait(timeout=60) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
    assert modes == ["0o777"] * 3
    data = path.read_bytes()
    assert data[0:1] + data[4096:4097] + data[8192:8193] == b"abc"


def test_mapped_write_keeps_set_id_bits(fs, users):
    # a store through a mapping never drops privileges, on any filesystem
    # (page_mkwrite only updates the times)
    path = set_id_file(fs, "f", 0o6777)
    r = users.outsider.run("""
        import mmap, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        m = mmap.mmap(fd, 4096)
        m[0:1] = b"m"
        m.flush()
        m.close()
        os.close(fd)
    """, path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o6777
    assert path.read_bytes()[:1] == b"m"


def test_write_keeps_set_group_id_without_group_execute(fs, users):
    # without group execute the bit means mandatory locking, not privilege
    path = set_id_file(fs, "f", 0o6767)
    r = users.outsider.run("""
        import os, sys
        with open(sys.argv[1], "r+b") as f:
            f.write(b"x")
    """, path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o2767


def test_write_by_root_keeps_set_id_bits(fs):
    path = set_id_file(fs, "f", 0o6777)
    with open(path, "r+b") as f:
        f.write(b"x")
    assert mode_of(path) == 0o6777


def test_truncate_by_a_user_clears_set_id_bits(fs, users):
    path = set_id_file(fs, "f", 0o6777)
    r = users.outsider.run("import os, sys; os.truncate(sys.argv[1], 100)", path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o777 and os.path.getsize(path) == 100


def test_fallocate_by_a_user_clears_set_id_bits(fs, users):
    path = set_id_file(fs, "f", 0o6777)
    r = users.outsider.run("""
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        fd = os.open(sys.argv[1], os.O_WRONLY)
        assert libc.fallocate(fd, 0, 0, 4 * 4096) == 0, ctypes.get_errno()
        os.close(fd)
    """, path)
    assert r.returncode == 0, r.stderr
    assert mode_of(path) == 0o777 and os.path.getsize(path) == 4 * PAGE


def test_chown_of_a_set_id_file_clears_it(fs):
    path = set_id_file(fs, "f", 0o6755)
    os.chown(path, 1234, -1)
    assert mode_of(path) == 0o755


def test_chown_of_a_set_id_directory_keeps_it(fs):
    d = fs.mnt / "d"
    d.mkdir()
    os.chmod(d, 0o2775)
    os.chown(d, 1234, -1)
    assert mode_of(d) == 0o2775

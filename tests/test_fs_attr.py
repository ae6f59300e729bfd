"""Attributes through the kernel: getattr, setattr (mode, owner, size, times), statfs."""
import errno
import os
import stat
import time

import pytest

from mount import MIB, UTIME_NOW, UTIME_OMIT, daxfs, utimensat  # noqa: F401


def test_chmod_changes_the_mode(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.chmod(daxfs.mnt / "f", 0o4751)
    assert stat.S_IMODE(os.stat(daxfs.mnt / "f").st_mode) == 0o4751


def test_chown_changes_owner_and_group(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.chown(daxfs.mnt / "f", 1234, 5678)
    st = os.stat(daxfs.mnt / "f")
    assert (st.st_uid, st.st_gid) == (1234, 5678)


def test_chown_clears_setuid(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.chmod(daxfs.mnt / "f", 0o4755)
    os.chown(daxfs.mnt / "f", 1234, -1)
    assert not os.stat(daxfs.mnt / "f").st_mode & stat.S_ISUID


def test_default_permissions_are_enforced_by_the_kernel(daxfs):
    (daxfs.mnt / "f").write_bytes(b"secret")
    os.chmod(daxfs.mnt / "f", 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            open(daxfs.mnt / "f", "rb")
            os._exit(1)
        except PermissionError:
            os._exit(0)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_truncate_shrinks_and_extends_with_zeros(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"a" * 10000)
    os.truncate(p, 100)
    assert p.read_bytes() == b"a" * 100
    os.truncate(p, 5000)
    assert p.read_bytes() == b"a" * 100 + bytes(4900)


def test_ftruncate_on_an_open_file(daxfs):
    with open(daxfs.mnt / "f", "wb+") as f:
        f.write(b"x" * 8192)
        f.flush()
        os.ftruncate(f.fileno(), 10)
        assert os.fstat(f.fileno()).st_size == 10
        f.seek(0)
        assert f.read() == b"x" * 10


def test_utime_sets_explicit_times(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.utime(daxfs.mnt / "f", ns=(1_000_000_123, 2_000_000_456))
    st = os.stat(daxfs.mnt / "f")
    assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_123, 2_000_000_456)


def test_utime_now_sets_the_current_time(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.utime(daxfs.mnt / "f", ns=(0, 0))
    before = time.time_ns() - 1_000_000_000
    utimensat(daxfs.mnt / "f", UTIME_NOW, UTIME_NOW)
    st = os.stat(daxfs.mnt / "f")
    assert st.st_atime_ns >= before and st.st_mtime_ns >= before


def test_utime_omit_leaves_that_time_alone(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.utime(daxfs.mnt / "f", ns=(1_000_000_000, 2_000_000_000))
    utimensat(daxfs.mnt / "f", UTIME_OMIT, (3, 0))
    st = os.stat(daxfs.mnt / "f")
    assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_000, 3_000_000_000)


def test_setattr_moves_ctime_forward(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.utime(daxfs.mnt / "f", ns=(0, 0))
    before = os.stat(daxfs.mnt / "f").st_ctime_ns
    os.chmod(daxfs.mnt / "f", 0o600)
    assert os.stat(daxfs.mnt / "f").st_ctime_ns >= before


def test_write_updates_mtime_and_size(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.utime(p, ns=(0, 0))
    with open(p, "ab") as f:
        f.write(b"12345")
    st = os.stat(p)
    assert st.st_size == 5
    assert st.st_mtime_ns > 0


def test_attributes_survive_remount(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"abc")
    os.chmod(p, 0o741)
    os.chown(p, 42, 43)
    os.utime(p, ns=(5_000_000_001, 6_000_000_002))
    daxfs.remount()
    st = os.stat(p)
    assert stat.S_IMODE(st.st_mode) == 0o741
    assert (st.st_uid, st.st_gid, st.st_size) == (42, 43, 3)
    assert (st.st_atime_ns, st.st_mtime_ns) == (5_000_000_001, 6_000_000_002)


def test_statfs_reports_blocks_and_free_space(daxfs):
    st = os.statvfs(daxfs.mnt)
    assert st.f_bsize > 0
    assert 0 < st.f_bfree <= st.f_blocks
    assert st.f_blocks * st.f_frsize <= 64 * MIB
    assert st.f_namemax > 0


def test_statfs_free_space_shrinks_after_a_write(daxfs):
    before = os.statvfs(daxfs.mnt).f_bfree
    with open(daxfs.mnt / "f", "wb") as f:
        f.write(os.urandom(4 * MIB))
        os.fsync(f.fileno())
    after = os.statvfs(daxfs.mnt)
    assert (before - after.f_bfree) * after.f_frsize >= 4 * MIB


def test_getattr_of_a_removed_file_via_its_fd_still_works(daxfs):
    with open(daxfs.mnt / "f", "wb") as f:
        f.write(b"12")
        f.flush()
        os.unlink(daxfs.mnt / "f")
        st = os.fstat(f.fileno())
        assert st.st_nlink == 0 and st.st_size == 2


def test_negative_truncate_is_einval(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    with pytest.raises(OSError) as e:
        os.truncate(daxfs.mnt / "f", -1)
    assert e.value.errno == errno.EINVAL

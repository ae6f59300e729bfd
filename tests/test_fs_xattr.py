"""Extended attributes through the kernel, and the read-only system.daxfs.iomap."""
import errno
import os

import pytest

from mount import MIB, PAGE, daxfs  # noqa: F401


def oserror(fn, *args, **kw):
    with pytest.raises(OSError) as e:
        fn(*args, **kw)
    return e.value.errno


def test_user_xattr_round_trips(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "user.colour", b"blue")
    assert os.getxattr(p, "user.colour") == b"blue"


def test_trusted_xattr_round_trips(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "trusted.k", b"\x00\x01binary")
    assert os.getxattr(p, "trusted.k") == b"\x00\x01binary"


def test_listxattr_lists_the_names(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "user.a", b"1")
    os.setxattr(p, "user.b", b"2")
    assert sorted(os.listxattr(p)) == ["user.a", "user.b"]


def test_missing_xattr_is_enodata(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    assert oserror(os.getxattr, daxfs.mnt / "f", "user.none") == errno.ENODATA


def test_xattr_create_on_an_existing_name_is_eexist(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "user.a", b"1")
    assert oserror(os.setxattr, p, "user.a", b"2", os.XATTR_CREATE) == errno.EEXIST
    assert os.getxattr(p, "user.a") == b"1"


def test_xattr_replace_of_a_missing_name_is_enodata(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    assert oserror(os.setxattr, p, "user.a", b"2", os.XATTR_REPLACE) == errno.ENODATA


def test_removexattr_removes_the_name(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "user.a", b"1")
    os.removexattr(p, "user.a")
    assert os.listxattr(p) == []
    assert oserror(os.removexattr, p, "user.a") == errno.ENODATA


def test_unsupported_namespace_is_eopnotsupp(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    assert oserror(os.setxattr, daxfs.mnt / "f", "security.x", b"1") == errno.EOPNOTSUPP


def test_xattrs_survive_remount(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    os.setxattr(p, "user.big", b"v" * 1000)
    daxfs.remount()
    assert os.getxattr(p, "user.big") == b"v" * 1000


def test_iomap_attribute_covers_the_file_in_order(daxfs):
    p = daxfs.mnt / "f"
    with open(p, "wb") as f:
        f.write(b"a" * PAGE)
        f.seek(MIB)
        f.write(b"b" * PAGE)
    extents = daxfs.iomap(p)
    pos = 0
    for off, length, kind, addr in extents:
        assert off == pos and length > 0
        assert kind in ("mapped", "unwritten", "hole")
        assert (addr is None) == (kind == "hole")
        pos = off + length
    assert pos >= MIB + PAGE
    assert extents[0][2] == "mapped"


def test_iomap_attribute_is_read_only(daxfs):
    (daxfs.mnt / "f").write_bytes(b"x")
    assert oserror(os.setxattr, daxfs.mnt / "f", "system.daxfs.iomap", b"") == errno.EPERM
    assert oserror(os.removexattr, daxfs.mnt / "f", "system.daxfs.iomap") == errno.EPERM


def test_iomap_attribute_of_a_directory_is_enodata(daxfs):
    os.mkdir(daxfs.mnt / "d")
    assert oserror(os.getxattr, daxfs.mnt / "d", "system.daxfs.iomap") == errno.ENODATA

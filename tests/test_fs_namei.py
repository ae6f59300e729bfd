"""The namespace through the kernel: lookup, mknod, mkdir, unlink, rmdir, symlink, link, rename."""
import errno
import os
import stat

import pytest

from mount import RENAME_EXCHANGE, RENAME_NOREPLACE, daxfs, renameat2  # noqa: F401


def oserror(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.errno


def test_lookup_of_a_missing_name_is_enoent(daxfs):
    assert oserror(os.stat, daxfs.mnt / "missing") == errno.ENOENT


def test_created_file_is_found_by_lookup(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    st = os.stat(daxfs.mnt / "f")
    assert stat.S_ISREG(st.st_mode)
    assert st.st_nlink == 1


def test_negative_lookup_does_not_hide_a_later_create(daxfs):
    assert not (daxfs.mnt / "later").exists()
    (daxfs.mnt / "later").write_bytes(b"x")
    assert (daxfs.mnt / "later").exists()


def test_new_file_is_owned_by_the_caller_with_the_mode_asked(daxfs):
    old = os.umask(0o022)
    try:
        fd = os.open(daxfs.mnt / "f", os.O_CREAT | os.O_WRONLY, 0o640)
        os.close(fd)
    finally:
        os.umask(old)
    st = os.stat(daxfs.mnt / "f")
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())


def test_mknod_makes_a_fifo(daxfs):
    os.mkfifo(daxfs.mnt / "fifo", 0o600)
    assert stat.S_ISFIFO(os.stat(daxfs.mnt / "fifo").st_mode)


def test_mkdir_makes_a_directory_with_two_links(daxfs):
    os.mkdir(daxfs.mnt / "d", 0o755)
    st = os.stat(daxfs.mnt / "d")
    assert stat.S_ISDIR(st.st_mode)
    assert st.st_nlink == 2


def test_mkdir_of_an_existing_name_is_eexist(daxfs):
    os.mkdir(daxfs.mnt / "d")
    assert oserror(os.mkdir, daxfs.mnt / "d") == errno.EEXIST


def test_subdirectory_raises_the_parents_link_count(daxfs):
    os.mkdir(daxfs.mnt / "d")
    os.mkdir(daxfs.mnt / "d" / "sub")
    assert os.stat(daxfs.mnt / "d").st_nlink == 3


def test_unlink_removes_the_name(daxfs):
    (daxfs.mnt / "f").write_bytes(b"x")
    os.unlink(daxfs.mnt / "f")
    assert not (daxfs.mnt / "f").exists()


def test_unlink_of_a_directory_is_eisdir(daxfs):
    os.mkdir(daxfs.mnt / "d")
    assert oserror(os.unlink, daxfs.mnt / "d") == errno.EISDIR


def test_unlinked_open_file_stays_readable(daxfs):
    (daxfs.mnt / "f").write_bytes(b"still here")
    with open(daxfs.mnt / "f", "rb") as f:
        os.unlink(daxfs.mnt / "f")
        assert f.read() == b"still here"


def test_rmdir_removes_an_empty_directory(daxfs):
    os.mkdir(daxfs.mnt / "d")
    os.rmdir(daxfs.mnt / "d")
    assert not (daxfs.mnt / "d").exists()


def test_rmdir_of_a_non_empty_directory_is_enotempty(daxfs):
    os.mkdir(daxfs.mnt / "d")
    (daxfs.mnt / "d" / "f").write_bytes(b"")
    assert oserror(os.rmdir, daxfs.mnt / "d") == errno.ENOTEMPTY


def test_rmdir_of_a_file_is_enotdir(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    assert oserror(os.rmdir, daxfs.mnt / "f") == errno.ENOTDIR


def test_symlink_reads_back_its_target(daxfs):
    os.symlink("some/where/else", daxfs.mnt / "link")
    assert os.readlink(daxfs.mnt / "link") == "some/where/else"
    assert stat.S_ISLNK(os.lstat(daxfs.mnt / "link").st_mode)


def test_symlink_is_followed(daxfs):
    (daxfs.mnt / "target").write_bytes(b"via link")
    os.symlink("target", daxfs.mnt / "link")
    assert (daxfs.mnt / "link").read_bytes() == b"via link"


def test_long_symlink_target_round_trips(daxfs):
    target = "x" * 4000
    os.symlink(target, daxfs.mnt / "link")
    assert os.readlink(daxfs.mnt / "link") == target


def test_hard_link_shares_the_inode_and_counts_links(daxfs):
    (daxfs.mnt / "a").write_bytes(b"shared")
    os.link(daxfs.mnt / "a", daxfs.mnt / "b")
    sa, sb = os.stat(daxfs.mnt / "a"), os.stat(daxfs.mnt / "b")
    assert sa.st_ino == sb.st_ino
    assert sb.st_nlink == 2
    os.unlink(daxfs.mnt / "a")
    assert os.stat(daxfs.mnt / "b").st_nlink == 1
    assert (daxfs.mnt / "b").read_bytes() == b"shared"


def test_hard_link_to_a_directory_is_eperm(daxfs):
    os.mkdir(daxfs.mnt / "d")
    assert oserror(os.link, daxfs.mnt / "d", daxfs.mnt / "d2") == errno.EPERM


def test_rename_moves_between_directories(daxfs):
    os.mkdir(daxfs.mnt / "d")
    (daxfs.mnt / "f").write_bytes(b"moved")
    os.rename(daxfs.mnt / "f", daxfs.mnt / "d" / "g")
    assert not (daxfs.mnt / "f").exists()
    assert (daxfs.mnt / "d" / "g").read_bytes() == b"moved"


def test_rename_replaces_an_existing_file(daxfs):
    (daxfs.mnt / "a").write_bytes(b"new")
    (daxfs.mnt / "b").write_bytes(b"old")
    os.rename(daxfs.mnt / "a", daxfs.mnt / "b")
    assert (daxfs.mnt / "b").read_bytes() == b"new"
    assert not (daxfs.mnt / "a").exists()


def test_rename_noreplace_refuses_an_existing_target(daxfs):
    (daxfs.mnt / "a").write_bytes(b"a")
    (daxfs.mnt / "b").write_bytes(b"b")
    assert oserror(renameat2, daxfs.mnt / "a", daxfs.mnt / "b", RENAME_NOREPLACE) == errno.EEXIST
    assert (daxfs.mnt / "b").read_bytes() == b"b"


def test_rename_noreplace_moves_to_a_free_name(daxfs):
    (daxfs.mnt / "a").write_bytes(b"a")
    renameat2(daxfs.mnt / "a", daxfs.mnt / "c", RENAME_NOREPLACE)
    assert (daxfs.mnt / "c").read_bytes() == b"a"


def test_rename_exchange_swaps_two_names(daxfs):
    (daxfs.mnt / "a").write_bytes(b"A")
    os.mkdir(daxfs.mnt / "b")
    renameat2(daxfs.mnt / "a", daxfs.mnt / "b", RENAME_EXCHANGE)
    assert (daxfs.mnt / "b").read_bytes() == b"A"
    assert (daxfs.mnt / "a").is_dir()


def test_rename_of_a_directory_onto_a_non_empty_one_is_enotempty(daxfs):
    os.mkdir(daxfs.mnt / "a")
    os.mkdir(daxfs.mnt / "b")
    (daxfs.mnt / "b" / "f").write_bytes(b"")
    assert oserror(os.rename, daxfs.mnt / "a", daxfs.mnt / "b") == errno.ENOTEMPTY


def test_rename_of_a_directory_into_itself_is_einval(daxfs):
    os.mkdir(daxfs.mnt / "a")
    assert oserror(os.rename, daxfs.mnt / "a", daxfs.mnt / "a" / "sub") == errno.EINVAL


def test_name_too_long_is_enametoolong(daxfs):
    assert oserror(os.mkdir, daxfs.mnt / ("n" * 256)) == errno.ENAMETOOLONG


def test_namespace_survives_remount(daxfs):
    os.makedirs(daxfs.mnt / "a" / "b")
    (daxfs.mnt / "a" / "b" / "f").write_bytes(b"deep")
    os.symlink("a/b/f", daxfs.mnt / "s")
    os.link(daxfs.mnt / "a" / "b" / "f", daxfs.mnt / "h")
    daxfs.remount()
    assert (daxfs.mnt / "s").read_bytes() == b"deep"
    assert os.stat(daxfs.mnt / "h").st_nlink == 2
    assert sorted(os.listdir(daxfs.mnt)) == ["a", "h", "s"]

"""File handles of a daxfs-fuse mount (FUSE export support): what an NFS
server holds on to. The kernel encodes (inode number, generation); when it no
longer has the inode it asks the daemon for "." of that number, and for ".."
to reconnect a directory. A handle must resolve after the kernel's inode
cache is dropped and after a daemon restart, and never to another file."""
import errno
import os
import struct

import pytest

from mount import (daxfs, drop_inode_cache, name_to_handle_at, open_by_handle_at,  # noqa: F401
                   wait_until)


def read_by_handle(mnt, handle):
    fd = open_by_handle_at(mnt, handle)
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def dir_path_by_handle(mnt, handle):
    """The path the kernel reconnects a directory handle to."""
    fd = open_by_handle_at(mnt, handle, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def unlink_and_forget(mnt, name):
    """Unlinks name and waits until the daemon has freed its inode: the
    kernel sends its FORGET asynchronously, and until it arrives the daemon
    keeps the orphan and gives the next file another number."""
    def used():
        st = os.statvfs(mnt)
        return st.f_files - st.f_ffree
    before = used()
    os.unlink(mnt / name)
    drop_inode_cache()
    wait_until(lambda: used() == before - 1, 10, f"the daemon to free the inode of {name}")


def assert_stale(mnt, handle):
    with pytest.raises(OSError) as e:
        os.close(open_by_handle_at(mnt, handle))
    assert e.value.errno == errno.ESTALE


def forged(handle, ino=None, gen=None):
    """handle with another inode number or generation, in FUSE's encoding
    (nodeid high and low 32 bits, then the generation)."""
    kind, data = handle
    hi, lo, g = struct.unpack_from("<III", data)
    if ino is not None:
        hi, lo = ino >> 32, ino & 0xffffffff
    return kind, struct.pack("<III", hi, lo, g if gen is None else gen) + data[12:]


@pytest.fixture
def tree(daxfs):
    m = daxfs.mnt
    (m / "a").write_bytes(b"alpha")
    (m / "d" / "e").mkdir(parents=True)
    (m / "d" / "e" / "f").write_bytes(b"deep")
    return daxfs


def test_file_handle_resolves_after_the_inode_cache_is_dropped(tree):
    m = tree.mnt
    handles = {p: name_to_handle_at(m / p) for p in ("a", "d/e/f")}
    drop_inode_cache()
    assert read_by_handle(m, handles["a"]) == b"alpha"
    assert read_by_handle(m, handles["d/e/f"]) == b"deep"


def test_directory_handle_reconnects_to_its_path_after_the_inode_cache_is_dropped(tree):
    m = tree.mnt
    handle = name_to_handle_at(m / "d" / "e")
    drop_inode_cache()
    assert dir_path_by_handle(m, handle) == str(m / "d" / "e")


def test_handles_resolve_after_a_daemon_restart(tree):
    m = tree.mnt
    handles = {p: name_to_handle_at(m / p) for p in ("a", "d/e/f", "d/e")}
    tree.remount()
    assert read_by_handle(m, handles["d/e/f"]) == b"deep"
    assert read_by_handle(m, handles["a"]) == b"alpha"
    assert dir_path_by_handle(m, handles["d/e"]) == str(m / "d" / "e")
    # the files the handles found are the ones a lookup by name finds
    assert os.stat(m / "d" / "e" / "f").st_ino == struct.unpack_from("<II", handles["d/e/f"][1])[1]


def test_handle_of_a_removed_file_is_stale(tree):
    m = tree.mnt
    handle = name_to_handle_at(m / "a")
    os.unlink(m / "a")
    assert_stale(m, handle)
    drop_inode_cache()
    assert_stale(m, handle)


def test_handle_of_a_removed_file_is_stale_after_a_restart(tree):
    m = tree.mnt
    handle = name_to_handle_at(m / "a")
    os.unlink(m / "a")
    tree.remount()
    assert_stale(m, handle)


def test_handle_of_a_reused_inode_number_is_stale(tree):
    m = tree.mnt
    ino = os.stat(m / "a").st_ino
    handle = name_to_handle_at(m / "a")
    unlink_and_forget(m, "a")
    (m / "b").write_bytes(b"bravo")
    assert os.stat(m / "b").st_ino == ino, "the test needs the number to be reused"
    assert_stale(m, handle)
    drop_inode_cache()
    assert_stale(m, handle)
    assert read_by_handle(m, name_to_handle_at(m / "b")) == b"bravo"


def test_handle_of_a_reused_inode_number_is_stale_after_a_restart(tree):
    m = tree.mnt
    handle = name_to_handle_at(m / "a")
    unlink_and_forget(m, "a")
    (m / "b").write_bytes(b"bravo")
    tree.remount()
    assert os.stat(m / "b").st_ino == struct.unpack_from("<II", handle[1])[1]
    assert_stale(m, handle)


@pytest.mark.parametrize("ino", [2 ** 40, 2 ** 64 - 1, 1000], ids=["huge", "max", "free-slot"])
def test_forged_handle_of_a_number_in_no_use_is_stale(tree, ino):
    m = tree.mnt
    handle = forged(name_to_handle_at(m / "a"), ino=ino)
    drop_inode_cache()
    assert_stale(m, handle)
    assert (m / "a").read_bytes() == b"alpha"


def test_forged_handle_with_a_wrong_generation_is_stale(tree):
    m = tree.mnt
    kind, data = name_to_handle_at(m / "a")
    gen = struct.unpack_from("<I", data, 8)[0]
    handle = forged((kind, data), gen=gen + 1)
    assert_stale(m, handle)
    drop_inode_cache()
    assert_stale(m, handle)
    assert read_by_handle(m, (kind, data)) == b"alpha"

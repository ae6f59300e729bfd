"""Directories through the kernel: readdir, readdirplus, seekdir, large listings."""
import os
import stat

from mount import daxfs, in_processes  # noqa: F401


def test_empty_directory_lists_nothing(daxfs):
    os.mkdir(daxfs.mnt / "d")
    assert os.listdir(daxfs.mnt / "d") == []


def test_listing_has_every_name_once(daxfs):
    names = {f"file{i}" for i in range(50)} | {"dir", "link"}
    for n in names - {"dir", "link"}:
        (daxfs.mnt / n).write_bytes(b"")
    os.mkdir(daxfs.mnt / "dir")
    os.symlink("file0", daxfs.mnt / "link")
    listed = os.listdir(daxfs.mnt)
    assert sorted(listed) == sorted(names)


def test_scandir_reports_the_entry_types(daxfs):
    (daxfs.mnt / "f").write_bytes(b"")
    os.mkdir(daxfs.mnt / "d")
    os.symlink("f", daxfs.mnt / "l")
    types = {e.name: (e.is_file(follow_symlinks=False), e.is_dir(follow_symlinks=False),
                      e.is_symlink()) for e in os.scandir(daxfs.mnt)}
    assert types == {"f": (True, False, False), "d": (False, True, False),
                     "l": (False, False, True)}


def test_readdirplus_attributes_match_stat(daxfs):
    for i in range(20):
        (daxfs.mnt / f"f{i}").write_bytes(b"x" * i)
    for e in os.scandir(daxfs.mnt):
        st = e.stat(follow_symlinks=False)
        assert st.st_ino == e.inode()
        assert st.st_size == int(e.name[1:])
        assert stat.S_ISREG(st.st_mode)


def test_dotdot_of_a_subdirectory_is_its_parent(daxfs):
    os.makedirs(daxfs.mnt / "d" / "e")
    assert os.stat(daxfs.mnt / "d" / "e" / "..").st_ino == os.stat(daxfs.mnt / "d").st_ino
    assert os.stat(daxfs.mnt / "d" / "..").st_ino == os.stat(daxfs.mnt).st_ino


def test_entries_removed_while_listing_do_not_break_the_listing(daxfs):
    for i in range(300):
        (daxfs.mnt / f"f{i:03}").write_bytes(b"")
    seen = []
    with os.scandir(daxfs.mnt) as it:
        for k, e in enumerate(it):
            seen.append(e.name)
            if k == 10:
                for j in range(200, 300):
                    os.unlink(daxfs.mnt / f"f{j:03}")
    assert len(seen) == len(set(seen))                  # nothing twice
    assert {f"f{i:03}" for i in range(200)} <= set(seen)  # survivors all seen


def test_listing_survives_remount(daxfs):
    for i in range(100):
        (daxfs.mnt / f"n{i}").write_bytes(b"")
    daxfs.remount()
    assert sorted(os.listdir(daxfs.mnt)) == sorted(f"n{i}" for i in range(100))


def test_concurrent_creates_and_unlinks_in_one_directory(daxfs):
    def work(i):
        for k in range(300):
            (daxfs.mnt / f"p{i}-{k}").write_bytes(b"")
        for k in range(0, 300, 2):
            os.unlink(daxfs.mnt / f"p{i}-{k}")
    in_processes(4, work)
    assert sorted(os.listdir(daxfs.mnt)) == \
        sorted(f"p{i}-{k}" for i in range(4) for k in range(1, 300, 2))

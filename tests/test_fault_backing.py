"""Backing files that fail under a mounted filesystem: a member truncated under the mount, a sparse member
whose filesystem fills up; daxfs-fuse -o prealloc and mkfs.daxfs --prealloc.

The daemon reaches its members through mappings; a page its file cannot provide used to kill it with
SIGBUS. Now the access fails with EIO, the page becomes a bad block of that member, and the daemon serves
on (docs/dax.md, "Machine-check-safe access").
"""
import errno
import json
import os
import re
import subprocess
import contextlib

import pytest

from faults import (allow_faults, ctl, ctl_json, drop_cached_pages, errno_of, md_offset, status,
                    write_synced)
from faults import fault_fs  # noqa: F401  (fixture fs)
from mount import (MIB, OPEN_MEMBER, PAGE, SECTOR, Daxfs, daxfs_factory, lazy_unmount, need,  # noqa: F401
                   wait_until)
from run_util import py_run

WARNING = r"warning: .*: \d+ MiB of the file is not allocated, and its filesystem has"


@contextlib.contextmanager
def small_tmpfs(path, size):
    """A tmpfs of size bytes at path, unmounted afterwards whatever happens."""
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            lazy_unmount(path)


@contextlib.contextmanager
def daxfs_on(tmp):
    d = Daxfs(tmp, size=64 * MIB)
    try:
        yield d
    finally:
        d.cleanup()


def member_offset(d, path, file_off):
    """(backing file, byte offset in it) of file_off of path."""
    dev, off, _ = d.resolve(md_offset(d, path, file_off))
    return dev, off


def file_past(d, cut, size):
    """Writes files of size random bytes until one starts past byte cut of
    member 0; returns that one."""
    n = 0
    while True:
        p = d.mnt / f"f{n}"
        write_synced(p, os.urandom(size))
        n += 1
        if member_offset(d, p, 0)[1] >= cut:
            return p


def stop(d):
    """Unmounts; returns the daemon's exit status (1 after a shutdown)."""
    proc, d.proc = d.proc, None
    subprocess.run(["fusermount3", "-u", str(d.mnt)], check=True)
    proc.wait(timeout=20)
    return proc.returncode


def write_fsynced(path, data):
    """The errno of writing data to a new file and fsyncing it, or None. A
    short count is followed by the write of the rest, which fails."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], done)
        os.fsync(fd)
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return None


# ---- a member truncated under the mount ----------------------------------

def test_map_after_a_member_was_cut_names_the_lost_pages(fs):
    member, cut = fs.files[0], 8 * MIB
    low = fs.mnt / "low"
    write_synced(low, os.urandom(64 * 1024))
    assert member_offset(fs, low, 64 * 1024 - 1)[1] < cut
    high = file_past(fs, cut, 64 * 1024)
    os.truncate(member, cut)
    # nothing read the lost pages yet: the map alone must see that they are gone
    r = ctl("map", high, "--json", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    pieces = [p for e in json.loads(r.stdout)["extents"] for p in e["pieces"]]
    assert pieces and all(p.get("error") == "EIO" for p in pieces), pieces
    assert sum(p["length"] for p in pieces) == 64 * 1024
    assert all(p["reason"].endswith(f" of {member} is past its end ({cut} bytes)")
               for p in pieces), pieces
    r = ctl("map", high, check=False)
    (line,) = r.stdout.splitlines()[2:]
    assert line.startswith("    0+65536 error: EIO (byte ") and line.endswith(
        f" of {member} is past its end ({cut} bytes))"), r.stdout
    m = ctl_json("map", low)         # the pages before the cut still resolve
    assert all("error" not in p and p["device"]["path"] == str(member)
               for e in m["extents"] for p in e["pieces"]), m
    os.truncate(member, 64 * MIB)
    assert ctl("map", high, check=False).returncode == 0


def test_member_cut_under_the_mount_fails_the_lost_pages_with_eio(fs, tmp_path):
    member, cut = fs.files[0], 8 * MIB
    files = {}
    while True:                 # files until one lies past the cut
        p = fs.mnt / f"f{len(files)}"
        files[p] = os.urandom(64 * 1024)
        write_synced(p, files[p])
        if member_offset(fs, p, 0)[1] >= cut:
            break
    low, high = list(files)[0], p
    assert member_offset(fs, low, 64 * 1024 - 1)[1] < cut
    bad_sector = member_offset(fs, high, 0)[1] // SECTOR
    os.truncate(member, cut)
    drop_cached_pages(low)
    drop_cached_pages(high)

    r = subprocess.run(["cp", str(high), str(tmp_path / "copy")], capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (1, f"cp: error reading '{high}': Input/output error\n")
    assert fs.proc.poll() is None
    # the lost page is a bad block of the member, as poison would be
    assert ctl_json("badblocks", fs.mnt, member, "list") == [{"sector": bad_sector, "len": 8}]
    assert status(fs)["devices"][0]["badblocks"] == [{"sector": bad_sector, "len": 8}]
    assert status(fs)["filesystem"]["shutdown"] is False
    # everything the file still holds is served as before, writes included
    assert low.read_bytes() == files[low]
    fd = os.open(low, os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"rewritten", 100) == 9
        os.fsync(fd)
    finally:
        os.close(fd)
    assert low.read_bytes()[100:109] == b"rewritten"
    assert sorted(os.listdir(fs.mnt)) == sorted(p.name for p in files)
    os.truncate(member, 64 * MIB)   # whole again: its lost bytes read as zeroes
    fs.unmount()                    # exit 0; fsck -n at teardown finds it clean


def test_write_to_pages_the_member_lost_is_eio(fs):
    """The store into the lost page faults: the page is recorded and the
    WRITE fails with EIO, then and on the next try."""
    member, cut = fs.files[0], 8 * MIB
    p = file_past(fs, cut, 64 * 1024)
    bad_sector = member_offset(fs, p, 0)[1] // SECTOR
    os.truncate(member, cut)
    fd = os.open(p, os.O_WRONLY)
    try:
        assert errno_of(os.pwrite, fd, b"w" * 64 * 1024, 0) == errno.EIO
        assert errno_of(os.pwrite, fd, b"w" * 64 * 1024, 0) == errno.EIO
    finally:
        os.close(fd)
    assert fs.proc.poll() is None
    assert ctl_json("badblocks", fs.mnt, member, "list") == [{"sector": bad_sector, "len": 8}]
    os.truncate(member, 64 * MIB)
    fs.unmount()


def test_large_daxfs_run_write_to_pages_the_member_lost_is_eio_and_leaves_it_cut(fs):
    """daxfs-run copies large writes into members in memory with pwrite,
    which past the end of a member would grow it back; it stores into what
    the member no longer has instead, which faults, and the daemon's write
    fails the page with EIO as above."""
    member, cut = fs.files[0], 8 * MIB
    p = file_past(fs, cut, 512 * 1024)
    bad_sector = member_offset(fs, p, 0)[1] // SECTOR
    os.truncate(member, cut)
    r = py_run("""
        import errno, os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY)
        try:
            os.pwrite(fd, b"w" * 512 * 1024, 0)
        except OSError as e:
            print(errno.errorcode[e.errno])
        """, p)
    assert "served directly" in r.stderr
    assert r.stdout.split() == ["EIO"]
    assert os.path.getsize(member) == cut
    assert fs.proc.poll() is None
    assert ctl_json("badblocks", fs.mnt, member, "list") == [{"sector": bad_sector, "len": 8}]
    os.truncate(member, 64 * MIB)
    fs.unmount()


def test_member_cut_under_the_journal_shuts_the_filesystem_down(fs):
    """The journal's bio write faults: the commit fails, the filesystem shuts
    down as after any failed commit, and the daemon serves on."""
    write_synced(fs.mnt / "keep", b"k" * 100)
    os.truncate(fs.files[0], 1 * MIB)
    fd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert errno_of(os.mkdir, fs.mnt / "d") in (None, errno.EIO)
        assert errno_of(os.fsync, fd) in (None, errno.EIO)
    finally:
        os.close(fd)
    assert status(fs)["filesystem"]["shutdown"] is True
    assert fs.proc.poll() is None
    assert errno_of(os.mkdir, fs.mnt / "e") == errno.EIO
    assert "keep" in os.listdir(fs.mnt)
    assert stop(fs) == 1            # the shutdown is reported at unmount
    # the file lost its journal and inode tables: nothing for fsck to find clean
    fs.dirty = True


# ---- a sparse member on a filesystem that fills up -------------------------

def test_full_backing_filesystem_fails_writes_with_eio_and_serves_on(tmp_path):
    with small_tmpfs(tmp_path / "small", "24m") as small, daxfs_on(small) as d:
        r = d.mkfs()
        assert r.stderr == (f"mkfs.daxfs: warning: {d.files[0]}: 64 MiB of the file is not "
                            "allocated, and its filesystem has 24 MiB free: stores into the rest "
                            "will fail with EIO; --prealloc allocates the files\n")
        d.mount()
        allow_faults(d)
        d.allow_stderr(WARNING)
        assert re.search(WARNING + r" \d+ MiB free: stores into the rest will fail with EIO; "
                         r"-o prealloc allocates the files at mount", d.stderr())
        written, failed = {}, None
        for i in range(6):
            p = d.mnt / f"f{i}"
            data = os.urandom(10 * MIB)
            failed = write_fsynced(p, data)
            if failed:
                break
            written[p] = data
        assert failed in (errno.EIO, errno.ENOSPC)
        assert written, "not even one 10 MiB file fitted"
        assert d.proc.poll() is None
        assert status(d)["devices"][0]["badblocks"]
        for p, data in written.items():
            drop_cached_pages(p)
            assert p.read_bytes() == data
        shut = status(d)["filesystem"]["shutdown"]
        assert stop(d) == (1 if shut else 0)

        # the next mount: the first write that needs a new page fails too,
        # the daemon does not die, and the data is there
        d.mount()
        assert write_fsynced(d.mnt / "after", os.urandom(MIB)) in (errno.EIO, errno.ENOSPC)
        assert d.proc.poll() is None
        for p, data in written.items():
            assert p.read_bytes() == data
        stop(d)
        d.dirty = True              # a shut-down filesystem: fsck may find work


def test_a_sparse_member_grows_only_as_far_as_the_data_ever_reached(daxfs_factory):
    """Files written and removed in turn take the blocks the removed ones
    had: a sparse member keeps the size of what the filesystem held at its
    fullest, not of all that was ever written, so a member on /dev/shm or a
    small tmpfs does not fill it with space the filesystem calls free.
    An unlinked file's blocks come back when the kernel forgets its inode,
    which a loaded machine delays: each write waits for the last file's
    blocks, or the filesystem would rightly hold two files at once."""
    d = daxfs_factory(size=1024 * MIB)
    d.mkfs()
    d.mount()
    free = os.statvfs(d.mnt).f_bfree
    chunk = os.urandom(MIB)
    for _ in range(5):
        with open(d.mnt / "f", "wb") as f:
            for _ in range(200):
                f.write(chunk)
        os.unlink(d.mnt / "f")
        # all but a few blocks of metadata (the directory's) are free again
        wait_until(lambda: os.statvfs(d.mnt).f_bfree >= free - 64, 30, "the unlinked file's blocks")
    assert os.stat(d.files[0]).st_blocks * 512 < 300 * MIB


def test_prealloc_allocates_the_members_whole(daxfs_factory):
    d = daxfs_factory(files=["a", "b"], size=16 * MIB)
    d.mkfs()
    assert all(os.stat(f).st_blocks * 512 < 16 * MIB for f in d.files)
    d.mount("prealloc")
    assert all(os.stat(f).st_blocks * 512 >= 16 * MIB for f in d.files)
    assert all(os.path.getsize(f) == 16 * MIB for f in d.files)
    (d.mnt / "f").write_bytes(b"x" * MIB)
    d.unmount()                     # stderr: no warning


def test_members_other_users_may_read_or_write_draw_a_warning(daxfs_factory):
    """Whoever may read a member file reads every file's data on it, whatever
    the files' own permissions, and whoever may write it changes any: the
    daemon says so at mount, once per file, and not for members only their
    owner may use."""
    d = daxfs_factory(files=["a", "b", "c"], size=16 * MIB)
    d.mkfs()
    os.chmod(d.files[0], 0o644)
    os.chmod(d.files[1], 0o606)
    d.allow_stderr(OPEN_MEMBER)
    d.mount()
    assert d.stderr() == (
        f"daxfs-fuse: warning: {d.files[0]}: every user may read it (mode 0644), and so read "
        "every file's data whatever its permissions; chmod o-rw it\n"
        f"daxfs-fuse: warning: {d.files[1]}: every user may read and write it (mode 0606), and "
        "so read and change every file's data whatever its permissions; chmod o-rw it\n")
    d.unmount()
    os.chmod(d.files[0], 0o640)
    os.chmod(d.files[1], 0o600)
    d.mount()
    assert d.stderr() == ""


def test_prealloc_on_a_full_filesystem_is_refused_naming_the_member(tmp_path):
    with small_tmpfs(tmp_path / "small", "16m") as small, daxfs_on(small) as d:
        d.mkfs()
        err = d.mount_fails("prealloc")
        assert err == (f"daxfs-fuse: -o prealloc: {d.files[0]}: cannot allocate 67108864 bytes: "
                       "No space left on device\n")


def test_prealloc_with_ro_is_refused(daxfs_factory):
    d = daxfs_factory()
    d.mkfs()
    err = d.mount_fails("ro", "prealloc")
    assert err == ("daxfs-fuse: -o prealloc allocates the backing files, which a read-only mount "
                   "leaves alone; use one or the other\n")


def test_mkfs_prealloc_makes_new_files_whole(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    r = subprocess.run([need("mkfs.daxfs"), "-s", "16M", "--prealloc", f"{a},{b}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for f in (a, b):
        assert os.path.getsize(f) == 16 * MIB
        assert os.stat(f).st_blocks * 512 >= 16 * MIB


def test_mkfs_prealloc_on_a_full_filesystem_fails_naming_the_file(tmp_path):
    with small_tmpfs(tmp_path / "small", "8m") as small:
        f = small / "pmem0"
        r = subprocess.run([need("mkfs.daxfs"), "-s", "64M", "--prealloc", str(f)],
                           capture_output=True, text=True)
        assert (r.returncode, r.stderr) == (1, f"mkfs.daxfs: --prealloc: {f}: cannot allocate "
                                               "67108864 bytes: No space left on device\n")

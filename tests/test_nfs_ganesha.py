"""A daxfs-fuse mount served to NFSv4 clients by NFS-Ganesha (VFS backend),
configured and started as `daxfs-ctl export` says, driven by libnfs-utils
(nfs-cp, nfs-cat, nfs-ls) and by tests/nfs4.py where a test needs a raw file
handle, a WRITE over 4 KB (libnfs 4.0.0 cannot send one over NFSv4), RENAME or
REMOVE. The server's `fsck.daxfs -n` runs clean after each test (fixture)."""
import os
import random

import pytest

import nfs4
from faults import allow_faults, live_table, switch_table
from ganesha import Ganesha, libnfs, served  # noqa: F401  (fixture)
from mount import MIB, drop_inode_cache

SEED = 18


def data(n, seed=SEED):
    return random.Random(seed).randbytes(n)


def names(listing):
    """The names an `nfs-ls` listing shows, dot entries aside."""
    return sorted(line.split()[-1] for line in listing.splitlines()
                  if line.split() and line.split()[-1] not in (".", ".."))


def nfs_ls(served, path=""):
    return names(libnfs("nfs-ls", served.nfs.url(path)).stdout.decode())


def nfs_cat(served, path):
    return libnfs("nfs-cat", served.nfs.url(path)).stdout


def nfs_put(served, tmp_path, name, content):
    """Creates name on the server with libnfs's nfs-cp (OPEN, WRITE, CLOSE).
    libnfs 4.0.0 sends one NFSv4 WRITE per call in a 4 KiB buffer: under
    about 4000 bytes only."""
    assert len(content) < 3800
    local = tmp_path / f"local-{name.replace('/', '_')}"
    local.write_bytes(content)
    libnfs("nfs-cp", str(local), served.nfs.url(f"/{name}"))


def test_libnfs_creates_lists_and_reads_files(served, tmp_path):
    content = data(3000)
    nfs_put(served, tmp_path, "hello", content)
    assert nfs_ls(served) == ["hello"]
    assert nfs_cat(served, "/hello") == content
    assert (served.mnt / "hello").read_bytes() == content
    out = tmp_path / "back"
    libnfs("nfs-cp", served.nfs.url("/hello"), str(out))
    assert out.read_bytes() == content


def test_large_file_written_over_nfs_reads_back_everywhere(served, tmp_path):
    content = data(40 * MIB + 12345)
    with served.nfs.client() as c:
        fh = c.create(served.path(), "large")
        c.write_all(fh, content, stable=nfs4.UNSTABLE)
        c.commit(fh)
        assert c.stat(fh)["size"] == len(content)
    assert nfs_cat(served, "/large") == content
    assert (served.mnt / "large").read_bytes() == content


def test_many_files_are_listed_and_read(served):
    n = 400
    with served.nfs.client() as c:
        for i in range(n):
            fh = c.create(served.path(), f"f{i:04d}")
            c.write(fh, 0, f"file {i}\n".encode())
    assert nfs_ls(served) == [f"f{i:04d}" for i in range(n)]
    assert len(os.listdir(served.mnt)) == n
    for i in random.Random(SEED).sample(range(n), 10):
        assert nfs_cat(served, f"/f{i:04d}") == f"file {i}\n".encode()


def test_rename_and_unlink(served, tmp_path):
    nfs_put(served, tmp_path, "a", b"alpha")
    with served.nfs.client() as c:
        c.rename(served.path(), "a", served.path(), "b")
        assert nfs_ls(served) == ["b"]
        assert nfs_cat(served, "/b") == b"alpha"
        assert libnfs("nfs-cat", served.nfs.url("/a"), check=False).returncode != 0
        c.remove(served.path(), "b")
    assert nfs_ls(served) == []
    assert os.listdir(served.mnt) == []


def test_everything_works_after_the_server_drops_its_inode_cache(served, tmp_path):
    """The regression: Ganesha keeps handles, not open files, of what it
    looked up, so the kernel may forget those inodes (memory pressure does
    it on its own) and must find them again from the handles alone."""
    (served.mnt / "dir" / "sub").mkdir(parents=True)
    big = data(5 * MIB)
    (served.mnt / "dir" / "sub" / "big").write_bytes(big)
    nfs_put(served, tmp_path, "dir/small", b"small")
    with served.nfs.client() as c:
        fh = c.handle(served.path("dir/sub/big"))
        small = c.handle(served.path("dir/small"))
        dir_fh = c.handle(served.path("dir/sub"))
        drop_inode_cache()
        assert c.stat(dir_fh)["type"] == 2
        assert c.read_all(fh) == big
        drop_inode_cache()
        assert nfs_cat(served, "/dir/sub/big") == big
        assert nfs_ls(served, "/dir") == ["small", "sub"]
        drop_inode_cache()
        c.write(small, 5, b" again")
        c.rename(served.path("dir"), "small", served.path("dir/sub"), "moved")
        drop_inode_cache()
        assert nfs_cat(served, "/dir/sub/moved") == b"small again"
        c.remove(served.path("dir/sub"), "big")
        drop_inode_cache()
        nfs_put(served, tmp_path, "dir/new", b"new")
        assert nfs_ls(served, "/dir/sub") == ["moved"]
        assert nfs_cat(served, "/dir/new") == b"new"


def test_handle_of_a_deleted_file_is_stale(served):
    with served.nfs.client() as c:
        fh = c.create(served.path(), "gone")
        c.write(fh, 0, b"old")
        c.remove(served.path(), "gone")
        drop_inode_cache()
        with pytest.raises(nfs4.Nfs4Error) as e:
            c.read(fh, 0, 10)
        assert e.value.name in ("NFS4ERR_STALE", "NFS4ERR_NOENT")


def test_handle_of_a_deleted_file_is_stale_when_its_inode_is_reused(served):
    with served.nfs.client() as c:
        fh = c.create(served.path(), "old")
        c.write(fh, 0, b"old data")
        ino = c.stat(fh)["fileid"]
        c.remove(served.path(), "old")
        drop_inode_cache()
        new = c.create(served.path(), "new")
        c.write(new, 0, b"new data")
        assert c.stat(new)["fileid"] == ino, "the test needs the inode number reused"
        drop_inode_cache()
        with pytest.raises(nfs4.Nfs4Error) as e:
            c.read(fh, 0, 10)
        assert e.value.name in ("NFS4ERR_STALE", "NFS4ERR_NOENT")
        assert c.read(new, 0, 100) == (b"new data", True)


def test_handles_survive_a_ganesha_restart(served):
    with served.nfs.client() as c:
        fh = c.create(served.path(), "kept")
        c.write(fh, 0, b"kept")
    served.nfs.stop()
    drop_inode_cache()
    served.nfs.start()
    with served.nfs.client() as c:
        assert c.read(fh, 0, 100) == (b"kept", True)


def test_files_made_on_the_server_are_seen_at_once(served):
    with served.nfs.client() as c:
        assert c.compound(*c._walk(served.path()), nfs4.getattr_())[0]["type"] == 2
        (served.mnt / "local").write_bytes(b"made here")
        fh = c.handle(served.path("local"))
        assert c.read(fh, 0, 100) == (b"made here", True)
        (served.mnt / "local").write_bytes(b"changed here")
        assert c.stat(fh)["size"] == len(b"changed here")
        assert c.read(fh, 0, 100) == (b"changed here", True)


def test_owners_travel_as_numeric_ids(served):
    pub = served.mnt / "pub"
    pub.mkdir()
    pub.chmod(0o1777)
    with served.nfs.client(uid=1234, gid=4321) as c:
        fh = c.create(served.path("pub"), "mine")
        attrs = c.stat(fh)
        assert (attrs["owner"], attrs["group"]) == ("1234", "4321")
        with pytest.raises(nfs4.Nfs4Error) as e:
            c.create(served.path(), "not-mine")
        assert e.value.name == "NFS4ERR_ACCESS"
    st = os.stat(pub / "mine")
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    listing = libnfs("nfs-ls", served.nfs.url("/pub")).stdout.decode()
    assert any(line.split()[2:4] == ["1234", "4321"] and line.endswith("mine")
               for line in listing.splitlines()), listing


def test_an_error_table_on_the_server_reaches_clients_as_nfs4err_io(served):
    allow_faults(served.fs)
    served.nfs.allow_log(r"Error I/O error with error code 5 in nfs4_read_cb converted to NFS4ERR_IO")
    content = data(64 * 1024)
    with served.nfs.client() as c:
        fh = c.create(served.path(), "f")
        c.write_all(fh, content)
        working = live_table(served.fs)
        sectors = 256 * MIB // 512
        switch_table(served.fs, f"0 {sectors} error\n")
        with pytest.raises(nfs4.Nfs4Error) as e:
            c.read(fh, 0, 4096)
        assert e.value.name == "NFS4ERR_IO"
        switch_table(served.fs, working)
        assert c.read_all(fh) == content

"""Many files and one very large directory."""
import os
import stat

from mount import MIB, daxfs_factory  # noqa: F401


def test_thousands_of_files_keep_their_contents_across_remount(daxfs_factory):
    d = daxfs_factory(size=128 * MIB)
    d.mkfs()
    d.mount()
    for k in range(10):
        os.mkdir(d.mnt / f"d{k}")
    for i in range(5000):
        (d.mnt / f"d{i % 10}" / f"f{i}").write_bytes(f"file {i}".encode())
    d.remount()
    for i in range(5000):
        assert (d.mnt / f"d{i % 10}" / f"f{i}").read_bytes() == f"file {i}".encode()
    assert sum(len(os.listdir(d.mnt / f"d{k}")) for k in range(10)) == 5000


def test_directory_with_100000_entries(daxfs_factory):
    n = 100_000
    d = daxfs_factory(size=256 * MIB)
    d.mkfs()
    d.mount()
    big = d.mnt / "big"
    os.mkdir(big)
    for i in range(n):
        os.mknod(big / f"entry-{i:06}", stat.S_IFREG | 0o644)
    names = os.listdir(big)
    assert len(names) == n
    assert len(set(names)) == n
    d.remount()
    assert sorted(os.listdir(big)) == [f"entry-{i:06}" for i in range(n)]
    for i in range(0, n, 9973):                     # lookups hit the right names
        assert os.stat(big / f"entry-{i:06}").st_size == 0
    for i in range(0, n, 10):
        os.unlink(big / f"entry-{i:06}")
    names = os.listdir(big)
    assert len(names) == n - n // 10
    assert "entry-000000" not in names and "entry-000001" in names

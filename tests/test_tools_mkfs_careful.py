"""mkfs.daxfs is careful, as mkfs.ext4 is: busy devices, signatures, data, broken tables, -n, -s.

And SOURCE is recorded with absolute names: a daemon started with a relative
one, and daxfs-ctl map run from elsewhere, still find the files.
"""
import hashlib
import os
import resource
import shutil
import struct
import subprocess

import pytest

from conftest import build_sanitizers, run_tool as run, sparse_file
from faults import LoopDevice, ctl, write_synced
from mount import MIB, daxfs_factory, mount_entry  # noqa: F401  (fixture)

SIZE = 16 * MIB
UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def zero_file(path, size=SIZE):
    sparse_file(path, size)
    return path


def need_mkfs_ext4():
    if not shutil.which("mkfs.ext4"):
        pytest.skip("mkfs.ext4 (e2fsprogs) is not installed")


def mkfs_refused(source, member, holds, *args):
    """mkfs.daxfs [args] source stops at member, which holds what it says,
    and offers -f."""
    r = run("mkfs.daxfs", *args, source)
    assert r.returncode == 1
    assert r.stderr == f"mkfs.daxfs: {member} {holds}; use -f to overwrite it\n"


EXT4 = "holds an ext4 filesystem (libblkid found its signature at byte 1080 of the member)"


def summary(size, members, label=""):
    return (f"size: {size} bytes ({size // 512} sectors)\nblocks: {size // 4096} of 4096 bytes\n"
            f"uuid: {UUID}\nlabel: {label}\nmembers: {members}\n")


# ---- busy block devices ------------------------------------------------------

@pytest.fixture
def mounted_ext4(tmp_path):
    """A loop device holding an ext4 that is mounted: (loop path, mount point)."""
    need_mkfs_ext4()
    backing = zero_file(tmp_path / "ext4.img", 64 * MIB)
    mnt = tmp_path / "ext4"
    mnt.mkdir()
    with LoopDevice(backing) as loop:
        subprocess.run(["mkfs.ext4", "-q", "-F", loop.path], check=True, timeout=120)
        subprocess.run(["mount", "-t", "ext4", loop.path, str(mnt)], check=True, timeout=60)
        try:
            (mnt / "precious").write_text("keep me\n")
            yield loop.path, mnt
        finally:
            subprocess.run(["umount", str(mnt)], timeout=60)


def test_mkfs_refuses_a_mounted_block_device_naming_the_mount(mounted_ext4):
    loop, mnt = mounted_ext4
    for args in ([], ["-f"]):           # -f overwrites data, never a busy device
        r = run("mkfs.daxfs", *args, loop)
        assert r.returncode == 1
        assert r.stderr == f"mkfs.daxfs: {loop}: in use: mounted at {mnt} (ext4)\n"
    assert (mnt / "precious").read_text() == "keep me\n"


def test_mkfs_refuses_a_table_naming_a_mounted_block_device(tmp_path, mounted_ext4):
    loop, mnt = mounted_ext4
    table = tmp_path / "loop.table"
    table.write_text(f"0 131072 linear {loop} 0\n")
    r = run("mkfs.daxfs", "-f", table)
    assert r.returncode == 1
    assert r.stderr == (f"mkfs.daxfs: {table}:1: linear: Device lookup failed: {loop}: in use: "
                        f"mounted at {mnt} (ext4)\n")


def test_mount_refuses_a_mounted_block_device(tmp_path, daxfs_factory, mounted_ext4):
    loop, mnt = mounted_ext4
    d = daxfs_factory(size=SIZE)
    d.mkfs()                        # for the fsck at teardown
    err = d.mount_fails(source=loop)
    assert err == f"daxfs-fuse: {loop}: in use: mounted at {mnt} (ext4)\n"


def test_mkfs_refuses_the_signature_an_unmounted_ext4_left(tmp_path):
    need_mkfs_ext4()
    backing = zero_file(tmp_path / "ext4.img", 64 * MIB)
    with LoopDevice(backing) as loop:
        subprocess.run(["mkfs.ext4", "-q", "-F", loop.path], check=True, timeout=120)
        mkfs_refused(loop.path, loop.path, EXT4)
        r = run("mkfs.daxfs", "-f", loop.path)
        assert r.returncode == 0, r.stderr


# ---- what a member holds ----------------------------------------------------

def test_mkfs_refuses_a_file_with_another_filesystem(tmp_path):
    need_mkfs_ext4()
    img = zero_file(tmp_path / "ext4.img", 64 * MIB)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True, timeout=120)
    before = digest(img)
    mkfs_refused(img, img, EXT4)
    assert digest(img) == before


def test_mkfs_refuses_a_file_with_a_partition_table(tmp_path):
    img = zero_file(tmp_path / "disk.img")
    with open(img, "r+b") as f:        # one DOS partition, as fdisk writes it
        f.seek(446)
        f.write(bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + struct.pack("<II", 2048, 8192))
        f.seek(510)
        f.write(b"\x55\xaa")
    mkfs_refused(img, img, "holds a dos partition table (libblkid found its signature at byte "
                           "510 of the member)")


def test_mkfs_refuses_a_file_holding_data_and_overwrites_it_with_f(tmp_path):
    img = zero_file(tmp_path / "data.img")
    with open(img, "r+b") as f:
        f.seek(5000)
        f.write(b"a letter")
    before = digest(img)
    mkfs_refused(img, img, "is not empty: byte 5000 of it is not zero, and it holds no daxfs")
    assert digest(img) == before
    r = run("mkfs.daxfs", "-f", img)
    assert r.returncode == 0, r.stderr


def test_mkfs_refuses_a_later_member_of_another_daxfs(tmp_path):
    a, b, c = (zero_file(tmp_path / n) for n in "abc")
    assert run("mkfs.daxfs", "-U", UUID, "-L", "old", f"{a},{b}").returncode == 0
    mkfs_refused(f"{c},{b}", b, f"holds member 1 of 2 of a daxfs (uuid {UUID}, label 'old')")


def test_a_table_file_with_a_nul_byte_is_an_error_not_a_pmem_file(tmp_path, daxfs_factory):
    pmem = zero_file(tmp_path / "pmem")
    table = tmp_path / "nul.table"
    table.write_bytes(f"0 {SIZE // 512} linear {pmem} 0\n# typo\x00\n".encode())
    before = digest(table)
    r = run("mkfs.daxfs", "-f", table)
    assert r.returncode == 1
    assert r.stderr == f"mkfs.daxfs: {table}: not a text table (contains NUL bytes)\n"
    assert digest(table) == before
    r = run("fsck.daxfs", table)
    assert (r.returncode, r.stderr) == (8, f"fsck.daxfs: {table}: not a text table (contains NUL "
                                           "bytes)\n")
    d = daxfs_factory(size=SIZE)
    d.mkfs()
    assert d.mount_fails(source=str(table)) == (f"daxfs-fuse: {table}: not a text table "
                                                 "(contains NUL bytes)\n")


# ---- -n and -s ------------------------------------------------------------------

def test_mkfs_n_with_files_to_create_writes_nothing(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    r = run("mkfs.daxfs", "-n", "-s", "16M", "-U", UUID, f"{a},{b}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"would create {a}: a sparse file of {SIZE} bytes\n"
                        f"would create {b}: a sparse file of {SIZE} bytes\n"
                        + summary(2 * SIZE, 2) + "nothing written (-n)\n")
    assert sorted(os.listdir(tmp_path)) == []


def test_mkfs_n_with_a_file_to_grow_writes_nothing(tmp_path):
    a, b = zero_file(tmp_path / "a", SIZE // 2), zero_file(tmp_path / "b")
    r = run("mkfs.daxfs", "-n", "-s", "16M", "-U", UUID, f"{a},{b}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"would grow {a} from {SIZE // 2} to {SIZE} bytes\n"
                        + summary(2 * SIZE, 2) + "nothing written (-n)\n")
    assert os.path.getsize(a) == SIZE // 2


def test_mkfs_n_over_a_daxfs_writes_nothing(tmp_path):
    a, b = zero_file(tmp_path / "a"), zero_file(tmp_path / "b")
    assert run("mkfs.daxfs", f"{a},{b}").returncode == 0
    before = [digest(a), digest(b)]
    r = run("mkfs.daxfs", "-n", f"{a},{b}")
    assert r.returncode == 1, "without -f, -n refuses as mkfs would"
    assert r.stderr.startswith(f"mkfs.daxfs: {a} holds a daxfs (format 2, uuid ")
    r = run("mkfs.daxfs", "-n", "-f", "-U", UUID, "-L", "new", f"{a},{b}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == summary(2 * SIZE, 2, "new") + "nothing written (-n)\n"
    assert [digest(a), digest(b)] == before


def test_failed_mkfs_removes_the_files_it_made_and_shrinks_the_ones_it_grew(tmp_path):
    new, small, dirty = tmp_path / "new", zero_file(tmp_path / "small", SIZE // 2), \
        zero_file(tmp_path / "dirty")
    with open(dirty, "r+b") as f:
        f.write(b"x")
    mkfs_refused(f"{new},{small},{dirty}", dirty,
                 "is not empty: byte 0 of it is not zero, and it holds no daxfs", "-s", "16M")
    assert not new.exists()
    assert os.path.getsize(small) == SIZE // 2


# ---- relative SOURCE ----------------------------------------------------------

def test_relative_source_is_recorded_absolute(daxfs_factory, tmp_path):
    d = daxfs_factory(files=["a", "b"], size=SIZE)
    r = run("mkfs.daxfs", "a,b", cwd=d.tmp)
    assert r.returncode == 0, r.stderr
    d.mount(source="a,b", cwd=d.tmp)
    fields = mount_entry(d.mnt)
    assert fields[fields.index("-") + 2] == f"{d.files[0]},{d.files[1]}"
    assert ctl("table", d.mnt).stdout == (f"0 {SIZE // 512} linear {d.files[0]} 0\n"
                                          f"{SIZE // 512} {SIZE // 512} linear {d.files[1]} 0\n")
    write_synced(d.mnt / "f", b"hello")
    r = run("daxfs-ctl", "map", d.mnt / "f", cwd="/")
    assert r.returncode == 0, r.stderr
    assert f"-> {d.files[0]} offset" in r.stdout


def test_a_member_larger_than_the_address_space_says_so(tmp_path):
    if "address" in build_sanitizers():
        pytest.skip("AddressSanitizer's shadow memory does not fit under a small ulimit -v")
    big = sparse_file(tmp_path / "big", 4 << 30)

    def small_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    r = run("mkfs.daxfs", big, preexec_fn=small_address_space)
    assert r.returncode == 1, r.stderr
    assert f"{big}: cannot map its {4 << 30} bytes" in r.stderr, r.stderr
    assert "ulimit -v" in r.stderr and "vm.overcommit_memory" in r.stderr, r.stderr
    with open(big, "rb") as f:
        assert f.read(1 << 20) == bytes(1 << 20)        # nothing written

"""File bytes land where the dm chain says: linear and striped tables, DAX and bio paths."""
import os
import random
import subprocess

import pytest

from conftest import sparse_file
from mount import MIB, Daxfs, daxfs_factory, need  # noqa: F401

SECTORS_PER_MIB = MIB // 512


def pattern(n, seed):
    return random.Random(seed).randbytes(n)


def write_synced(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def linear_table(sizes_mib, offsets_mib=None):
    """One linear target per file, file i mapped from offsets_mib[i] MiB on."""
    offsets_mib = offsets_mib or [0] * len(sizes_mib)
    lines, start = [], 0
    for i, (size, off) in enumerate(zip(sizes_mib, offsets_mib)):
        lines.append(f"{start} {size * SECTORS_PER_MIB} linear {{{i}}} {off * SECTORS_PER_MIB}")
        start += size * SECTORS_PER_MIB
    return "\n".join(lines) + "\n"


def check_file_in_backing_files(d, path, data, expect_devices):
    got, devices = d.backing_bytes(path)
    assert got == data
    assert devices == set(expect_devices)


@pytest.mark.parametrize("files,size,table,nbytes,seed", [
    (["a", "b"], 40 * MIB, linear_table([32, 32], [0, 8]), 44 * MIB, 2),
    (["a", "b", "c"], 24 * MIB, linear_table([16, 20, 24], [8, 4, 0]), 40 * MIB, 3),
    # 64 MiB striped over two files in 64 KiB chunks
    (["a", "b"], 32 * MIB, f"0 {64 * SECTORS_PER_MIB} striped 2 128 {{0}} 0 {{1}} 0\n",
     3 * MIB + 4096 * 3, 4),
    (["a", "b"], 24 * MIB, None, 30 * MIB, 5),
], ids=["two-linear-targets", "three-linear-targets", "striped-target", "list-of-pmem-files"])
def test_a_file_lies_in_every_member(daxfs_factory, files, size, table, nbytes, seed):
    d = daxfs_factory(files=files, size=size, table=table)
    d.mkfs()
    d.mount()
    data = pattern(nbytes, seed=seed)
    write_synced(d.mnt / "f", data)
    check_file_in_backing_files(d, d.mnt / "f", data, d.files)


def test_spanning_file_survives_remount(daxfs_factory):
    d = daxfs_factory(files=["a", "b"], size=32 * MIB, table=linear_table([32, 32]))
    d.mkfs()
    d.mount()
    data = pattern(40 * MIB, seed=6)
    (d.mnt / "big").write_bytes(data)
    d.remount()
    assert (d.mnt / "big").read_bytes() == data


def test_dax_never_serves_data_through_the_bio_path(daxfs_factory):
    d = daxfs_factory(files=["a", "b"], size=32 * MIB, table=linear_table([32, 32]))
    d.mkfs()
    d.mount("dax=never")
    data = pattern(40 * MIB, seed=7)
    write_synced(d.mnt / "big", data)
    check_file_in_backing_files(d, d.mnt / "big", data, d.files)
    d.remount("dax=never")
    assert (d.mnt / "big").read_bytes() == data


# mkfs.daxfs refuses a zero target (it drops writes), so the filesystem is
# made on two linear targets and mounted through a table of the same layout
# whose second target is zero.
TWO_LINEAR = f"0 {60 * SECTORS_PER_MIB} linear {{0}} 0\n" \
             f"{60 * SECTORS_PER_MIB} {4 * SECTORS_PER_MIB} linear {{0}} {60 * SECTORS_PER_MIB}\n"
WITH_ZERO = f"0 {60 * SECTORS_PER_MIB} linear {{0}} 0\n" \
            f"{60 * SECTORS_PER_MIB} {4 * SECTORS_PER_MIB} zero\n"


def test_table_with_a_zero_target_is_refused_with_dax_always(daxfs_factory):
    d = daxfs_factory(files=["a"], size=64 * MIB, table=TWO_LINEAR)
    d.mkfs()
    d.set_table(WITH_ZERO)
    err = d.mount_fails("dax=always")
    assert "zero" in err


def test_table_with_a_zero_target_is_served_through_the_bio_path(daxfs_factory):
    d = daxfs_factory(files=["a"], size=64 * MIB, table=TWO_LINEAR)
    d.mkfs()
    d.set_table(WITH_ZERO)
    d.mount()
    data = pattern(MIB, seed=8)
    write_synced(d.mnt / "f", data)
    check_file_in_backing_files(d, d.mnt / "f", data, d.files)
    d.remount()
    assert (d.mnt / "f").read_bytes() == data
    d.unmount()
    d.set_table(TWO_LINEAR)     # for the fsck at teardown


@pytest.fixture
def loop_device(tmp_path):
    backing = tmp_path / "loop.img"
    sparse_file(backing, 64 * MIB)
    res = subprocess.run(["losetup", "--find", "--show", str(backing)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"no loop device: {res.stderr.strip()}")
    dev = res.stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)


def test_loop_device_is_served_through_the_bio_path(loop_device, daxfs_factory):
    d = daxfs_factory(files=["unused"], size=4096, table=f"0 {64 * SECTORS_PER_MIB} linear "
                      f"{loop_device} 0\n")
    d.mkfs()
    d.mount()
    data = pattern(3 * MIB, seed=9)
    write_synced(d.mnt / "f", data)
    d.remount()
    assert (d.mnt / "f").read_bytes() == data


def test_loop_device_is_refused_with_dax_always(loop_device, daxfs_factory):
    d = daxfs_factory(files=["unused"], size=4096, table=f"0 {64 * SECTORS_PER_MIB} linear "
                      f"{loop_device} 0\n")
    d.mkfs()
    err = d.mount_fails("dax=always")
    assert loop_device in err

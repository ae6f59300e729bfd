"""Damaged media: flipped bits and out-of-range pointers in the superblock, inodes, extents and directories.

Each case damages an unmounted image as docs/FORMAT.md lays it out, then:
the mount refuses with the reason, or I/O on the damaged object alone fails
with EIO while the rest works; fsck.daxfs -n reports the damage. The image is
restored afterwards and must be clean again.
"""
import errno
import os
import struct
import subprocess

import pytest

from faults import errno_of, mounted_for_faults
from media import BLOCK, Image
from mount import MIB, PAGE, built, daxfs_factory  # noqa: F401  (fixture)

def fsck_n(d):
    r = subprocess.run([built("fsck.daxfs"), "-n", d.source], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def fs(daxfs_factory):
    d = mounted_for_faults(daxfs_factory, size=32 * MIB)
    d.allow_stderr(r"checksum|crc|damaged|out of range|outside|corrupt|Structure needs cleaning")
    (d.mnt / "dir").mkdir()
    d.victim_data = os.urandom(3 * PAGE)
    (d.mnt / "dir" / "victim").write_bytes(d.victim_data)
    d.other_data = os.urandom(2 * PAGE)
    (d.mnt / "other").write_bytes(d.other_data)
    d.ino = {name: os.stat(d.mnt / name).st_ino for name in ("dir", "dir/victim", "other")}
    d.unmount()
    d.image = Image(d.files[0])
    yield d
    if d.proc is not None:
        d.unmount()
    d.image.restore()       # the teardown's fsck -n must find it clean again


def test_flipped_bit_in_both_superblocks_refuses_the_mount(fs):
    fs.image.flip(0, 3)             # magic of the primary
    fs.image.flip(BLOCK, 3)         # and of the backup
    err = fs.mount_fails()
    assert "magic" in err or "superblock" in err, err
    assert fsck_n(fs)[0] != 0


def test_flipped_bit_in_the_primary_superblock_mounts_from_the_backup(fs):
    fs.image.flip(40, 1)            # inside the uuid: only the crc notices
    code, out = fsck_n(fs)
    assert code == 4 and "superblock" in out, out
    fs.mount()
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


def test_superblock_size_beyond_the_device_refuses_the_mount(fs):
    for blk in (0, 1):
        fs.image.write(blk * BLOCK + 16, struct.pack("<Q", 1 << 40))
        fs.image.reseal_block(blk)
    err = fs.mount_fails()
    assert "superblock 0" in err and "superblock 1" in err, err
    assert fsck_n(fs)[0] != 0


def test_inode_table_pointer_out_of_range_refuses_the_mount(fs):
    for blk in (0, 1):
        fs.image.write(blk * BLOCK + 256, struct.pack("<Q", 1 << 40))
        fs.image.reseal_block(blk)
    err = fs.mount_fails()
    assert err.strip(), "no reason given"
    assert fsck_n(fs)[0] != 0


def test_flipped_bit_in_an_inode_fails_only_that_file(fs):
    fs.image.flip(fs.image.inode_off(fs.ino["dir/victim"]) + 20, 2)     # its size
    assert fsck_n(fs)[0] == 4
    fs.mount()
    assert errno_of(os.stat, fs.mnt / "dir" / "victim") == errno.EIO
    assert (fs.mnt / "other").read_bytes() == fs.other_data


def test_extent_pointing_outside_the_device_fails_only_that_file(fs):
    ino = fs.ino["dir/victim"]
    off, lblk, pblk, length = fs.image.inline_extent(ino)
    assert length >= 1
    fs.image.write(off + 8, struct.pack("<Q", 1 << 40))
    fs.image.reseal_inode(ino)
    code, out = fsck_n(fs)
    assert code == 4, out
    fs.mount()
    assert errno_of((fs.mnt / "dir" / "victim").read_bytes) == errno.EIO
    assert (fs.mnt / "other").read_bytes() == fs.other_data


def test_flipped_bit_in_a_directory_block_fails_only_that_directory(fs):
    _, _, pblk, _ = fs.image.inline_extent(fs.ino["dir"])
    fs.image.flip(pblk * BLOCK + 20, 0)         # inside the first record
    assert fsck_n(fs)[0] == 4
    fs.mount()
    assert errno_of(os.listdir, fs.mnt / "dir") == errno.EIO
    assert (fs.mnt / "other").read_bytes() == fs.other_data


def test_directory_entry_pointing_past_the_inode_table_fails_the_lookup(fs):
    _, _, pblk, _ = fs.image.inline_extent(fs.ino["dir"])
    fs.image.write(pblk * BLOCK + 16, struct.pack("<Q", 1 << 40))      # first record's ino
    fs.image.reseal_block(pblk)
    assert fsck_n(fs)[0] == 4
    fs.mount()
    r = errno_of(os.stat, fs.mnt / "dir" / "victim")
    assert r in (errno.EIO, errno.ENOENT, errno.EUCLEAN), r
    assert (fs.mnt / "other").read_bytes() == fs.other_data

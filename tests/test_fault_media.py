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

from faults import allow_faults, errno_of
from mount import MIB, PAGE, built, daxfs_factory  # noqa: F401  (fixture)

BLOCK = 4096


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


class Image:
    """The backing file of a one-file daxfs, read and patched block by block."""

    def __init__(self, path):
        self.path = path
        self.saved = {}

    def read(self, off, n):
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def write(self, off, data):
        for b in range(off // BLOCK, (off + len(data) - 1) // BLOCK + 1):
            self.saved.setdefault(b, self.read(b * BLOCK, BLOCK))
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(data)

    def restore(self):
        with open(self.path, "r+b") as f:
            for b, data in self.saved.items():
                f.seek(b * BLOCK)
                f.write(data)
        self.saved = {}

    def flip(self, off, bit=0):
        self.write(off, bytes([self.read(off, 1)[0] ^ (1 << bit)]))

    def u64(self, off):
        return struct.unpack("<Q", self.read(off, 8))[0]

    def u32(self, off):
        return struct.unpack("<I", self.read(off, 4))[0]

    def reseal_block(self, blk):
        """Block-tail crc: crc32c(le64(blk) || bytes[0..4092))."""
        body = self.read(blk * BLOCK, 4092)
        self.write(blk * BLOCK + 4092, struct.pack("<I", crc32c(struct.pack("<Q", blk) + body)))

    def reseal_inode(self, ino):
        off = self.inode_off(ino)
        body = self.read(off, 252)
        self.write(off + 252, struct.pack("<I", crc32c(struct.pack("<Q", ino) + body)))

    # ---- locating things (FORMAT.md) ----
    def itable_extents(self):
        n = self.u32(212)
        return [(self.u64(256 + 16 * i), self.u32(256 + 16 * i + 8)) for i in range(n)]

    def inode_off(self, ino):
        pos = ino * 256
        for pblk, length in self.itable_extents():
            if pos < length * BLOCK:
                return pblk * BLOCK + pos
            pos -= length * BLOCK
        raise AssertionError(f"inode {ino} outside the inode table")

    def inline_extent(self, ino, i=0):
        """(offset of the extent in the image, lblk, pblk, len)"""
        off = self.inode_off(ino) + 128 + 24 * i
        lblk, pblk, length, _ = struct.unpack("<QQII", self.read(off, 24))
        return off, lblk, pblk, length


def fsck_n(d):
    r = subprocess.run([built("fsck.daxfs"), "-n", d.source], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=32 * MIB)
    d.mkfs()
    d.mount()
    allow_faults(d)
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

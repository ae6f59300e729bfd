"""An unmounted daxfs image patched in place, as docs/FORMAT.md lays it out (standard library only).

For tests that damage one known object and restore it afterwards
(tests/test_fault_media.py, tests/test_fsck_repair.py).
"""
import struct

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

    def group_desc_off(self, g):
        """Byte offset of group g's descriptor (the table follows the journal)."""
        return self.u64(136) * BLOCK + g * 32

    def reseal_group_desc(self, g):
        """Entry crc: crc32c(le64(group) || the 28 bytes before it)."""
        off = self.group_desc_off(g)
        body = self.read(off, 28)
        self.write(off + 28, struct.pack("<I", crc32c(struct.pack("<Q", g) + body)))

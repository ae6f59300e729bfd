"""Seeded damage to daxfs images, for tests/test_fsck_damage.py (standard library only).

An image is a populated filesystem on several member files that `daxfs-image
make` writes and `daxfs-image map` describes: one line per metadata block,
"STRUCTURE BLOCK BYTES", for every structure docs/FORMAT.md lists, with block
numbers of the mapped device (the members concatenated, as a list SOURCE
maps them). A Damage is one of four
kinds applied to one such block, chosen by a seed, so that a failing case is
reproduced from its id alone:

  bitflip  one bit, inside the structure's bytes most of the time
  byterun  1..64 random bytes at a random place in the block
  zero     the whole block zeroed
  swap     the block exchanged with another metadata block (half the time
           one of the same structure, when there is one)
"""
import hashlib
import os
import random
import zlib

BLOCK = 4096

# Every metadata structure of docs/FORMAT.md, as `daxfs-image map` names it.
STRUCTURES = [
    "sb-primary", "sb-backup",
    "journal-header", "journal-descriptor", "journal-logged", "journal-commit",
    "gdt", "member-table", "label", "bitmap", "itable-root", "itable", "extent-chain",
    "dir-root", "dir", "xattr", "symlink",
]
KINDS = ["bitflip", "byterun", "zero", "swap"]


def parse_map(text):
    """{structure: [(block, bytes)]} from `daxfs-image map` output."""
    out = {}
    for line in text.splitlines():
        name, blk, nbytes = line.split()
        out.setdefault(name, []).append((int(blk), int(nbytes)))
    return out


def seed_of(structure, kind, n):
    """The seed of case n of (structure, kind): stable across runs and machines."""
    return zlib.crc32(f"{structure}/{kind}/{n}".encode())


def data_runs(fd, size):
    """The (start, end) byte ranges of fd that are not holes."""
    off = 0
    while off < size:
        try:
            start = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:          # ENXIO: only a hole is left
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        off = end


class Image:
    """A filesystem image as the non-zero blocks of its member files: cheap to
    copy and to write out, however large the (sparse) filesystem. Block n is
    block n of the mapped device: the members concatenated in order."""

    def __init__(self, sizes, blocks):
        self.sizes = sizes           # bytes of each member file, in order
        self.blocks = blocks         # {block number: 4096 bytes}

    @classmethod
    def read(cls, paths):
        assert not isinstance(paths, (str, os.PathLike)), "a list of member files"
        blocks, sizes, base = {}, [], 0
        zero = bytes(BLOCK)
        for path in paths:
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                for start, end in data_runs(fd, size):
                    start -= start % BLOCK
                    data = os.pread(fd, end - start, start)
                    for off in range(0, len(data), BLOCK):
                        chunk = data[off:off + BLOCK]
                        if chunk != zero:
                            blocks[(base + start + off) // BLOCK] = chunk
            finally:
                os.close(fd)
            sizes.append(size)
            base += size
        return cls(sizes, blocks)

    def copy(self):
        return Image(self.sizes, dict(self.blocks))

    def block(self, n):
        return self.blocks.get(n, bytes(BLOCK))

    def set_block(self, n, data):
        assert len(data) == BLOCK
        self.blocks[n] = bytes(data)

    def write(self, paths):
        """Writes the image to its member files paths, all-zero blocks as holes."""
        base = 0
        for path, size in zip(paths, self.sizes, strict=True):
            with open(path, "wb") as f:
                f.truncate(size)
                for n in sorted(b for b in self.blocks if base <= b * BLOCK < base + size):
                    f.seek(n * BLOCK - base)
                    f.write(self.blocks[n])
            base += size


class Damage:
    """One change to one block: what it is, where, and how to apply it."""

    def __init__(self, structure, kind, seed, block, other=None, offset=0, data=b""):
        self.structure, self.kind, self.seed = structure, kind, seed
        self.block, self.other, self.offset, self.data = block, other, offset, data

    def __str__(self):
        where = f"{self.structure} block {self.block}"
        if self.kind == "swap":
            return f"seed {self.seed}: swap {where} with block {self.other}"
        if self.kind == "zero":
            return f"seed {self.seed}: zero {where}"
        return (f"seed {self.seed}: {self.kind} in {where} at byte {self.offset}: "
                f"{self.data.hex()}")

    def apply(self, image):
        """Applies the damage to image (an Image)."""
        if self.kind == "zero":
            image.set_block(self.block, bytes(BLOCK))
        elif self.kind == "swap":
            a, b = image.block(self.block), image.block(self.other)
            image.set_block(self.block, b)
            image.set_block(self.other, a)
        else:
            blk = bytearray(image.block(self.block))
            blk[self.offset:self.offset + len(self.data)] = self.data
            image.set_block(self.block, blk)


def plan(structures, structure, kind, seed, image):
    """The Damage that seed makes of kind to structure in image."""
    rng = random.Random(seed)
    block, nbytes = rng.choice(structures[structure])
    if kind == "zero":
        return Damage(structure, kind, seed, block)
    if kind == "swap":
        same = [b for b, _ in structures[structure] if b != block]
        anywhere = sorted({b for lst in structures.values() for b, _ in lst} - {block})
        other = rng.choice(same if same and rng.random() < 0.5 else anywhere)
        return Damage(structure, kind, seed, block, other=other)
    # most of the time inside the structure's bytes, else anywhere in the block
    span = nbytes if rng.random() < 0.8 else BLOCK
    old = image.block(block)
    if kind == "bitflip":
        offset = rng.randrange(span)
        return Damage(structure, kind, seed, block, offset=offset,
                      data=bytes([old[offset] ^ (1 << rng.randrange(8))]))
    length = rng.randint(1, 64)
    offset = rng.randrange(max(1, min(span, BLOCK - length)))
    data = bytes(rng.randrange(256) for _ in range(length))
    if data == old[offset:offset + length]:
        data = bytes(x ^ 0xff for x in data)
    return Damage(structure, kind, seed, block, offset=offset, data=data)


ZERO_BLOCK = bytes(BLOCK)


def digest(paths):
    """A hash of the files' contents: each non-zero block with its place, and
    the sizes. A write anywhere changes it but for zeroes into zeroes, and
    only the data (a small part) is read. Where the holes are is left out: a
    read through a shared mapping of a hole on tmpfs makes a page of zeroes
    there, which is no write."""
    assert not isinstance(paths, (str, os.PathLike)), "a list of member files"
    h = hashlib.sha256()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            for start, end in data_runs(fd, size):
                start -= start % BLOCK          # the same blocks, whatever the runs
                data = os.pread(fd, end - start, start)
                for off in range(0, len(data), BLOCK):
                    block = data[off:off + BLOCK]
                    if block != ZERO_BLOCK[:len(block)]:
                        h.update(f"{start + off}:".encode())
                        h.update(block)
            h.update(f"{size};".encode())
        finally:
            os.close(fd)
    return h.hexdigest()

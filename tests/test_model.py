"""Model-based random test: the same seeded operations on the mount and on a reference directory.

Operations: write, truncate, punch hole, store through a shared mmap, rename,
unlink, link, and now and then a remount. After every step both trees must
hold the same names, and each name the same bytes and link count.
"""
import errno
import mmap
import os
import random

import pytest

from mount import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, PAGE, daxfs, fallocate  # noqa: F401

NAMES = [f"f{i}" for i in range(6)] + [f"sub/g{i}" for i in range(3)]
MAX_OFF = 64 * PAGE


class Tree:
    """Applies operations to one directory tree. The reference tree emulates
    the operations the host filesystem may lack (punch, mmap store) with
    plain writes of the same bytes."""

    def __init__(self, root, reference):
        self.root = root
        self.reference = reference
        os.makedirs(root / "sub", exist_ok=True)

    def path(self, name):
        return self.root / name

    def write(self, name, off, data):
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            assert os.pwrite(fd, data, off) == len(data)
        finally:
            os.close(fd)

    def truncate(self, name, size):
        os.truncate(self.path(name), size)

    def punch(self, name, off, length):
        fd = os.open(self.path(name), os.O_RDWR)
        try:
            if self.reference:
                size = os.fstat(fd).st_size
                n = max(0, min(off + length, size) - off)
                if n:
                    os.pwrite(fd, bytes(n), off)
            else:
                fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length)
        finally:
            os.close(fd)

    def mmap_store(self, name, off, data):
        """Stores data at off (inside the file) through a shared mapping."""
        fd = os.open(self.path(name), os.O_RDWR)
        try:
            if self.reference:
                os.pwrite(fd, data, off)
                return
            size = os.fstat(fd).st_size
            m = mmap.mmap(fd, size, mmap.MAP_SHARED)
            try:
                m[off:off + len(data)] = data
                m.flush()
            finally:
                m.close()
        finally:
            os.close(fd)

    def rename(self, a, b):
        os.rename(self.path(a), self.path(b))

    def unlink(self, name):
        os.unlink(self.path(name))

    def link(self, a, b):
        os.link(self.path(a), self.path(b))

    def snapshot(self):
        out = {}
        for name in NAMES:
            p = self.path(name)
            if p.exists():
                out[name] = (p.read_bytes(), os.stat(p).st_nlink)
        return out


def random_step(rnd, ref):
    """Picks an operation that is valid on the reference tree's current state."""
    present = [n for n in NAMES if ref.path(n).exists()]
    ops = ["write"] * 4
    if present:
        ops += ["truncate", "punch", "mmap_store", "mmap_store", "rename", "unlink", "link"]
    op = rnd.choice(ops)
    if op == "write":
        off = rnd.randrange(MAX_OFF)
        return op, (rnd.choice(NAMES), off, rnd.randbytes(rnd.randrange(1, 3 * PAGE)))
    name = rnd.choice(present)
    size = os.path.getsize(ref.path(name))
    if op == "truncate":
        return op, (name, rnd.randrange(MAX_OFF + PAGE))
    if op == "punch":
        return op, (name, rnd.randrange(MAX_OFF), rnd.randrange(1, 4 * PAGE))
    if op == "mmap_store":
        if size == 0:
            return "write", (name, 0, rnd.randbytes(rnd.randrange(1, PAGE)))
        off = rnd.randrange(size)
        return op, (name, off, rnd.randbytes(rnd.randrange(1, min(size - off, 2 * PAGE) + 1)))
    if op == "unlink":
        return op, (name,)
    return op, (name, rnd.choice(NAMES))   # rename, link: the target may exist


def apply(tree, op, args):
    """Runs op; returns the errno it failed with, or 0."""
    try:
        getattr(tree, op)(*args)
        return 0
    except OSError as e:
        return e.errno


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_match_the_reference(daxfs, tmp_path, seed):
    rnd = random.Random(seed)
    ref = Tree(tmp_path / "reference", reference=True)
    dut = Tree(daxfs.mnt, reference=False)
    for step in range(250):
        op, args = random_step(rnd, ref)
        want = apply(ref, op, args)
        got = apply(dut, op, args)
        assert got == want, f"step {step}: {op}{args[:2]}: errno {got}, reference {want}"
        if step % 100 == 99:
            daxfs.remount()
        assert dut.snapshot() == ref.snapshot(), f"step {step}: {op}{args[:2]} diverged"


def test_link_onto_itself_fails_like_the_reference(daxfs, tmp_path):
    ref = Tree(tmp_path / "reference", reference=True)
    dut = Tree(daxfs.mnt, reference=False)
    for t in (ref, dut):
        t.write("f0", 0, b"x")
    assert apply(dut, "link", ("f0", "f0")) == apply(ref, "link", ("f0", "f0")) == errno.EEXIST

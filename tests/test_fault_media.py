"""Damaged media: flipped bits and out-of-range pointers in the superblock, inodes, extents and directories.

Each case damages an unmounted image as docs/FORMAT.md lays it out, then:
the mount refuses with the reason, or I/O on the damaged object alone fails
with EIO while the rest works; fsck.daxfs -n reports the damage. The image is
restored afterwards and must be clean again.
"""
import errno
import os
import signal
import struct
import subprocess

import pytest

import damage
from faults import errno_of, mounted_for_faults
from media import BLOCK, Image, crc32c
from mount import MIB, PAGE, built, daxfs_factory  # noqa: F401  (fixture)

def fsck_n(d):
    r = subprocess.run([built("fsck.daxfs"), "-n", d.source], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr


def repaired(fs):
    """fsck -y repairs in one run (exit 1) and fsck -n then finds the image
    clean; the repaired image is kept (not restored at teardown). Its report."""
    r = subprocess.run([built("fsck.daxfs"), "-y", fs.source], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    code, out = fsck_n(fs)
    assert code == 0, out
    fs.image.saved = {}
    return r.stdout


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


@pytest.mark.parametrize("head", [200, 100000], ids=["free", "past the table"])
def test_orphan_list_naming_no_inode_refuses_the_mount_for_fsck(fs, head):
    """The orphan list's head (both superblocks resealed) naming a free slot or
    an inode past the table: the mount refuses and says to run fsck, which
    repairs it."""
    for blk in (0, 1):
        fs.image.write(blk * BLOCK + 168, struct.pack("<Q", head))
        fs.image.reseal_block(blk)
    err = fs.mount_fails()
    assert f"orphan list: inode {head}" in err and err.rstrip().endswith("run fsck.daxfs -y"), err
    repaired(fs)
    fs.mount()
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


@pytest.mark.parametrize("who", ["root", "linked directory", "unlinked directory with entries"])
def test_orphan_list_naming_what_is_never_on_it_refuses_the_mount(fs, who):
    """The orphan list (crcs valid) naming the root, a directory with links, or
    a directory whose link count says 0 while it holds entries: the mount
    would release it, and everything below would be lost (or cut a linked
    symlink at its size). The mount refuses, and fsck unmarks it without
    losing anything."""
    ino = 1 if who == "root" else fs.ino["dir"]
    at = fs.image.inode_off(ino)
    fs.image.write(at + 52, struct.pack("<I", fs.image.u32(at + 52) | 1))      # orphan flag
    if who == "unlinked directory with entries":
        fs.image.write(at + 12, struct.pack("<I", 0))
    fs.image.reseal_inode(ino)
    for blk in (0, 1):
        fs.image.write(blk * BLOCK + 168, struct.pack("<Q", ino))
        fs.image.reseal_block(blk)
    before = damage.digest(fs.files)
    err = fs.mount_fails()
    want = {"root": "orphan list: inode 1 is the root directory, which is never on it",
            "linked directory": f"orphan list: inode {ino} is a directory with links, which is "
                                "never on it",
            "unlinked directory with entries": f"orphan list: directory {ino} has no links but "
                                               "holds entries"}[who]
    assert want in err and err.rstrip().endswith("run fsck.daxfs -y"), err
    assert damage.digest(fs.files) == before
    assert "is marked orphan, which it never is" in repaired(fs)
    fs.mount()
    assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


def test_inode_table_pointer_out_of_range_refuses_the_mount(fs):
    for blk in (0, 1):
        fs.image.write(blk * BLOCK + 256, struct.pack("<Q", 1 << 40))
        fs.image.reseal_block(blk)
    err = fs.mount_fails()
    assert err.strip(), "no reason given"
    assert fsck_n(fs)[0] != 0


def write_itable(image, extents):
    for blk in (0, 1):
        image.write(blk * BLOCK + 212, struct.pack("<I", len(extents)))
        for i, (pblk, length) in enumerate(extents):
            image.write(blk * BLOCK + 256 + 16 * i, struct.pack("<QI", pblk, length))
        image.reseal_block(blk)


@pytest.mark.parametrize("over", ["another extent", "a label", "a bitmap"])
def test_inode_table_over_other_metadata_is_refused_and_never_written(fs, over):
    (pblk, length), = fs.image.itable_extents()
    # mkfs puts member 0's label at data_start and group 0's bitmap right after it
    data_start = fs.image.u64(160)
    extents = {"another extent": [(pblk, length), (pblk + length - 1, length)],
               "a label": [(data_start, length)],
               "a bitmap": [(data_start + 1, length)]}[over]
    write_itable(fs.image, extents)
    before = damage.digest(fs.files)
    want = {"another extent": "overlaps inode table extent 0",
            "a label": f"overlaps the label block {data_start} of a member",
            "a bitmap": f"overlaps the bitmap block {data_start + 1} of group 0"}[over]
    err = fs.mount_fails()
    assert want in err and "fsck.daxfs cannot repair" in err, err
    assert "run fsck.daxfs" not in err, err
    for mode in ("-n", "-y"):
        r = subprocess.run([built("fsck.daxfs"), mode, fs.source], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 8 and want in r.stderr, r.stdout + r.stderr
    assert damage.digest(fs.files) == before        # the label and the bitmap are intact
    if over == "another extent":
        # a read-only mount writes no inode, and reaches the files of the first extent
        fs.mount("ro")
        assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
        assert (fs.mnt / "other").read_bytes() == fs.other_data
        fs.unmount()
        assert damage.digest(fs.files) == before


def test_inode_table_extent_over_a_symlink_block_is_repaired_in_one_run(fs):
    """A crafted second inode table extent (crc valid) on a symlink's block:
    the symlink gives the block up to the table. fsck's checks of the symlink
    cached the block as a sealed one, and each commit wrote a tail crc into
    the table's last slot there, which the next round cleared again: fsck -y
    never converged. One run must leave the image clean."""
    fs.mount()
    os.symlink("t" * 200, fs.mnt / "link")
    ino = os.lstat(fs.mnt / "link").st_ino
    fs.unmount()
    _, _, pblk, length = fs.image.inline_extent(ino)
    assert length == 1
    write_itable(fs.image, fs.image.itable_extents() + [(pblk, 1)])
    assert fsck_n(fs)[0] == 4
    assert "also used by the inode table" in repaired(fs)
    fs.mount()
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


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


@pytest.mark.parametrize("onto", ["label", "bitmap", "inode table"])
def test_extent_over_fixed_metadata_fails_only_that_file_and_writes_nothing(fs, onto):
    """A crafted extent (crc valid) naming member 0's label, group 0's bitmap
    or the inode table: a write through the file, or its blocks freed by an
    unlink, would destroy them. The file alone fails with EIO, the rest is
    served, and fsck gives the file a copy of its own."""
    data_start = fs.image.u64(160)
    target = {"label": data_start, "bitmap": data_start + 1,
              "inode table": fs.image.itable_extents()[0][0] + 2}[onto]
    ino = fs.ino["dir/victim"]
    off, _, _, length = fs.image.inline_extent(ino)
    fs.image.write(off + 8, struct.pack("<Q", target))
    fs.image.reseal_inode(ino)
    fs.mount()
    victim = fs.mnt / "dir" / "victim"
    assert errno_of(lambda: victim.write_bytes(b"x" * PAGE)) == errno.EIO
    assert errno_of(os.unlink, victim) == errno.EIO
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()
    assert fs.image.read(target * BLOCK, BLOCK) != b"x" * BLOCK
    assert "also used by" in fsck_n(fs)[1]
    repaired(fs)      # the structure is there to keep


def free_in_bitmap(image, blocks):
    """Marks blocks of group 0 free in its bitmap, with the free count and the
    bitmap crc made to match: damage that every checksum vouches for."""
    off = image.group_desc_off(0)
    bb = image.u64(off)
    bm = bytearray(image.read(bb * BLOCK, BLOCK))
    for b in blocks:
        assert bm[b // 8] & (1 << (b % 8)), f"block {b} is free already"
        bm[b // 8] &= ~(1 << (b % 8))
    image.write(bb * BLOCK, bytes(bm))
    image.write(off + 8, struct.pack("<I", image.u32(off + 8) + len(blocks)))
    image.write(off + 16, struct.pack("<I", crc32c(bytes(bm))))
    image.reseal_group_desc(0)


@pytest.mark.parametrize("freed", ["superblocks", "bitmap", "inode table"])
def test_bitmap_that_frees_fixed_metadata_is_refused_and_never_allocates_it(fs, freed):
    """A group bitmap (crcs valid) marking both superblocks, its own block or
    inode table blocks free: the next allocation would hand them to a file
    and its data would replace them. Allocation in that group fails with EIO
    and names the block, nothing is written, and fsck -y repairs the bitmap."""
    data_start = fs.image.u64(160)
    itable = fs.image.itable_extents()[0][0]
    blocks, want = {"superblocks": ([0, 1], "block 0, the metadata before the data area"),
                    "bitmap": ([data_start + 1], f"block {data_start + 1}, the bitmap block "
                               f"{data_start + 1} of group 0"),
                    "inode table": ([itable + 2, itable + 3], f"block {itable + 2}, inode table "
                                    "extent 0")}[freed]
    free_in_bitmap(fs.image, blocks)
    code, out = fsck_n(fs)
    assert code == 4 and "in use but marked free" in out, out
    fs.allow_stderr(r"its bitmap marks block")
    fs.mount()
    assert errno_of(lambda: (fs.mnt / "new").write_bytes(b"\xa5" * 64 * PAGE)) == errno.EIO
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
    fs.unmount()
    assert want in fs.stderr(), fs.stderr()
    assert all(fs.image.read(b * BLOCK, BLOCK) != b"\xa5" * BLOCK for b in blocks)
    repaired(fs)
    fs.mount()
    (fs.mnt / "new").write_bytes(b"\xa5" * 64 * PAGE)
    fs.unmount()
    assert all(fs.image.read(b * BLOCK, BLOCK) != b"\xa5" * BLOCK for b in blocks)
    assert fsck_n(fs)[0] == 0


def test_uninitialised_group_holding_the_inode_table_is_refused(fs):
    """Group 0's descriptor (crc valid) saying the group has no bitmap yet and
    every block free: its image would hand the inode table out."""
    off = fs.image.group_desc_off(0)
    data_start, total = fs.image.u64(160), fs.image.u64(16)
    fs.image.write(off, struct.pack("<QI", 0, 0))
    labels = 1              # member 0's label, at data_start (mkfs)
    fs.image.write(off + 8, struct.pack("<I", min(total, 32768) - data_start - labels))
    fs.image.reseal_group_desc(0)
    err = fs.mount_fails()
    assert "group 0: uninitialised but holds inode table extent 0" in err, err
    repaired(fs)
    fs.mount()
    (fs.mnt / "new").write_bytes(b"n" * 64 * PAGE)
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()
    assert fsck_n(fs)[0] == 0


def test_slot_with_mode_zero_but_not_empty_is_never_reused(fs):
    """An inode whose mode alone was zeroed (crc resealed) while its entry still
    names it: free is all zero, so the mount must not hand its number to a new
    file, which the old entry would then name too (an unlink through it would
    unlink the new file)."""
    ino = fs.ino["other"]
    fs.image.write(fs.image.inode_off(ino), struct.pack("<I", 0))
    fs.image.reseal_inode(ino)
    fs.allow_stderr(r"bad file type|inode %d" % ino)
    fs.mount()
    made = []
    for i in range(4):
        (fs.mnt / f"d{i}").mkdir()
        (fs.mnt / f"f{i}").write_bytes(b"x")
        made += [os.stat(fs.mnt / f"d{i}").st_ino, os.stat(fs.mnt / f"f{i}").st_ino]
    assert ino not in made, made
    assert errno_of(os.stat, fs.mnt / "other") == errno.EIO
    assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
    fs.unmount()
    code, out = fsck_n(fs)
    assert code == 4 and f"inode {ino}" in out, out
    repaired(fs)
    fs.mount()
    assert sorted(os.listdir(fs.mnt / "dir")) == ["victim"]
    assert all((fs.mnt / f"d{i}").is_dir() and (fs.mnt / f"f{i}").read_bytes() == b"x"
               for i in range(4))
    fs.unmount()


def test_xattr_block_naming_another_structure_is_never_written_or_freed(fs):
    """A crafted xattr block number (inode crc valid) naming the block of
    directory "dir": setting an attribute would write over the directory, and
    the unlink's release freed it for the next file's data. The attribute
    calls fail with EIO, the block stays the directory's, and fsck drops the
    pointer."""
    _, _, dir_blk, _ = fs.image.inline_extent(fs.ino["dir"])
    ino = fs.ino["other"]
    fs.image.write(fs.image.inode_off(ino) + 104, struct.pack("<Q", dir_blk))
    fs.image.reseal_inode(ino)
    before = fs.image.read(dir_blk * BLOCK, BLOCK)
    fs.allow_stderr(r"xattr block")
    fs.mount()
    other = fs.mnt / "other"
    assert errno_of(os.setxattr, other, "user.x", b"y" * 3000) == errno.EIO
    assert errno_of(os.listxattr, other) == errno.EIO
    os.unlink(other)
    for i in range(8):
        (fs.mnt / f"new{i}").write_bytes(b"\xa5" * 4 * PAGE)
    # the release fails at unmount: the inode stays an orphan, the rest is committed
    fs.unmount(code=1)
    assert (f"the filesystem was unmounted, but inode {ino} stays on the orphan list: inode "
            f"{ino}: xattr block {dir_blk} is not its attribute block") in fs.stderr(), fs.stderr()
    assert fs.image.read(dir_blk * BLOCK, BLOCK) == before
    code, out = fsck_n(fs)
    assert code == 4 and f"inode {ino}: xattr block {dir_blk} is damaged" in out, out
    repaired(fs)
    fs.mount()
    assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
    assert not (fs.mnt / "other").exists()
    assert all((fs.mnt / f"new{i}").read_bytes() == b"\xa5" * 4 * PAGE for i in range(8))
    fs.unmount()


def test_orphan_whose_release_a_crash_cut_short_is_no_damage(fs):
    """The release of an unlinked directory (or symlink) may commit between
    freeing its blocks and clearing its slot (when space is short), and a
    crash there leaves an orphan without links whose size still names a
    block it no longer has. fsck must not take that for damage: the next
    mount finishes it."""
    fs.mount()
    path = fs.mnt / "gone"
    path.mkdir()
    ino = os.lstat(path).st_ino
    held = os.open(path, os.O_RDONLY)
    try:
        path.rmdir()
        fs.terminate(signal.SIGKILL)        # still open: an orphan on the list
    finally:
        os.close(held)
    at = fs.image.inode_off(ino)
    # nlink 0, on the orphan list, its blocks gone: as the release leaves it
    assert (fs.image.u32(at + 12), fs.image.u32(at + 52) & 1, fs.image.u32(at + 84)) == (0, 1, 0)
    assert fs.image.u64(168) == ino
    fs.image.write(at + 16, struct.pack("<Q", BLOCK))     # with the size it had before
    fs.image.reseal_inode(ino)
    code, out = fsck_n(fs)
    assert code == 0, out
    fs.mount()
    assert sorted(os.listdir(fs.mnt)) == ["dir", "other"]
    fs.unmount()
    assert fsck_n(fs)[0] == 0
    fs.image.saved = {}


@pytest.mark.parametrize("count", ["file", "parent"])
def test_link_count_too_low_never_wraps_or_frees_a_linked_file(fs, count):
    """A link count (crc valid) of 0 on a linked file: it was freed at its
    last forget while its entry still named it, or an unlink wrapped the
    count to 4294967295. A directory counting 2 links over a subdirectory:
    rmdir took it to 1. Both are refused with EIO before anything changes,
    and fsck sets the count."""
    if count == "parent":
        fs.mount()
        (fs.mnt / "dir" / "sub").mkdir()
        fs.unmount()
    ino = fs.ino["other" if count == "file" else "dir"]
    at = fs.image.inode_off(ino)
    fs.image.write(at + 12, struct.pack("<I", 0 if count == "file" else 2))
    fs.image.reseal_inode(ino)
    fs.allow_stderr(r"link count")
    fs.mount()
    if count == "file":
        assert errno_of(os.stat, fs.mnt / "other") == errno.EIO
        assert errno_of(os.unlink, fs.mnt / "other") == errno.EIO
    else:
        assert errno_of(os.rmdir, fs.mnt / "dir" / "sub") == errno.EIO
        assert os.stat(fs.mnt / "dir").st_nlink == 2
    fs.unmount()
    code, out = fsck_n(fs)
    assert code == 4 and f"inode {ino}: link count" in out, out
    repaired(fs)
    fs.mount()
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    assert (fs.mnt / "dir" / "victim").read_bytes() == fs.victim_data
    fs.unmount()


@pytest.mark.parametrize("name", [b".", b".."])
def test_directory_record_named_dot_is_damage(fs, name):
    """A record (block crc valid) renamed "." or "..": the kernel resolves
    those names itself, so what it names could never be reached again, yet
    fsck called the image clean. The record is damage: the directory fails
    with EIO and fsck moves what it named to /lost+found."""
    _, _, blk, _ = fs.image.inline_extent(1)
    block = fs.image.read(blk * BLOCK, BLOCK)
    off = 16
    while block[off + 12:off + 12 + block[off + 10]] != b"dir":
        off += struct.unpack_from("<H", block, off + 8)[0]
    fs.image.write(blk * BLOCK + off + 10, bytes([len(name)]))
    fs.image.write(blk * BLOCK + off + 12, name + b"\0")
    fs.image.reseal_block(blk)
    fs.allow_stderr(r"directory 1")
    fs.mount()
    assert errno_of(os.listdir, fs.mnt) == errno.EIO
    fs.unmount()
    code, out = fsck_n(fs)
    assert code == 4 and "directory 1: block 0" in out, out
    repaired(fs)
    fs.mount()
    lost = fs.mnt / "lost+found" / f"#{fs.ino['dir']}"
    assert (lost / "victim").read_bytes() == fs.victim_data
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


def test_xattr_pointer_past_the_device_costs_fsck_only_the_pointer(fs):
    """An xattr block number past the end of the filesystem (inode crc valid):
    the mount fails the file with EIO, and fsck drops the pointer, keeping
    the file with its name and data (it used to clear the whole inode)."""
    ino = fs.ino["other"]
    fs.image.write(fs.image.inode_off(ino) + 104, struct.pack("<Q", fs.image.u64(16)))
    fs.image.reseal_inode(ino)
    fs.allow_stderr(r"bad block pointer")
    fs.mount()
    assert errno_of(os.stat, fs.mnt / "other") == errno.EIO
    fs.unmount()
    out = repaired(fs)
    assert f"inode {ino}: xattr block" in out and "clear it" not in out, out
    fs.mount()
    assert (fs.mnt / "other").read_bytes() == fs.other_data
    fs.unmount()


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

"""fsck.daxfs repairs damage as a user meets it through daxfs-fuse, and a mount never makes it worse.

Each case damages an unmounted filesystem the daemon made (or one
tests/damage/daxfs-image made, for a transaction left in the journal), shows
what the mount does with it, runs fsck.daxfs -n (exit 4, the problem named)
and -y (exit 1, every line repaired), and mounts the result again.
"""
import errno
import os
import struct
import subprocess

import pytest

import damage
from conftest import BUILD_DIR, tool
from faults import allow_faults, errno_of
from media import BLOCK, Image, crc32c
from mount import MIB, daxfs_factory  # noqa: F401  (fixture)


def fsck(d, mode):
    r = subprocess.run([tool("fsck.daxfs"), mode, d.source], capture_output=True, text=True,
                       timeout=120)
    lines = r.stdout.splitlines()
    return r.returncode, lines[:-1], r.stdout + r.stderr


def metadata_map(path):
    """{structure: [(block, bytes)]}: where `daxfs-image map` finds each one."""
    r = subprocess.run([str(BUILD_DIR / "tests" / "damage" / "daxfs-image"), "map", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return damage.parse_map(r.stdout)


def repaired_by_fsck(d, expect):
    """-n reports a line holding expect and exits 4; -y repairs every line."""
    code, lines, out = fsck(d, "-n")
    assert code == 4 and any(expect in line for line in lines), out
    code, lines, out = fsck(d, "-y")
    assert code == 1 and lines and all(line.endswith(" (repaired)") for line in lines), out
    code, _, out = fsck(d, "-n")
    assert code == 0, out


@pytest.fixture
def fs(daxfs_factory):
    """A filesystem with a few files in the root, unmounted."""
    d = daxfs_factory(size=32 * MIB)
    d.mkfs()
    d.mount()
    allow_faults(d)
    d.allow_stderr(r"checksum|damaged|free count|run fsck")
    for name in ("alpha", "beta", "gamma"):
        (d.mnt / name).write_bytes(name.encode() * 1000)
    d.unmount()
    d.image = Image(d.files[0])
    return d


def test_bit_flip_in_the_root_directory_is_repaired_and_ls_works(fs):
    blk, _ = metadata_map(fs.files[0])["dir-root"][0]
    fs.image.flip(blk * BLOCK + 16 + 7, 7)      # the first record's inode number, top bit
    fs.mount()
    assert errno_of(os.listdir, fs.mnt) == errno.EIO
    fs.unmount()
    repaired_by_fsck(fs, "directory 1: block 0")
    fs.mount()
    names = set(os.listdir(fs.mnt))
    lost = set(os.listdir(fs.mnt / "lost+found"))
    # the record that lost its inode number went; its file is under /lost+found
    assert len(names & {"alpha", "beta", "gamma"}) == 2 and len(lost) == 1, (names, lost)
    for name in names & {"alpha", "beta", "gamma"}:
        assert (fs.mnt / name).read_bytes() == name.encode() * 1000
    assert (fs.mnt / "lost+found" / lost.pop()).read_bytes() in (b"alpha" * 1000, b"beta" * 1000,
                                                                 b"gamma" * 1000)


def test_free_count_above_the_truth_never_shows_a_negative_use(fs):
    fs.image.write(fs.image.group_desc_off(0) + 8,
                   (fs.image.u32(fs.image.group_desc_off(0) + 8) + 5).to_bytes(4, "little"))
    fs.image.reseal_group_desc(0)
    fs.mount()
    st = os.statvfs(fs.mnt)
    assert 0 <= st.f_bfree <= st.f_blocks
    assert errno_of((fs.mnt / "new").write_bytes, b"x" * 4096) == errno.EIO
    st = os.statvfs(fs.mnt)
    assert 0 <= st.f_bfree <= st.f_blocks
    fs.unmount()
    repaired_by_fsck(fs, "group 0: free count")
    fs.mount()
    (fs.mnt / "new").write_bytes(b"x" * 4096)
    assert (fs.mnt / "alpha").read_bytes() == b"alpha" * 1000


@pytest.fixture
def pending(daxfs_factory):
    """A filesystem whose journal holds a committed transaction not yet home
    (it creates /pending), as a crash after the commit record leaves it."""
    d = daxfs_factory(size=16 * MIB)
    r = subprocess.run([str(BUILD_DIR / "tests" / "damage" / "daxfs-image"), "make", d.files[0],
                        "16", "1", "pending"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    d.image = Image(d.files[0])
    return d


def test_read_only_mount_never_writes_the_backing_files(pending):
    before = damage.digest(pending.files)
    pending.mount("ro")
    assert "pending" in os.listdir(pending.mnt)      # replayed, in memory only
    assert (pending.mnt / "a" / "b" / "sparse").stat().st_nlink == 3
    pending.unmount()
    assert damage.digest(pending.files) == before
    pending.mount()                                  # a read-write mount does replay
    assert "pending" in os.listdir(pending.mnt)
    pending.unmount()
    assert damage.digest(pending.files) != before


def relog_superblock(d, patch):
    """Patches the logged copy of superblock 0 and makes every checksum of the
    transaction (the copy's own, the commit record's data crc) match again:
    damage only a check of the copy's contents can find."""
    m = metadata_map(d.files[0])
    logged = [blk for blk, _ in m["journal-logged"]]
    (commit, _), = m["journal-commit"]
    (sbcopy,) = [blk for blk in logged if d.image.read(blk * BLOCK, 8) == b"DAXFXFS1"]
    patch(sbcopy * BLOCK)
    body = d.image.read(sbcopy * BLOCK, 4092)
    d.image.write(sbcopy * BLOCK + 4092, struct.pack("<I", crc32c(struct.pack("<Q", 0) + body)))
    data = b"".join(d.image.read(blk * BLOCK, BLOCK) for blk in logged)
    d.image.write(commit * BLOCK + 40, struct.pack("<I", crc32c(data)))
    d.image.reseal_block(commit)


@pytest.mark.parametrize("change", ["fingerprint", "nmembers", "itable"])
def test_a_logged_superblock_that_changes_the_geometry_is_not_replayed(pending, change):
    """A committed transaction whose copy of the superblock passes every crc
    but changes what a transaction never changes: the table fingerprint, the
    member count, or an inode table grown over a member's label. Replayed, it
    left a filesystem no mount or fsck would take (and fsck read past its
    member array); it is damage, refused at mount and dropped by fsck."""
    img = pending.image
    data_start, n = img.u64(160), img.u32(212)

    def patch(at):
        if change == "fingerprint":
            img.write(at + 24, struct.pack("<Q", img.u64(at + 24) ^ 0x1234))
        elif change == "nmembers":
            img.write(at + 216, struct.pack("<I", img.u32(at + 216) + 1))
        else:
            img.write(at + 256 + 16 * n, struct.pack("<QI", data_start, 1))
            img.write(at + 212, struct.pack("<I", n + 1))
    relog_superblock(pending, patch)
    pending.allow_stderr(r"journal checksum error")
    before = damage.digest(pending.files)
    want = {"fingerprint": "changes the size or table fingerprint",
            "nmembers": "changes the member count",
            "itable": f"overlaps the label block {data_start} of a member"}[change]
    err = pending.mount_fails()
    assert "its copy of superblock 0" in err and want in err and "run fsck.daxfs -y" in err, err
    assert damage.digest(pending.files) == before
    repaired_by_fsck(pending, want)
    pending.mount()
    assert "pending" not in os.listdir(pending.mnt)
    assert "a" in os.listdir(pending.mnt)


def test_mount_refuses_a_damaged_journal_and_fsck_drops_it(pending):
    pending.allow_stderr(r"journal checksum error")
    blk, _ = metadata_map(pending.files[0])["journal-logged"][0]
    before = damage.digest(pending.files)
    pending.image.flip(blk * BLOCK + 100, 0)
    flipped = damage.digest(pending.files)
    assert flipped != before
    err = pending.mount_fails()
    assert "journal checksum error: transaction" in err and "run fsck.daxfs -y" in err, err
    assert damage.digest(pending.files) == flipped      # a refused mount writes nothing
    repaired_by_fsck(pending, "journal checksum error")
    pending.mount()
    assert "pending" not in os.listdir(pending.mnt)        # the transaction went whole
    assert "a" in os.listdir(pending.mnt)

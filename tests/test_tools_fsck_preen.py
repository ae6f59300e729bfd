"""fsck.daxfs -p (-a) and -f, as fsck(8) passes them at boot: preen repairs what is safe
without asking and changes nothing when a problem needs a human (exit 4, "UNEXPECTED
INCONSISTENCY"); -f is accepted, since every check is a full one."""
import os
import struct
import subprocess

import pytest

import damage
from conftest import BUILD_DIR, tool
from media import Image
from mount import MIB, daxfs, daxfs_factory  # noqa: F401  (fixtures)

STATE_OFF, STATE_CLEAN = 112, 1     # FORMAT.md, superblock
NLINK_OFF = 12                      # FORMAT.md, inode


def fsck(source, *args):
    r = subprocess.run([tool("fsck.daxfs"), *args, str(source)], capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout.splitlines(), r.stdout + r.stderr


@pytest.fixture
def fs(daxfs_factory):
    """Two files written through the daemon, unmounted cleanly; .ino: their inodes."""
    d = daxfs_factory(size=32 * MIB)
    d.mkfs()
    d.mount()
    d.ino = {}
    for name in ("alpha", "beta"):
        (d.mnt / name).write_bytes(name.encode() * 1000)
        d.ino[name] = os.stat(d.mnt / name).st_ino
    d.unmount()
    d.image = Image(d.files[0])
    return d


def wrong_link_count(d):
    """beta's inode says 2 links where one entry names it (sealed as if true)."""
    off = d.image.inode_off(d.ino["beta"])
    d.image.write(off + NLINK_OFF, struct.pack("<I", 2))
    d.image.reseal_inode(d.ino["beta"])


def shared_block(d):
    """beta's first extent maps alpha's block: two owners, one must give way."""
    off, _, alpha_blk, _ = d.image.inline_extent(d.ino["alpha"])
    off, _, _, _ = d.image.inline_extent(d.ino["beta"])
    d.image.write(off + 8, struct.pack("<Q", alpha_blk))
    d.image.reseal_inode(d.ino["beta"])


def damaged_backup_superblock(d):
    with open(d.files[0], "r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 64)


def free_count_above_the_truth(d):
    off = d.image.group_desc_off(0) + 8
    d.image.write(off, struct.pack("<I", d.image.u32(off) + 5))
    d.image.reseal_group_desc(0)


def inode_checksum(d):
    d.image.flip(d.image.inode_off(d.ino["alpha"]) + 252, 3)


@pytest.mark.parametrize("flag", ["-p", "-a"])
@pytest.mark.parametrize("harm,expect", [
    (damaged_backup_superblock, "backup superblock: "),
    (free_count_above_the_truth, "group 0: free count "),
    (wrong_link_count, "link count 2, should be 1"),
    (inode_checksum, "checksum mismatch; the rest checks out: rewrite it"),
], ids=["backup-superblock", "free-count", "link-count", "inode-checksum"])
def test_preen_repairs_what_is_safe_without_asking(fs, harm, expect, flag):
    harm(fs)
    code, lines, out = fsck(fs.source, flag)
    assert code == 1, out
    assert any(line.startswith(f"{fs.source}: ") and expect in line and
               line.endswith(" (repaired)") for line in lines[:-1]), out
    assert all(line.endswith(" (repaired)") for line in lines[:-1]), out
    assert lines[-1] == f"{fs.source}: {len(lines) - 1} problem{'s' * (len(lines) > 2)} found, " \
                        f"{len(lines) - 1} repaired", out
    assert fsck(fs.source, "-n")[0] == 0
    fs.mount()
    assert (fs.mnt / "beta").read_bytes() == b"beta" * 1000
    fs.unmount()


def test_preen_of_a_clean_filesystem_exits_0_and_writes_nothing(fs):
    before = damage.digest(fs.files)
    code, lines, out = fsck(fs.source, "-p")
    assert (code, lines) == (0, [f"{fs.source}: clean"]), out
    assert damage.digest(fs.files) == before


def test_preen_changes_nothing_when_a_problem_needs_a_human(fs):
    shared_block(fs)
    wrong_link_count(fs)        # safe alone, but -p repairs all or nothing
    before = damage.digest(fs.files)
    code, lines, out = fsck(fs.source, "-p")
    assert code == 4, out
    assert damage.digest(fs.files) == before
    shared = f"{fs.source}: inode {fs.ino['beta']}: "
    assert any(line.startswith(shared) and "also used by inode" in line and
               not line.endswith("(repaired)") for line in lines), out
    assert not any("link count" in line for line in lines), out    # only what stops it
    assert lines[-3].startswith(f"{fs.source}: ") and \
        lines[-3].endswith(" problems found, 0 repaired (1 not safe to repair without asking)"), out
    assert lines[-2:] == [f"{fs.source}: UNEXPECTED INCONSISTENCY; RUN fsck.daxfs MANUALLY.",
                          "\t(i.e., without -a or -p options)"], out
    # what the manual run then does, and preen after it
    assert fsck(fs.source, "-y")[0] == 1
    assert fsck(fs.source, "-p")[:2] == (0, [f"{fs.source}: clean"])


def test_preen_checks_a_filesystem_marked_clean_in_full(fs):
    """daxfs keeps a clean flag, but no check trusts it: -p finds damage
    under it without -f."""
    assert fs.image.u32(STATE_OFF) == STATE_CLEAN
    wrong_link_count(fs)
    code, lines, out = fsck(fs.source, "-p")
    assert code == 1 and "link count 2, should be 1" in out, out


@pytest.mark.parametrize("args", [["-f"], ["-f", "-n"], ["-y", "-f"], ["-p", "-f"], ["-f", "-a"]],
                         ids=["f", "f-n", "y-f", "p-f", "f-a"])
def test_force_is_accepted_with_every_mode(fs, args):
    code, lines, out = fsck(fs.source, *args)
    assert (code, lines) == (0, [f"{fs.source}: clean"]), out


def test_force_checks_no_more_than_a_check_without_it(fs):
    wrong_link_count(fs)
    code, lines, out = fsck(fs.source, "-n")
    assert code == 4 and "link count 2, should be 1" in out, out
    assert fsck(fs.source, "-n", "-f")[:2] == (code, lines)
    fs.image.restore()


@pytest.mark.parametrize("args,message", [
    (["-p", "-n"], "-p and -n exclude each other"),
    (["-p", "-y"], "-p and -y exclude each other"),
    (["-a", "-n"], "-a and -n exclude each other"),
    (["-y", "-a"], "-y and -a exclude each other"),
    (["-n", "-p", "-f"], "-n and -p exclude each other"),
], ids=["p-n", "p-y", "a-n", "y-a", "n-p-f"])
def test_preen_with_n_or_y_is_a_usage_error(tmp_path, args, message):
    code, _, out = fsck(tmp_path / "absent", *args)
    assert code == 16, out
    assert f"fsck.daxfs: {message}\n" in out


@pytest.mark.parametrize("args", [["-a", "-p"], ["-p", "-p"], ["-a", "-a"]],
                         ids=["a-p", "p-p", "a-a"])
def test_preen_given_twice_is_one_mode(fs, args):
    assert fsck(fs.source, *args)[0] == 0


def test_preen_refuses_a_mounted_filesystem(daxfs):
    code, _, out = fsck(daxfs.source, "-p")
    assert code == 8
    assert f"{daxfs.files[0]}: in use by another daxfs mount" in out


def test_preen_leaves_a_committed_transaction_for_the_mount(daxfs_factory):
    """A daemon that died after a commit: the log is sound, so -p finds
    nothing, writes nothing, and the mount replays it."""
    d = daxfs_factory(size=16 * MIB)
    r = subprocess.run([str(BUILD_DIR / "tests" / "damage" / "daxfs-image"), "make", d.files[0],
                        "16", "1", "pending"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before = damage.digest(d.files)
    code, lines, out = fsck(d.source, "-p")
    assert (code, lines) == (0, [f"{d.source}: clean"]), out
    assert damage.digest(d.files) == before
    d.mount()
    assert "pending" in os.listdir(d.mnt)
    d.unmount()


def test_help_names_preen_and_force():
    code, lines, out = fsck("--help")
    assert code == 0
    assert lines[0] == "usage: fsck.daxfs [-n|-y|-p|-a] [-f] SOURCE"
    assert any(line.startswith("  -p   preen") for line in lines), out
    assert any(line.startswith("  -f   ") for line in lines), out

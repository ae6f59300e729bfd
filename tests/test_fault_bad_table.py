"""Bad tables loaded into a mounted filesystem: each refused with its reason, nothing lost, the old table live."""
import os

import pytest

from conftest import sparse_file
from faults import ctl, ctl_json, live_table, mounted_for_faults, write_synced, write_table
from mount import MIB, PAGE, daxfs_factory, flock_free  # noqa: F401  (fixture)

SIZE = 16 * MIB
HALF = SIZE // 512          # sectors of one member file


@pytest.fixture
def fs(daxfs_factory):
    """Two member files concatenated, as a list source makes them."""
    d = mounted_for_faults(daxfs_factory, files=["pmem0", "pmem1"], size=SIZE,
                           table=f"0 {HALF} linear {{0}} 0\n{HALF} {HALF} linear {{1}} 0\n")
    d.data = os.urandom(5 * PAGE)
    write_synced(d.mnt / "f", d.data)
    d.working = live_table(d)
    return d


def intact(d):
    """The refused table changed nothing."""
    assert live_table(d) == d.working
    assert (d.mnt / "f").read_bytes() == d.data
    assert ctl_json("info", d.mnt)["state"] == "ACTIVE"


# (id, table text with {0} {1} for the member files, a fragment of the reason)
REFUSED_AT_LOAD = [
    ("gap", f"0 {HALF} linear {{0}} 0\n{HALF + 8} {HALF} linear {{1}} 0\n", "Gap in table"),
    ("overlap", f"0 {HALF} linear {{0}} 0\n{HALF - 8} {HALF} linear {{1}} 0\n", "Gap in table"),
    ("not-from-zero", f"8 {HALF} linear {{0}} 0\n", "Gap in table"),
    ("bad-number", f"0 {HALF} linear {{0}} 8x\n", "Invalid device sector"),
    ("negative", f"0 -{HALF} linear {{0}} 0\n", "Invalid length"),
    ("huge", f"0 99999999999999999999999 linear {{0}} 0\n", "Invalid length"),
    ("unknown-type", f"0 {HALF} mirror {{0}} 0\n", "mirror"),
    ("missing-args", f"0 {HALF} linear {{0}}\n", "Invalid argument count"),
    ("missing-file", f"0 {HALF} linear /nonexistent/pmem 0\n", "/nonexistent/pmem"),
    ("unaligned-dax", f"0 {HALF - 4} linear {{0}} 0\n{HALF - 4} {HALF + 4} linear {{1}} 0\n",
     "align"),
    ("unaligned-offset", f"0 {HALF} linear {{0}} 3\n", "align"),
    ("error-beside-device", f"0 {HALF} linear {{0}} 0\n{HALF} {HALF} error\n",
     "can't change device type"),
    ("zero-length", f"0 0 linear {{0}} 0\n", "zero-length"),
    ("empty", "# nothing\n", "no targets"),
]


@pytest.mark.parametrize("text,reason", [t[1:] for t in REFUSED_AT_LOAD],
                         ids=[t[0] for t in REFUSED_AT_LOAD])
def test_bad_table_is_refused_at_load(fs, text, reason):
    path = write_table(fs, "bad.table", text.format(*fs.files))
    r = ctl("load", fs.mnt, path, check=False)
    assert r.returncode == 1, r.stdout
    assert "daxfs-ctl load:" in r.stderr and reason in r.stderr, r.stderr
    assert ctl_json("info", fs.mnt)["tables"] == ["LIVE"]
    intact(fs)


# Tables that parse and load but cannot hold the filesystem: refused at resume.
REFUSED_AT_RESUME = [
    # same layout, so the fingerprint matches: the member labels refuse it
    ("members-swapped", f"0 {HALF} linear {{1}} 0\n{HALF} {HALF} linear {{0}} 0\n",
     None, "pmem1 holds member 1 of filesystem "),
    ("too-short-file", f"0 {HALF} linear {{0}} 0\n{HALF} {HALF} linear {{2}} 0\n",
     SIZE // 2, "spare is 8388608 bytes, too small for member 1 of filesystem "),
    ("other-layout", f"0 {2 * HALF} linear {{2}} 0\n", 2 * SIZE, "spare is not member 0 of "),
]


@pytest.mark.parametrize("text,third,reason", [t[1:] for t in REFUSED_AT_RESUME],
                         ids=[t[0] for t in REFUSED_AT_RESUME])
def test_table_that_cannot_hold_the_filesystem_is_refused_at_resume(fs, text, third, reason):
    spare = fs.tmp / "spare"
    sparse_file(spare, third or SIZE)
    path = write_table(fs, "bad.table", text.format(*fs.files, spare))
    ctl("suspend", fs.mnt, "--nolockfs")
    ctl("load", fs.mnt, path)
    r = ctl("resume", fs.mnt, "--nolockfs", check=False)
    assert r.returncode == 1 and reason in r.stderr, r.stderr
    ctl("resume", fs.mnt, "--nolockfs")         # nothing staged any more
    intact(fs)


def test_file_of_another_mount_is_refused_at_load(fs, daxfs_factory):
    other = daxfs_factory(size=SIZE)
    other.mkfs()
    other.mount()
    path = write_table(fs, "theirs.table",
                       f"0 {HALF} linear {fs.files[0]} 0\n{HALF} {HALF} linear {other.files[0]} 0\n")
    r = ctl("load", fs.mnt, path, check=False)
    assert r.returncode == 1 and "in use by another daxfs mount" in r.stderr, r.stderr
    intact(fs)


# A table naming a file it should not: whatever refuses or drops it, the
# daemon holds that file no more once daxfs-ctl returns, as dm closes the
# devices of a table it destroys.

def held_by(proc, path):
    """Whether process proc has path open or mapped."""
    fds = f"/proc/{proc.pid}/fd"
    opened = {os.path.realpath(os.path.join(fds, fd)) for fd in os.listdir(fds)}
    with open(f"/proc/{proc.pid}/maps") as f:
        mapped = {line.split(maxsplit=5)[-1].strip() for line in f if line.count(" ") >= 5}
    return str(path) in opened | mapped


def released(d, path):
    return not held_by(d.proc, path) and flock_free(path)


@pytest.fixture
def other(daxfs_factory):
    """Another filesystem, not mounted, of fs's first member's size."""
    o = daxfs_factory(size=SIZE)
    o.mkfs()
    return o


# (id, table text with {0} {1} for fs's members and {2} for the other
# filesystem's member, the fragment of the reason): the same mistake
# refused by the parser, by load's own checks and by resume's.
NAMING_ANOTHER_FS = [
    ("refused-parsing", f"0 {HALF} linear {{2}} 0\n{HALF + 8} {HALF} linear {{1}} 0\n",
     "Gap in table"),
    ("refused-loading", f"0 {HALF} linear {{2}} 0\n{HALF} {HALF} error\n",
     "can't change device type"),
    ("refused-resuming", f"0 {HALF} linear {{2}} 0\n{HALF} {HALF} linear {{1}} 0\n",
     "holds member 0 of filesystem "),
]


@pytest.mark.parametrize("text,reason", [t[1:] for t in NAMING_ANOTHER_FS],
                         ids=[t[0] for t in NAMING_ANOTHER_FS])
def test_another_filesystem_named_by_a_refused_reload_can_be_checked_and_mounted(fs, other,
                                                                                 text, reason):
    path = write_table(fs, "typo.table", text.format(*fs.files, other.files[0]))
    r = ctl("reload", fs.mnt, path, check=False)
    assert r.returncode == 1 and reason in r.stderr, r.stderr
    assert released(fs, other.files[0])
    other.fsck()
    other.mount()
    other.unmount()
    intact(fs)


def test_mount_unmounts_normally_after_a_refused_table_naming_a_file_on_it(fs):
    big = fs.mnt / "big"
    write_synced(big, bytes(SIZE // 2))
    path = write_table(fs, "self.table",
                       f"0 {HALF} linear {big} 0\n{HALF} {HALF} linear {fs.files[1]} 0\n")
    r = ctl("reload", fs.mnt, path, check=False)
    assert r.returncode == 1 and str(big) in r.stderr, r.stderr
    assert not held_by(fs.proc, big)
    intact(fs)
    fs.unmount()


def test_clear_of_a_loaded_table_releases_its_files(fs, other):
    path = write_table(fs, "staged.table",
                       f"0 {HALF} linear {other.files[0]} 0\n{HALF} {HALF} linear {fs.files[1]} 0\n")
    ctl("load", fs.mnt, path)
    assert not released(fs, other.files[0])
    ctl("clear", fs.mnt)
    assert released(fs, other.files[0])
    other.fsck()
    intact(fs)


def test_staged_table_replaced_by_another_load_releases_its_files(fs, other):
    theirs = write_table(fs, "theirs.table",
                         f"0 {HALF} linear {other.files[0]} 0\n{HALF} {HALF} linear {fs.files[1]} 0\n")
    ours = write_table(fs, "ours.table", fs.working)
    ctl("load", fs.mnt, theirs)
    ctl("load", fs.mnt, ours)
    assert released(fs, other.files[0])
    assert ctl("table", fs.mnt, "--inactive").stdout == fs.working
    ctl("resume", fs.mnt)
    intact(fs)

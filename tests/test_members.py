"""Member identity: every member file of a daxfs is checked at mount, fsck and live reload.

The quick start's shape, three equal pmem files concatenated, is the main
case: a table naming them in another order has the layout mkfs saw, so only
the label mkfs wrote into each member can tell. Each refusal is checked with
its exact message and exit status, and with the files left as they were.
"""
import hashlib
import os
import shutil
import struct
import subprocess

import pytest

import media
from conftest import run_tool as run, sparse_file
from faults import ctl, live_table, write_synced, write_table
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

SIZE = 16 * MIB
SECTORS = SIZE // 512
UUID = "3f2a0102-0304-4506-8708-090a0b0c0d0e"
OTHER_UUID = "aa000000-0000-4000-8000-000000000000"


def digest(*paths):
    return [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]


@pytest.fixture
def fs(daxfs_factory):
    """Three equal member files as a list SOURCE, mkfs'd with a known uuid,
    holding a file; unmounted."""
    d = daxfs_factory(files=["p0", "p1", "p2"], size=SIZE)
    d.mkfs("-U", UUID)
    d.mount()
    d.data = os.urandom(3 * SIZE // 2)      # spans all three members
    write_synced(d.mnt / "f", d.data)
    d.unmount()
    return d


def listed(d, *order):
    return ",".join(d.files[i] for i in order)


def refused_mount(d, source, message):
    err = d.mount_fails(source=source)
    assert err == f"daxfs-fuse: cannot mount {source}: mount daxfs: {message}\n"


def reordered(d, path, found, expected, hint="did you reorder the files?"):
    return (f"{path} holds member {found} of filesystem {UUID}, expected member {expected}; "
            f"{hint}")


def test_equal_members_in_another_order_are_refused_at_mount(fs):
    refused_mount(fs, listed(fs, 0, 2, 1), reordered(fs, fs.files[2], 2, 1))


def test_first_member_swapped_is_refused_at_mount(fs):
    refused_mount(fs, listed(fs, 1, 0, 2), reordered(fs, fs.files[1], 1, 0))


def test_duplicated_member_is_refused_at_mount(fs):
    copy = fs.tmp / "copy-of-p1"
    shutil.copyfile(fs.files[1], copy)
    os.chmod(copy, 0o600)
    source = f"{fs.files[0]},{fs.files[1]},{copy}"
    refused_mount(fs, source, reordered(fs, copy, 1, 2, f"{fs.files[1]} holds member 1 too: is "
                                                        "one a copy of the other?"))


def test_missing_member_is_refused_at_mount(fs):
    refused_mount(fs, listed(fs, 0, 2), reordered(fs, fs.files[2], 2, 1, "is a member missing?"))


def test_shrunk_member_is_refused_at_mount(fs):
    os.truncate(fs.files[2], SIZE // 2)
    fs.dirty = True             # its second half is gone: no fsck at teardown
    refused_mount(fs, fs.source, f"{fs.files[2]} holds member 2 of filesystem {UUID}, made "
                                 f"{SIZE} bytes long; the table maps only {SIZE // 2} bytes of "
                                 "it: was the file truncated?")


def test_shrunk_member_in_a_table_file_is_refused_at_mount(fs):
    table = write_table(fs, "fs.table", "".join(
        f"{i * SECTORS} {SECTORS} linear {p} 0\n" for i, p in enumerate(fs.files)))
    os.truncate(fs.files[1], SIZE // 2)
    fs.dirty = True
    err = fs.mount_fails(source=str(table))
    assert err == (f"daxfs-fuse: {table}: daxfs: target 1 (linear): {fs.files[1]} too small for "
                   f"target: start=0, len={SECTORS}, dev_size={SECTORS // 2} (sectors: it has "
                   f"{SIZE // 2} bytes, the target maps bytes 0-{SIZE - 1} of it; was it "
                   "truncated?)\n")


def test_member_of_another_filesystem_is_refused_at_mount(fs, daxfs_factory):
    other = daxfs_factory(files=["q0", "q1"], size=SIZE)
    other.mkfs("-U", OTHER_UUID)
    source = f"{fs.files[0]},{other.files[1]},{fs.files[2]}"
    refused_mount(fs, source, f"{other.files[1]} holds member 1 of filesystem {OTHER_UUID}, not "
                              f"of {UUID} (expected member 1)")


def test_unrelated_file_is_refused_at_mount(fs):
    stranger = fs.tmp / "stranger"
    sparse_file(stranger, SIZE)
    refused_mount(fs, f"{fs.files[0]},{stranger},{fs.files[2]}",
                  f"{stranger} is not member 1 of filesystem {UUID}: it holds no member label "
                  "(expected at byte 0 of it); is it the right file?")


def test_extra_file_is_refused_at_mount(fs):
    extra = fs.tmp / "extra"
    sparse_file(extra, SIZE)
    refused_mount(fs, f"{fs.source},{extra}", f"{extra} (target 3) is not a member of filesystem "
                                              f"{UUID}: it was made with no target there")


def test_members_in_their_order_still_mount(fs):
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


def test_fsck_refuses_reordered_members_and_shows_their_order(fs):
    source = listed(fs, 2, 0, 1)
    before = digest(*fs.files)
    for flag in ("-n", "-y"):
        r = run("fsck.daxfs", flag, source)
        assert r.returncode == 8, r.stderr
        assert r.stdout == ""
        assert r.stderr == (
            f"fsck.daxfs: {source}: {reordered(fs, fs.files[2], 2, 0)}\n"
            "fsck.daxfs: the filesystem's members are, in the order it was made with:\n"
            f"  member 0 (target 0, stripe 0): {fs.files[0]} from sector 0\n"
            f"  member 1 (target 1, stripe 0): {fs.files[1]} from sector 0\n"
            f"  member 2 (target 2, stripe 0): {fs.files[2]} from sector 0\n"
            f"fsck.daxfs: as a list of files in that order: {fs.source}\n"
            "fsck.daxfs: nothing was checked or changed\n")
    assert digest(*fs.files) == before, "fsck -y must never reorder or repair"
    assert run("fsck.daxfs", fs.source).stdout == f"{fs.source}: clean\n"


def test_fsck_shows_where_members_of_a_table_file_are(fs):
    table = write_table(fs, "swapped.table", "".join(
        f"{i * SECTORS} {SECTORS} linear {fs.files[j]} 0\n" for i, j in enumerate((0, 2, 1))))
    r = run("fsck.daxfs", table)
    assert r.returncode == 8
    assert r.stderr == (
        f"fsck.daxfs: {table}: {reordered(fs, fs.files[2], 2, 1)}\n"
        "fsck.daxfs: the filesystem's members are, in the order it was made with:\n"
        f"  member 0 (target 0, stripe 0): {fs.files[0]} from sector 0\n"
        f"  member 1 (target 1, stripe 0): {fs.files[1]} from sector 0\n"
        f"  member 2 (target 2, stripe 0): {fs.files[2]} from sector 0\n"
        "fsck.daxfs: nothing was checked or changed\n")


# ---- damage to the member table or a label: fsck -y rewrites it from the other copy

def member_table_block(path):
    """The first member table block of the filesystem whose member 0 is path."""
    with open(path, "rb") as f:
        sb = f.read(4096)
    gdt_start, gdt_blocks = struct.unpack_from("<QI", sb, 136)
    return gdt_start + gdt_blocks


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def one_repair(d, line):
    """fsck -n reports exactly line (exit 4) and -y repairs exactly it (exit 1)."""
    r = run("fsck.daxfs", "-n", d.source)
    assert (r.returncode, r.stdout) == (4, f"{line}\n{d.source}: 1 problem found, 0 repaired\n")
    r = run("fsck.daxfs", "-y", d.source)
    assert (r.returncode, r.stdout) == (1, f"{line} (repaired)\n{d.source}: 1 problem found, "
                                           "1 repaired\n")


def test_a_damaged_label_is_refused_at_mount_and_written_again_by_fsck(fs):
    with open(fs.files[2], "rb") as f:
        label = f.read(512)
    patch(fs.files[2], 40, bytes([label[40] ^ 4]))       # its entry, not its identity
    refused_mount(fs, fs.source, f"{fs.files[2]}: the label of member 2 of filesystem {UUID} "
                                 "(byte 0 of it) is damaged; run fsck.daxfs -y")
    line = (f"member 2 ({fs.files[2]}): its label (byte 0 of it) is damaged: write it again "
            "from the member table")
    one_repair(fs, line)
    with open(fs.files[2], "rb") as f:
        assert f.read(512) == label
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


def test_a_zeroed_member_table_is_rebuilt_from_the_labels(fs):
    blk = member_table_block(fs.files[0])
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        good = f.read(4096)
    patch(fs.files[0], blk * 4096, bytes(4096))
    refused_mount(fs, fs.source, f"member table block {blk}: no member table magic; run "
                                 "fsck.daxfs -y")
    r = run("fsck.daxfs", "-y", fs.source)
    assert (r.returncode, r.stdout) == (1, f"member table block {blk}: no member table magic: "
                                           "rebuild it from its members' labels (repaired)\n"
                                           f"{fs.source}: 1 problem found, 1 repaired\n")
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        assert f.read(4096) == good
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


@pytest.mark.parametrize("where", ["reserved", "entry"])
def test_a_damaged_member_table_and_a_damaged_label_are_repaired_when_their_entries_agree(
        fs, where):
    """A byte past the table block's entries and one in a label's reserved
    bytes each fail a checksum, and fsck had no intact copy of that member's
    entry: the two damaged copies agree on all of it, so both are written
    again. A byte in the label's entry leaves the copies apart: refused."""
    blk = member_table_block(fs.files[0])
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        good = f.read(4096)
    with open(fs.files[2], "rb") as f:
        label = f.read(512)
    patch(fs.files[0], blk * 4096 + 4000, b"\x55")            # past the three entries
    at = 300 if where == "reserved" else 40
    patch(fs.files[2], at, bytes([label[at] ^ 4]))
    why = f"member table block {blk}: checksum mismatch"
    refused_mount(fs, fs.source, f"{why}; run fsck.daxfs -y")
    r = run("fsck.daxfs", "-y", fs.source)
    if where == "entry":
        assert r.returncode == 8
        assert (f"{why}, and the labels of its members cannot replace it: {fs.files[2]}, "
                "member 2: member label: checksum mismatch") in r.stderr
        fs.dirty = True
        return
    assert (r.returncode, r.stdout) == (1, (
        f"{why}: rebuild it from its members' labels (repaired)\n"
        f"member 2 ({fs.files[2]}): its label (byte 0 of it) is damaged: write it again from "
        "the member table (repaired)\n"
        f"{fs.source}: 2 problems found, 2 repaired\n"))
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        assert f.read(4096) == good
    with open(fs.files[2], "rb") as f:
        assert f.read(512) == label
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


def reseal_label(path):
    with open(path, "rb") as f:
        body = f.read(508)
    patch(path, 508, struct.pack("<I", media.crc32c(body)))


@pytest.mark.parametrize("field", ["version", "entry"])
def test_a_sound_label_that_differs_from_the_member_table_is_written_again(fs, field):
    """Both copies of member 2's entry pass their checksums but disagree (or
    the label is of another format version): the table's copy is the one the
    live table's geometry vouches for, so the label is refused at mount and
    written again by fsck."""
    with open(fs.files[2], "rb") as f:
        label = f.read(512)
    assert struct.unpack_from("<I", label, 508)[0] == media.crc32c(label[:508])
    if field == "version":
        patch(fs.files[2], 8, struct.pack("<H", 3))
    else:
        length, = struct.unpack_from("<Q", label, 40 + 48)
        patch(fs.files[2], 40 + 48, struct.pack("<Q", length + 8))
    reseal_label(fs.files[2])
    what = {"version": "its format version", "entry": "its copy of the member entry"}[field]
    refused_mount(fs, fs.source, f"{fs.files[2]}: the label of member 2 of filesystem {UUID} "
                                 f"(byte 0 of it) differs from the member table in {what}; run "
                                 "fsck.daxfs -y")
    why = {"version": "is of another format version",
           "entry": "differs from the member table in its entry"}[field]
    line = (f"member 2 ({fs.files[2]}): its label (byte 0 of it) {why}: write it again from the "
            "member table")
    one_repair(fs, line)
    with open(fs.files[2], "rb") as f:
        assert f.read(512) == label
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


@pytest.mark.parametrize("field", ["target", "length"])
def test_a_sound_member_table_entry_that_differs_from_its_label_is_rebuilt(fs, field):
    """Member 2's entry in the member table rewritten with its block's checksum
    resealed: out of order (another target), or a length the live table does
    not give. Its label, sound and matching the live table, says otherwise,
    so fsck rebuilds the block from the labels as it does a damaged one."""
    blk = member_table_block(fs.files[0])
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        good = f.read(4096)
    entry = blk * 4096 + 16 + 2 * 96
    if field == "target":
        patch(fs.files[0], entry, struct.pack("<I", 1))
    else:
        length, = struct.unpack_from("<Q", good, 16 + 2 * 96 + 48)
        patch(fs.files[0], entry + 48, struct.pack("<Q", length - 8))
    media.Image(fs.files[0]).reseal_block(blk)
    refused_mount(fs, fs.source, {
        "target": "member table: member 2 (target 1, stripe 0 of 1) is out of order; run "
                  "fsck.daxfs -y",
        "length": f"member table: the entry of member 2 differs from its label ({fs.files[2]}), "
                  "which matches this table; run fsck.daxfs -y"}[field])
    line = (f"member table block {blk}: the entry of member 2 differs from the member's label, "
            "which matches this table: rebuild it from its members' labels")
    one_repair(fs, line)
    with open(fs.files[0], "rb") as f:
        f.seek(blk * 4096)
        assert f.read(4096) == good
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == fs.data


def test_fsck_refuses_a_member_whose_label_is_gone_and_writes_nothing(fs):
    patch(fs.files[1], 0, bytes(512))
    before = digest(*fs.files)
    for flag in ("-n", "-y"):
        r = run("fsck.daxfs", flag, fs.source)
        assert (r.returncode, r.stdout) == (8, "")
        assert r.stderr == (
            f"fsck.daxfs: {fs.source}: {fs.files[1]} is not member 1 of filesystem {UUID}: it "
            "holds no member label (expected at byte 0 of it); is it the right file?\n"
            "fsck.daxfs: the filesystem's members are, in the order it was made with:\n"
            f"  member 0 (target 0, stripe 0): {fs.files[0]} from sector 0\n"
            f"  member 1 (target 1, stripe 0): on no file of {fs.source}\n"
            f"  member 2 (target 2, stripe 0): {fs.files[2]} from sector 0\n"
            "fsck.daxfs: nothing was checked or changed\n")
    assert digest(*fs.files) == before
    fs.dirty = True             # no fsck at teardown: it would refuse the same way


def test_live_reload_of_reordered_members_is_refused(fs):
    fs.mount()
    good = live_table(fs)
    swapped = write_table(fs, "swapped.table", "".join(
        f"{i * SECTORS} {SECTORS} linear {fs.files[j]} 0\n" for i, j in enumerate((0, 2, 1))))
    r = ctl("reload", fs.mnt, swapped, check=False)
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl reload: {fs.mnt}: resume: "
                        f"{reordered(fs, fs.files[2], 2, 1)}\n")
    assert live_table(fs) == good
    assert (fs.mnt / "f").read_bytes() == fs.data


@pytest.mark.parametrize("order,found,expected", [((1, 0, 2), 1, 0), ((0, 1, 1), None, 2)],
                         ids=["first-two-swapped", "one-file-twice"])
def test_live_reload_with_a_member_out_of_place_is_refused(fs, order, found, expected):
    fs.mount()
    good = live_table(fs)
    table = write_table(fs, "bad.table", "".join(
        f"{i * SECTORS} {SECTORS} linear {fs.files[j]} 0\n" for i, j in enumerate(order)))
    r = ctl("reload", fs.mnt, table, check=False)
    assert r.returncode == 1
    if found is None:       # the same file twice: dm refuses it at load already
        assert r.stderr == (f"daxfs-ctl reload: {fs.mnt}: daxfs: target 2 (linear): sectors "
                            f"0-{SECTORS - 1} of {fs.files[1]} are mapped twice: target 1 "
                            "(linear) maps them too; a table must not map a byte of a device "
                            "twice\n")
    else:
        assert r.stderr == (f"daxfs-ctl reload: {fs.mnt}: resume: "
                            f"{reordered(fs, fs.files[order[0]], found, expected)}\n")
    assert live_table(fs) == good


def test_live_reload_may_put_an_error_target_in_a_members_place(fs):
    fs.mount()
    fs.allow_stderr(r"Input/output error")
    table = write_table(fs, "error.table", "".join(
        f"{i * SECTORS} {SECTORS} error\n" for i in range(3)))
    ctl("reload", fs.mnt, table)
    assert "error" in live_table(fs)
    good = write_table(fs, "good.table", "".join(
        f"{i * SECTORS} {SECTORS} linear {p} 0\n" for i, p in enumerate(fs.files)))
    ctl("reload", fs.mnt, good)
    assert (fs.mnt / "f").read_bytes() == fs.data


@pytest.mark.parametrize("where", ["renamed over the member", "named by the table"])
def test_live_reload_of_an_older_copy_of_a_member_is_refused(fs, where):
    """A copy of a member has its labels: a reload onto one taken before the
    last writes (a backup put back) was accepted, and the filesystem's
    cached metadata then read the old bytes: an acknowledged write read back
    as it was before, other files as zeroes. A member in another file (or
    place) than the live one must hold what the live one holds now."""
    fs.mount()
    copy = fs.tmp / "p1.copy"
    shutil.copyfile(fs.files[1], copy)
    write_synced(fs.mnt / "f", fs.data[::-1])
    good = live_table(fs)
    if where == "renamed over the member":
        os.rename(copy, fs.files[1])
        table = write_table(fs, "same.table", good)
        path = fs.files[1]
        live = f"the file the mount opened as {fs.files[1]}"
    else:
        table = write_table(fs, "copy.table", good.replace(fs.files[1], str(copy)))
        path, live = copy, fs.files[1]
    r = ctl("reload", fs.mnt, table, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith(f"daxfs-ctl reload: {fs.mnt}: resume: {path} does not hold what "
                               f"the member in use ({live}) holds now: its byte "), r.stderr
    assert r.stderr.endswith(" differs; a copy taken before the last writes? copy a member only "
                             "while the device is suspended\n"), r.stderr
    assert live_table(fs) == good
    assert (fs.mnt / "f").read_bytes() == fs.data[::-1]


def stale_reload(fs, table):
    r = ctl("reload", fs.mnt, table, check=False)
    assert r.returncode == 1
    assert " does not hold what the member in use " in r.stderr, r.stderr


def test_an_older_copy_is_refused_after_an_error_target_stood_in_its_place(fs):
    """An error target in between leaves no live member to match: the copy
    is matched against the member that was live there last."""
    fs.mount()
    fs.allow_stderr(r"Input/output error")
    copy = fs.tmp / "p1.copy"
    shutil.copyfile(fs.files[1], copy)
    write_synced(fs.mnt / "f", fs.data[::-1])
    good = live_table(fs)
    ctl("reload", fs.mnt, write_table(fs, "error.table", "".join(
        f"{i * SECTORS} {SECTORS} error\n" for i in range(3))))
    stale_reload(fs, write_table(fs, "copy.table", good.replace(fs.files[1], str(copy))))
    ctl("reload", fs.mnt, write_table(fs, "good.table", good))
    assert (fs.mnt / "f").read_bytes() == fs.data[::-1]


def test_an_older_copy_is_refused_past_bad_sectors_of_the_live_member(fs):
    """A bad sector of the live member hides only its page from the
    comparison, not the MiB around it."""
    fs.mount()
    copy = fs.tmp / "p1.copy"
    shutil.copyfile(fs.files[1], copy)
    write_synced(fs.mnt / "f", fs.data[::-1])
    old, new = open(copy, "rb").read(), open(fs.files[1], "rb").read()
    differ = {k // MIB for k in range(0, len(new), PAGE) if old[k:k + PAGE] != new[k:k + PAGE]}
    assert differ
    for chunk in differ:        # the last sector of every MiB where the copy differs
        ctl("badblocks", fs.mnt, fs.files[1], "add", chunk * MIB // 512 + 2047)
    stale_reload(fs, write_table(fs, "copy.table",
                                 live_table(fs).replace(fs.files[1], str(copy))))


def test_live_reload_onto_a_copy_made_while_suspended_is_accepted(fs):
    """Moving a member to another file: suspend, copy, load, resume. The
    comparison reads no hole of either file (it would give a sparse file
    its pages)."""
    fs.mount()
    write_synced(fs.mnt / "f", fs.data[::-1])
    good = live_table(fs)
    copy = fs.tmp / "p1.moved"
    ctl("suspend", fs.mnt)
    subprocess.run(["cp", "--sparse=always", fs.files[1], copy], check=True)
    os.chmod(copy, 0o600)
    # the member has holes unless daxfs-run's writes above filled its chunks
    used = [os.stat(p).st_blocks for p in (fs.files[1], copy)]
    ctl("load", fs.mnt, write_table(fs, "moved.table", good.replace(fs.files[1], str(copy))))
    ctl("resume", fs.mnt)
    assert [os.stat(p).st_blocks for p in (fs.files[1], copy)] == used
    assert str(copy) in live_table(fs)
    assert (fs.mnt / "f").read_bytes() == fs.data[::-1]
    write_synced(fs.mnt / "g", b"after the move")
    fs.unmount()
    source = ",".join([fs.files[0], str(copy), fs.files[2]])
    fs.mount(source=source)
    assert (fs.mnt / "g").read_bytes() == b"after the move"
    assert (fs.mnt / "f").read_bytes() == fs.data[::-1]


def test_stripes_in_another_order_are_refused_at_mount(daxfs_factory):
    d = daxfs_factory(files=["s0", "s1"], size=SIZE,
                      table=f"0 {2 * SECTORS} striped 2 128 {{0}} 0 {{1}} 0\n")
    d.mkfs("-U", UUID)
    swapped = write_table(d, "swapped.table",
                          f"0 {2 * SECTORS} striped 2 128 {d.files[1]} 0 {d.files[0]} 0\n")
    err = d.mount_fails(source=str(swapped))
    # s1's first chunk holds journal blocks (its label is further in); s0, now
    # second, holds the superblock
    assert err == (f"daxfs-fuse: cannot mount {swapped}: mount daxfs: {d.files[0]} holds member 0 "
                   f"(the superblock) of filesystem {UUID}, expected member 1; did you reorder "
                   "the files?\n")


# ---- format 1 ---------------------------------------------------------------

def crc32c(data, crc=0xFFFFFFFF):
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def make_format_1(path):
    """Turns both superblocks of a one-file daxfs into format 1.0 ones."""
    with open(path, "r+b") as f:
        for blk in (0, 1):
            f.seek(blk * 4096)
            b = bytearray(f.read(4096))
            b[8:12] = struct.pack("<HH", 1, 0)
            crc = crc32c(b[:4092], crc32c(struct.pack("<Q", blk))) ^ 0xFFFFFFFF
            b[4092:] = struct.pack("<I", crc)
            f.seek(blk * 4096)
            f.write(b)


def test_format_1_image_is_refused_with_what_to_do(daxfs_factory):
    d = daxfs_factory(size=SIZE)
    d.mkfs("-U", UUID)
    make_format_1(d.files[0])
    why = ("superblock 0: format version 1.0, made before member labels (format 2.0): its member "
           "files cannot be verified, so it is not mounted; copy its files out with the "
           "daxfs-fuse that made it, then make the filesystem again with mkfs.daxfs")
    assert d.mount_fails() == f"daxfs-fuse: cannot mount {d.source}: mount daxfs: {why}\n"
    r = run("fsck.daxfs", d.source)
    assert (r.returncode, r.stderr) == (8, f"fsck.daxfs: {d.source}: {why}\n")
    r = run("mkfs.daxfs", d.source)
    assert r.returncode == 1
    assert r.stderr == (f"mkfs.daxfs: {d.files[0]} holds a daxfs (format 1, uuid {UUID}, "
                        "label ''); use -f to overwrite it\n")
    d.mkfs("-f")
    d.mount()

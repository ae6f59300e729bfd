"""daxfs-ctl super and label: a filesystem's superblock and label, as dumpe2fs -h and e2label."""
import json
import re
import uuid as uuid_mod

import pytest

from conftest import run_ctl as ctl, sparse_file
from mount import MIB, daxfs_factory, lazy_unmount  # noqa: F401  (fixture)

UUID = "0b7e2c4d-1f3a-4c5e-9a7b-6d8e9f0a1b2c"


def super_json(source):
    r = ctl("super", source, "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1
    return json.loads(r.stdout)


@pytest.fixture
def fs(daxfs_factory):
    """Two 64 MiB members, labelled, with a known uuid; not mounted."""
    d = daxfs_factory(files=["pmem0", "pmem1"], size=64 * MIB)
    d.mkfs("-L", "scratch", "-U", UUID)
    return d


def test_super_json_of_a_fresh_filesystem(fs):
    s = super_json(fs.source)
    times = {k: s.pop(k) for k in ("mkfs_time", "write_time")}
    assert times["mkfs_time"] > 0 and times["write_time"] == times["mkfs_time"]
    assert s == {
        "source": fs.source, "label": "scratch", "uuid": UUID, "version": "2.1",
        "state": "clean", "mounted": False, "mountpoint": None,
        "block_size": 4096, "blocks": 2 * 64 * MIB // 4096,
        "free_blocks": s["free_blocks"], "inodes_used": 1, "free_inodes": s["free_inodes"],
        "journal_blocks": s["journal_blocks"], "groups": 1, "blocks_per_group": 32768,
        "data_start": 2 + s["journal_blocks"] + 2, "superblock": "primary",
        "layout_matches": True,
        "mount_time": 0, "mount_count": 0,
        "members": [{"index": i, "path": f, "bytes": 64 * MIB, "offset": 0, "length": 64 * MIB,
                     "uuid": s["members"][i]["uuid"]} for i, f in enumerate(fs.files)],
    }
    assert 0 < s["free_blocks"] < s["blocks"] - s["journal_blocks"]
    uuids = [m["uuid"] for m in s["members"]]
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", u) for u in uuids)
    assert len(set(uuids)) == 2 and UUID not in uuids      # each member its own, random


def member_uuids_on_media(fs):
    """The member uuids as the member labels carry them (FORMAT.md "Label":
    the member entry at 40, its uuid at 72 in it), read from the files."""
    out = []
    for f in fs.files:
        data = open(f, "rb").read()
        at = data.find(b"DXFSMBL1")
        assert at >= 0, f"no label in {f}"
        out.append(str(uuid_mod.UUID(bytes=data[at + 40 + 72:at + 40 + 88])))
    return out


def test_super_members_are_the_member_table_with_the_files_in_their_places(fs):
    s = super_json(fs.source)
    assert [m["uuid"] for m in s["members"]] == member_uuids_on_media(fs)
    # one file alone: the member table still lists both, the other not in the table
    one = super_json(fs.files[0])
    assert [(m["index"], m["path"], m["bytes"]) for m in one["members"]] == \
        [(0, fs.files[0], 64 * MIB), (1, None, None)]
    assert [m["uuid"] for m in one["members"]] == [m["uuid"] for m in s["members"]]


def test_super_members_on_a_striped_table_are_areas_of_the_files(daxfs_factory):
    d = daxfs_factory(files=["p0", "p1"], size=16 * MIB,
                      table="0 32768 striped 2 64 {0} 2048 {1} 2048\n")
    d.mkfs()
    s = super_json(d.source)
    assert [(m["index"], m["path"], m["bytes"], m["offset"], m["length"])
            for m in s["members"]] == \
        [(0, d.files[0], 16 * MIB, 2048 * 512, 16384 * 512),
         (1, d.files[1], 16 * MIB, 2048 * 512, 16384 * 512)]


def test_super_text_names_each_field(fs):
    r = ctl("super", fs.source)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines() if not line.startswith(" "))
    assert lines["Filesystem label"].strip() == "scratch"
    assert lines["Filesystem UUID"].strip() == UUID
    assert lines["Filesystem state"].strip() == "clean"
    assert lines["Mounted"].strip() == "no"
    assert lines["Last mounted"].strip() == "never"
    assert lines["Members"].strip() == "2"
    uuids = [m["uuid"] for m in super_json(fs.source)["members"]]
    assert [line for line in r.stdout.splitlines() if line.startswith("  ")] == \
        [f"  member {i}: {f} ({64 * MIB} bytes), offset 0, length {64 * MIB}, uuid {uuids[i]}"
         for i, f in enumerate(fs.files)]


def test_super_text_of_one_member_names_the_missing_one(fs):
    text = ctl("super", fs.files[0]).stdout
    uuids = [m["uuid"] for m in super_json(fs.source)["members"]]
    assert f"  member 1: not in this table, offset 0, length {64 * MIB}, uuid {uuids[1]}\n" in text


def test_super_without_a_readable_member_table_lists_the_files(fs):
    # the member table is block data_start - 1 (FORMAT.md): damage it, and
    # look at one member alone (a whole damaged filesystem is not counted)
    s = super_json(fs.source)
    with open(fs.files[0], "r+b") as f:
        f.seek((s["data_start"] - 1) * 4096 + 100)
        f.write(b"\xff" * 8)
    r = ctl("super", fs.files[0], "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["members"] == [
        {"index": None, "path": fs.files[0], "bytes": 64 * MIB, "offset": None, "length": None,
         "uuid": None}]
    text = ctl("super", fs.files[0]).stdout
    assert "Members:                  1 (the member table cannot be read)\n" in text
    assert f"\n  {fs.files[0]}  {64 * MIB} bytes\n" in text


def test_super_after_a_crash_says_the_journal_replays(fs):
    fs.mount()
    (fs.mnt / "kept").write_bytes(b"durable at return")
    proc, fs.proc = fs.proc, None
    proc.kill()
    proc.wait()
    lazy_unmount(fs.mnt)
    s = super_json(fs.source)
    assert s["state"] == "not clean" and s["mounted"] is False
    assert s["inodes_used"] == 2           # counted with the journal replayed
    assert ("Filesystem state:         not clean (not unmounted cleanly: the journal replays "
            "at the next mount)") in ctl("super", fs.source).stdout
    fs.mount()                             # and it does
    assert (fs.mnt / "kept").read_bytes() == b"durable at return"


def test_super_of_one_member_says_it_cannot_be_mounted_so(fs):
    s = super_json(fs.files[0])
    assert s["label"] == "scratch" and s["layout_matches"] is False
    assert s["free_blocks"] is None            # not read: it is not a whole filesystem
    assert ("Table:                    not the layout the filesystem was made on: it cannot be "
            "mounted from this SOURCE\n") in ctl("super", fs.files[0]).stdout


def test_super_of_something_else_fails(tmp_path):
    blank = tmp_path / "blank"
    sparse_file(blank, 16 * MIB)
    r = ctl("super", blank)
    assert r.returncode == 1
    assert r.stderr.startswith(f"daxfs-ctl super: {blank}: no valid superblock: ")
    assert r.stdout == ""


@pytest.mark.parametrize("args,message", [
    (["super"], "missing SOURCE"),
    (["super", "a", "b"], "too many arguments"),
    (["super", "a", "--yaml"], "unknown option '--yaml'"),
    (["label"], "missing SOURCE"),
    (["label", "a", "b", "c"], "too many arguments"),
    (["label", "a", "l" * 64], f"label '{'l' * 64}' is longer than 63 bytes"),
], ids=["super-none", "super-two", "super-option", "label-none", "label-three", "label-long"])
def test_bad_arguments_exit_2(args, message):
    r = ctl(*args)
    assert r.returncode == 2
    assert message in r.stderr


def test_label_prints_the_label(fs):
    r = ctl("label", fs.source)
    assert (r.returncode, r.stdout, r.stderr) == (0, "scratch\n", "")


def test_label_sets_it_and_nothing_else_changes(fs):
    before = super_json(fs.source)
    r = ctl("label", fs.source, "data disk")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    after = super_json(fs.source)
    assert after["label"] == "data disk"
    for k in ("uuid", "mount_count", "mount_time", "inodes_used", "free_blocks", "state"):
        assert after[k] == before[k], k
    assert ctl("label", fs.source).stdout == "data disk\n"
    fs.mount()                     # the filesystem mounts, fsck at cleanup finds it clean


def test_label_can_be_cleared_and_may_start_with_a_dash(fs):
    assert ctl("label", fs.source, "--", "-x-").returncode == 0
    assert super_json(fs.source)["label"] == "-x-"
    assert ctl("label", fs.source, "").returncode == 0
    assert super_json(fs.source)["label"] == ""


def test_label_change_of_a_mounted_filesystem_is_refused(fs):
    fs.mount()
    r = ctl("label", fs.source, "new")
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl label: {fs.files[0]}: in use by another daxfs mount; "
                        "unmount it to change the label (its daemon writes its own copy of "
                        "the superblock back)\n")
    assert ctl("label", fs.source).stdout == "scratch\n"    # reading it is fine

"""daxfs-ctl uuid: a filesystem's uuid changed as tune2fs -U does, and every crash state on the way."""
import json
import os
import re
import subprocess
import sys
import uuid as uuid_mod

import pytest

from conftest import SOURCE_DIR, tool
from mount import MIB, Daxfs, daxfs_factory  # noqa: F401  (fixture)

sys.path.insert(0, str(SOURCE_DIR / "tools" / "crash"))
import persist_trace as pt  # noqa: E402

OLD = "0b7e2c4d-1f3a-4c5e-9a7b-6d8e9f0a1b2c"
NEW = "6a1f7c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"
LABEL_MAGIC = b"DXFSMBL1"


def run(*args, env=None):
    return subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=120, env=env)


def ctl(*args, env=None):
    return run(tool("daxfs-ctl"), *args, env=env)


def fsck(source):
    return run(tool("fsck.daxfs"), "-n", source)


def labels(fs):
    """(fs uuid, member uuid) of each file's member label, read from the files
    (FORMAT.md "Label": fs_uuid at 16, the member entry at 40, its uuid at 72)."""
    out = []
    for f in fs.files:
        data = open(f, "rb").read()
        at = data.find(LABEL_MAGIC)
        assert at >= 0, f"no label in {f}"
        out.append((str(uuid_mod.UUID(bytes=data[at + 16:at + 32])),
                    str(uuid_mod.UUID(bytes=data[at + 112:at + 128]))))
    return out


def journal_header_uuid(fs):
    """The uuid of the journal header (block 2, uuid at 16)."""
    with open(fs.files[0], "rb") as f:
        f.seek(2 * 4096 + 16)
        return str(uuid_mod.UUID(bytes=f.read(16)))


def super_json(source):
    r = ctl("super", source, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def fs(daxfs_factory):
    """Three 16 MiB members with a known uuid; not mounted."""
    d = daxfs_factory(files=["pmem0", "pmem1", "pmem2"], size=16 * MIB)
    d.mkfs("-L", "scratch", "-U", OLD)
    return d


def test_uuid_prints_the_uuid(fs):
    r = ctl("uuid", fs.source)
    assert (r.returncode, r.stdout, r.stderr) == (0, OLD + "\n", "")


def test_uuid_sets_it_in_the_superblock_every_label_and_the_journal(fs):
    fs.mount()
    (fs.mnt / "kept").write_bytes(b"across the change")
    fs.unmount()
    before = super_json(fs.source)
    members = [m for _, m in labels(fs)]
    r = ctl("uuid", fs.source, NEW)
    assert (r.returncode, r.stdout, r.stderr) == (0, NEW + "\n", "")
    after = super_json(fs.source)
    assert after["uuid"] == NEW and after["label"] == "scratch" and after["state"] == "clean"
    # as tune2fs: not a mount of the filesystem's own
    assert (after["mount_count"], after["mount_time"]) == \
        (before["mount_count"], before["mount_time"])
    assert [m["uuid"] for m in after["members"]] == members
    assert labels(fs) == [(NEW, m) for m in members]
    assert journal_header_uuid(fs) == NEW
    assert fsck(fs.source).returncode == 0
    fs.mount()
    assert (fs.mnt / "kept").read_bytes() == b"across the change"


@pytest.mark.parametrize("kind,version", [("random", 4), ("time", 1)])
def test_uuid_random_and_time_generate_one(fs, kind, version):
    r = ctl("uuid", fs.source, kind)
    assert r.returncode == 0, r.stderr
    u = uuid_mod.UUID(r.stdout.strip())
    assert (u.version, u.variant) == (version, uuid_mod.RFC_4122)
    assert super_json(fs.source)["uuid"] == str(u) != OLD
    assert {fu for fu, _ in labels(fs)} == {str(u)}
    if kind == "time":     # within a minute of now (100 ns since 1582-10-15)
        assert abs((u.time - 0x01B21DD213814000) / 1e7 - __import__("time").time()) < 60


def test_uuid_of_a_mounted_filesystem_is_refused(fs):
    fs.mount()
    r = ctl("uuid", fs.source, NEW)
    assert r.returncode == 1
    assert re.fullmatch(r"daxfs-ctl uuid: .*pmem0: in use by another daxfs mount; unmount it to "
                        r"change the uuid \(its daemon writes its own copy of the superblock "
                        r"back\)\n", r.stderr), r.stderr
    assert ctl("uuid", fs.source).stdout == OLD + "\n"      # read while mounted
    fs.unmount()
    assert super_json(fs.source)["uuid"] == OLD
    assert {fu for fu, _ in labels(fs)} == {OLD}


@pytest.mark.parametrize("args,code,message", [
    (["uuid"], 2, "missing SOURCE"),
    (["uuid", "a", "b", "c"], 2, "too many arguments"),
    (["uuid", "SRC", "0b7e2c4d"], 2,
     "'0b7e2c4d' is not a uuid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, random or time)"),
    (["uuid", "SRC", "00000000-0000-0000-0000-000000000000"], 1,
     "the nil uuid names no filesystem"),
], ids=["none", "three", "not-a-uuid", "nil"])
def test_uuid_bad_arguments(fs, args, code, message):
    r = ctl(*[fs.source if a == "SRC" else a for a in args])
    assert r.returncode == code
    assert message in r.stderr
    assert super_json(fs.source)["uuid"] == OLD


# ---- power loss at every persist point of a change -------------------------

def record_change(tmp_path):
    """mkfs on two 4 MiB members, then `daxfs-ctl uuid SOURCE NEW` with the
    persistence recorder on: the base images and the trace's records."""
    d = Daxfs(tmp_path, files=["p0", "p1"], size=4 * MIB)
    d.mkfs("-U", OLD)
    base = {f: open(f, "rb").read() for f in d.files}
    trace = tmp_path / "uuid.trace"
    env = dict(os.environ, PMEM_IS_PMEM_FORCE="1", DAXFS_PERSIST_TRACE=str(trace))
    r = ctl("uuid", d.source, NEW, env=env)
    assert r.returncode == 0, r.stderr
    return d, base, pt.load(trace)


def outcome(d):
    """What a state is: "old" or "new" (fsck clean, or clean after a mount
    recovered it, with that uuid), or "unfinished" (fsck refuses, naming the
    change)."""
    r = fsck(d.source)
    if r.returncode == 0:
        return {OLD: "old", NEW: "new"}[super_json(d.source)["uuid"]]
    if r.returncode == 4:
        # what any commit may leave (a torn superblock copy or journal
        # header): a mount recovers it, as daxfs-crash's oracle does
        d.mount()
        d.unmount()
        r = fsck(d.source)
        assert r.returncode == 0, r.stdout + r.stderr
        return {OLD: "old", NEW: "new"}[super_json(d.source)["uuid"]]
    assert r.returncode == 8, r.stdout + r.stderr
    assert re.search(r"holds member \d of filesystem " + OLD + r" (stamped with the uuid " + NEW +
                     r": a uuid change did not finish \(finish: `daxfs-ctl uuid SOURCE " + NEW +
                     r"`; undo: `daxfs-ctl uuid SOURCE " + OLD + r"`\)|with its uuid half "
                     r"rewritten: a uuid change did not finish \(finish: `daxfs-ctl uuid SOURCE "
                     r"NEWUUID`; undo: `daxfs-ctl uuid SOURCE " + OLD + r"`\))",
                     r.stdout + r.stderr), r.stdout + r.stderr
    return "unfinished"


def test_every_crash_state_of_a_change_is_old_new_or_named_and_finishes(tmp_path):
    d, base, records = record_change(tmp_path)
    try:
        check_crash_states(d, base, records)
    finally:
        d.cleanup()


def check_crash_states(d, base, records):
    seen = {}
    for point in pt.crash_points(records, base):
        for st in pt.states(point, seed=1, nrandom=4):
            def load():
                for f, img in st.images().items():
                    with open(f, "wb") as out:
                        out.write(img)
            load()
            what = outcome(d)
            seen.setdefault(what, []).append(f"{point.number}/{st.name}")
            if what == "unfinished" and len(seen[what]) % 2:
                # undo it: the old uuid back everywhere
                r = ctl("uuid", d.source, OLD)
                assert r.returncode == 0, f"{point}/{st.describe()}: {r.stderr}"
                assert outcome(d) == "old"
                load()
            # running the change again always ends it
            r = ctl("uuid", d.source, NEW)
            assert r.returncode == 0, f"{point}/{st.describe()}: {r.stderr}"
            assert outcome(d) == "new", f"{point}/{st.describe()}"
            assert {fu for fu, _ in labels(d)} == {NEW}
    # the states a change passes through, each at least once
    assert set(seen) == {"old", "unfinished", "new"}, seen
    assert any(s.startswith(tuple(f"{n}/torn" for n in range(1000))) for s in seen["unfinished"])


def test_a_label_stamped_with_a_third_uuid_is_refused(fs):
    """A member of a copy whose uuid was changed, in this filesystem's place:
    neither mount, nor a change to another uuid, takes it."""
    copy = [f + ".copy" for f in fs.files]
    for f, c in zip(fs.files, copy):
        with open(f, "rb") as i, open(c, "wb") as o:
            o.write(i.read())
    third = "11111111-2222-4333-8444-555555555555"
    assert ctl("uuid", ",".join(copy), third).returncode == 0
    mixed = ",".join([fs.files[0], copy[1], fs.files[2]])
    r = fsck(mixed)
    assert r.returncode == 8
    assert (f"{copy[1]} holds member 1 of filesystem {OLD} stamped with the uuid {third}: a "
            f"uuid change did not finish (finish: `daxfs-ctl uuid SOURCE {third}`; undo: "
            f"`daxfs-ctl uuid SOURCE {OLD}`), or a copy's member with a new uuid is here\n") in \
        r.stderr
    r = ctl("uuid", mixed, NEW)
    assert r.returncode == 1
    assert (f"daxfs-ctl uuid: {copy[1]} holds member 1 of filesystem {OLD} stamped with uuid "
            f"{third}: finish that change first (set the uuid {third}) or undo it (set {OLD}); "
            f"or is it a member of a copy of this filesystem?\n") == r.stderr
    assert labels(fs)[1][0] == OLD and super_json(fs.source)["uuid"] == OLD

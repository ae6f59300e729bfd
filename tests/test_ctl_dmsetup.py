"""daxfs-ctl on a mounted daemon prints and accepts what dmsetup does: status, info, table, clear,
event numbers, '+' on numbers, and remove (EBUSY, --deferred, --force). Golden texts, exactly."""
import errno
import json
import mmap
import os
import subprocess

import pytest

from faults import allow_faults, ctl, md_offset, write_synced
from mount import MIB, PAGE, SECTOR, daxfs_factory  # noqa: F401  (fixture)

UUID = "0f2ae8b4-7d43-4c34-9a3f-0c9b2f7b7d11"
HALF = 32 * MIB // SECTOR          # sectors of the linear target
STRIPED = 2 * HALF                 # sectors of the striped target: 32 MiB of B and of C
SIZE = HALF + STRIPED


@pytest.fixture
def fs(daxfs_factory):
    """linear over A, then striped over B and C: two targets."""
    d = daxfs_factory(files=["A", "B", "C"], size=64 * MIB,
                      table=f"0 {HALF} linear {{0}} 0\n{HALF} {STRIPED} striped 2 8 {{1}} 0 {{2}} 0\n")
    d.mkfs("-U", UUID)
    d.mount()
    allow_faults(d)
    yield d
    ctl("resume", d.mnt, check=False)


def out(*args):
    r = ctl(*args)
    assert r.stderr == ""
    return r.stdout


def devno(d):
    st = os.stat(d.mnt)
    return os.major(st.st_dev), os.minor(st.st_dev)


def info_text(d, state="ACTIVE", tables="LIVE", events=0, targets=2):
    major, minor = devno(d)
    return (f"Name:              daxfs\n"
            f"State:             {state}\n"
            f"Read Ahead:        256\n"
            f"Tables present:    {tables}\n"
            f"Open count:        1\n"
            f"Event number:      {events}\n"
            f"Major, minor:      {major}, {minor}\n"
            f"Number of targets: {targets}\n"
            f"UUID: DAXFS-{UUID}\n"
            f"\n")


def test_status_prints_each_targets_dmsetup_line(fs):
    a, b, c = fs.files
    assert out("status", fs.mnt) == f"0 {HALF} linear\n{HALF} {STRIPED} striped 2 {b} {c} 1 AA\n"


def test_status_verbose_adds_the_daemons_detail_after_the_dmsetup_lines(fs):
    text = out("status", fs.mnt, "--verbose")
    lines = text.splitlines()
    assert lines[:2] == out("status", fs.mnt).splitlines()
    assert lines[2:4] == ["state: ACTIVE", "type: dax"]
    assert f"device {fs.files[1]}: size={64 * MIB} dax=yes" in text
    assert lines[-1] == "filesystem: thawed, DAX"


def test_status_json_carries_the_dmsetup_text(fs):
    s = json.loads(out("status", fs.mnt, "--json"))
    assert s["text"] == out("status", fs.mnt)
    assert [t["type"] for t in s["targets"]] == ["linear", "striped"]


def test_table_prints_the_table_as_loaded(fs):
    a, b, c = fs.files
    assert out("table", fs.mnt) == f"0 {HALF} linear {a} 0\n{HALF} {STRIPED} striped 2 8 {b} 0 {c} 0\n"


def test_info_prints_dmsetups_fields(fs):
    assert out("info", fs.mnt) == info_text(fs)


def test_info_follows_suspend_load_and_resume(fs):
    ctl("suspend", fs.mnt, "--nolockfs")
    assert out("info", fs.mnt) == info_text(fs, state="SUSPENDED")
    staged = fs.tmp / "same.table"
    staged.write_text(out("table", fs.mnt))
    ctl("load", fs.mnt, staged)
    assert out("info", fs.mnt) == info_text(fs, state="SUSPENDED", tables="LIVE & INACTIVE")
    ctl("resume", fs.mnt, "--nolockfs")
    # a swap is no event: the event number counts the targets' events
    assert out("info", fs.mnt) == info_text(fs)


def test_info_verbose_adds_the_daemons_detail_before_the_blank_line(fs):
    assert out("info", fs.mnt, "--verbose") == info_text(fs)[:-1] + (
        f"Size:              {SIZE} sectors\n"
        f"Type:              dax\n"
        f"DAX:               yes\n"
        f"Filesystem:        thawed, DAX\n\n")


def test_info_json_has_dmsetups_fields_and_the_daemons(fs):
    major, minor = devno(fs)
    i = json.loads(out("info", fs.mnt, "--json"))
    assert (i["name"], i["state"], i["read_ahead"], i["tables"], i["open_count"], i["event_nr"],
            i["major"], i["minor"], i["targets"], i["uuid"], i["deferred_remove"]) == \
        ("daxfs", "ACTIVE", 256, ["LIVE"], 1, 0, major, minor, 2, f"DAXFS-{UUID}", False)
    assert i["size"] == SIZE and i["filesystem"]["frozen"] is False


def test_clear_with_nothing_staged_succeeds_silently(fs):
    r = ctl("clear", fs.mnt)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_numbers_with_a_plus_sign_load_where_the_kernel_parses_them(fs):
    a, b, c = fs.files
    t = fs.tmp / "plus.table"
    t.write_text(f"+0 +{HALF} linear {a} 0\n+{HALF} +{STRIPED} striped +2 +8 {b} 0 {c} 0\n")
    ctl("reload", fs.mnt, t)
    assert out("table", fs.mnt) == f"0 {HALF} linear {a} 0\n{HALF} {STRIPED} striped 2 8 {b} 0 {c} 0\n"


def test_plus_sign_on_a_linear_offset_is_refused_as_the_kernel_does(fs):
    a, b, c = fs.files
    t = fs.tmp / "plus.table"
    t.write_text(f"0 {HALF} linear {a} +0\n{HALF} {STRIPED} striped 2 8 {b} 0 {c} 0\n")
    r = ctl("load", fs.mnt, t, check=False)
    assert r.returncode == 1
    assert r.stderr == f"daxfs-ctl load: {fs.mnt}: {t}:1: linear: Invalid device sector\n"


def test_stripe_error_marks_the_stripe_and_counts_an_event(daxfs_factory):
    """stripe_end_io: a failed bio marks its stripe D and raises an event.
    On the bio path (dax=never) file reads are bios."""
    d = daxfs_factory(files=["B", "C"], size=64 * MIB,
                      table="0 131072 striped 2 8 {0} 0 {1} 0\n")
    d.mkfs("-U", UUID)
    d.mount("dax=never")
    allow_faults(d)
    f = d.mnt / "f"
    write_synced(f, b"s" * (4 * PAGE))
    dev, off, _ = d.resolve(md_offset(d, f, 0))
    other = d.files[1] if dev == d.files[0] else d.files[0]
    ctl("badblocks", d.mnt, dev, "add", off // SECTOR, 8)
    fd = os.open(f, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, PAGE)
        with pytest.raises(OSError) as e:
            os.preadv(fd, [buf], 0)
        assert e.value.errno == errno.EIO
    finally:
        os.close(fd)
    flags = "DA" if dev == d.files[0] else "AD"
    assert out("status", d.mnt) == f"0 131072 striped 2 {d.files[0]} {d.files[1]} 1 {flags}\n"
    assert other in out("status", d.mnt)
    assert out("info", d.mnt) == info_text(d, events=1, targets=1)
    ctl("badblocks", d.mnt, dev, "clear", off // SECTOR, 8)


# ---- remove ---------------------------------------------------------------

def test_remove_of_the_mounted_device_is_ebusy(fs):
    r = ctl("remove", fs.mnt, check=False)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (f"daxfs-ctl remove: {fs.mnt}: daxfs: device is open (open count 1): the "
                        f"mounted filesystem holds it; unmount it, or remove with --deferred to "
                        f"have it removed at unmount\n")
    assert out("info", fs.mnt) == info_text(fs)


def test_deferred_remove_marks_the_device_and_the_unmount_is_clean(fs):
    write_synced(fs.mnt / "f", b"kept")
    r = ctl("remove", fs.mnt, "--deferred")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert out("info", fs.mnt) == info_text(fs, state="ACTIVE (DEFERRED REMOVE)")
    # nothing else changes until the unmount, which removes it
    assert (fs.mnt / "f").read_bytes() == b"kept"
    fs.unmount()
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == b"kept"
    assert out("info", fs.mnt) == info_text(fs)


def test_force_remove_wipes_the_table_then_fails_ebusy_and_reload_brings_the_data_back(fs):
    data = os.urandom(3 * PAGE)
    write_synced(fs.mnt / "f", data)
    good = fs.tmp / "good.table"
    good.write_text(out("table", fs.mnt))
    r = ctl("remove", fs.mnt, "--force", check=False)
    assert r.returncode == 1 and "device is open (open count 1)" in r.stderr
    # every target is an error target now, with the old boundaries
    assert out("table", fs.mnt) == f"0 {HALF} error\n{HALF} {STRIPED} error\n"
    assert out("status", fs.mnt) == f"0 {HALF} error\n{HALF} {STRIPED} error\n"
    with pytest.raises(OSError) as e:
        (fs.mnt / "f").read_bytes()
    assert e.value.errno == errno.EIO
    ctl("reload", fs.mnt, good)
    assert (fs.mnt / "f").read_bytes() == data


def test_force_deferred_remove_succeeds_and_a_write_shuts_the_filesystem_down(fs):
    write_synced(fs.mnt / "f", b"before")
    r = ctl("remove", fs.mnt, "--force", "--deferred")
    assert (r.returncode, r.stderr) == (0, "")
    assert out("info", fs.mnt) == info_text(fs, state="ACTIVE (DEFERRED REMOVE)")
    with pytest.raises(OSError) as e:
        os.mkdir(fs.mnt / "d")
    assert e.value.errno == errno.EIO
    assert "shut down after an I/O error" in out("info", fs.mnt, "--verbose")
    # the way back: unmount (the daemon reports the shutdown, exit 1), mount
    # the good table again, and the journal replays
    proc, fs.proc = fs.proc, None
    subprocess.run(["fusermount3", "-u", str(fs.mnt)], check=True)
    assert proc.wait(timeout=20) == 1
    fs.mount()
    assert (fs.mnt / "f").read_bytes() == b"before"
    os.mkdir(fs.mnt / "after")

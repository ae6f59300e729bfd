"""daxfs-ctl commands on a mounted daemon: argument checking and the ioctl channel's errors."""
import errno
import json
import os
import resource
import subprocess

import pytest

from conftest import build_sanitizers, ctl_fails, ctl_ok, run_ctl, sparse_file, tool
from faults import drop_cached_pages
from mount import daxfs  # noqa: F401  (the mounted-filesystem fixture)

COMMANDS = {
    "table": "MOUNTPOINT [--inactive] [--json]",
    "info": "MOUNTPOINT [--verbose] [--json]",
    "status": "MOUNTPOINT [--verbose] [--json]",
    "load": "MOUNTPOINT TABLE",
    "reload": "MOUNTPOINT TABLE [--nolockfs] [--force]",
    "suspend": "MOUNTPOINT [--nolockfs]",
    "resume": "MOUNTPOINT [--nolockfs] [--force]",
    "clear": "MOUNTPOINT",
    "badblocks": "MOUNTPOINT DEVICE [list | add SECTOR [COUNT] | clear SECTOR [COUNT]] [--json]",
    "trace": "MOUNTPOINT on [--file PATH] | off",
    "remove": "MOUNTPOINT [--deferred] [--force]",
    "workers": "MOUNTPOINT [--json]",
}


@pytest.mark.parametrize("name", COMMANDS)
def test_device_command_without_mountpoint_is_a_usage_error(name):
    err = ctl_fails(name, status=2)
    assert "missing MOUNTPOINT" in err
    assert f"usage: daxfs-ctl {name} {COMMANDS[name]}" in err


@pytest.mark.parametrize("name", COMMANDS)
def test_device_command_help_shows_usage_and_exit_status(name):
    out = ctl_ok(name, "--help")
    assert out.startswith(f"usage: daxfs-ctl {name} {COMMANDS[name]}\n")
    assert "Exit status" in out


@pytest.mark.parametrize("args", [
    ["table", "/"], ["info", "/"], ["status", "/"], ["suspend", "/"], ["resume", "/"],
    ["clear", "/"], ["trace", "/", "on"], ["badblocks", "/", "/dev/null"], ["remove", "/"],
    ["workers", "/"],
], ids=lambda a: a[0])
def test_device_command_on_a_directory_outside_daxfs_is_refused(args, tmp_path):
    args = [a if a != "/" else tmp_path for a in args]
    assert f"{tmp_path}: not the root of a daxfs-fuse mount" in ctl_fails(*args)


def test_load_reads_the_table_before_touching_the_mount(tmp_path):
    assert "absent.table: No such file or directory" in \
        ctl_fails("load", tmp_path, tmp_path / "absent.table")


def bounded_ctl(*args):
    """daxfs-ctl ARGS with its memory capped at 256 MiB and 20 s to run, so that
    a command reading without bound fails the test, not the machine (under
    AddressSanitizer, whose shadow needs the address space, by its RSS limit)."""
    env = dict(os.environ)
    if "address" in build_sanitizers().split(","):
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "hard_rss_limit_mb=256"]))
        cap = None
    else:
        def cap():
            resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
    return subprocess.run([tool("daxfs-ctl"), *map(str, args)], capture_output=True, text=True,
                          timeout=20, preexec_fn=cap, env=env)


@pytest.mark.parametrize("name", ["load", "reload"])
@pytest.mark.parametrize("what", ["device", "fifo", "oversized"])
def test_load_refuses_what_is_no_table_file_as_check_does(tmp_path, name, what):
    if what == "device":
        table = "/dev/zero"
    elif what == "fifo":            # refused, not waited on for a writer
        table = tmp_path / "fifo.table"
        os.mkfifo(table)
    else:
        table = sparse_file(tmp_path / "huge.table", (16 << 20) + 1)
    message = f"{table}: not a table file (a regular file of at most 16777216 bytes)\n"
    r = bounded_ctl("check", table)
    assert (r.returncode, r.stderr) == (1, f"daxfs-ctl check: {message}")
    r = bounded_ctl(name, tmp_path, table)
    assert r.returncode == 1
    assert r.stderr == f"daxfs-ctl {name}: {message}", "refused before the mount is asked"


def test_device_command_on_a_missing_mountpoint_is_reported(tmp_path):
    assert "nowhere: No such file or directory" in ctl_fails("info", tmp_path / "nowhere")


@pytest.mark.parametrize("args,message", [
    (["table", "m", "--nolockfs"], "unknown option '--nolockfs'"),
    (["suspend", "m", "--json"], "unknown option '--json'"),
    (["suspend", "m", "--force"], "unknown option '--force'"),
    (["clear", "m", "extra"], "too many arguments"),
    (["load", "m"], "missing TABLE"),
    (["reload", "m", "t", "u"], "too many arguments"),
    (["badblocks", "m"], "missing DEVICE"),
    (["badblocks", "m", "d", "frob"], "unknown operation 'frob'"),
    (["badblocks", "m", "d", "add"], "add needs a SECTOR"),
    (["badblocks", "m", "d", "add", "x"], "SECTOR 'x'"),
    (["badblocks", "m", "d", "clear", "8", "0"], "COUNT '0'"),
    (["badblocks", "m", "d", "list", "8"], "too many arguments"),
    (["trace", "m"], "missing on|off"),
    (["trace", "m", "maybe"], "'maybe' is neither on nor off"),
    (["remove", "m", "--json"], "unknown option '--json'"),
    (["remove", "m", "--verbose"], "unknown option '--verbose'"),
    (["workers", "m", "--verbose"], "unknown option '--verbose'"),
    (["workers", "m", "extra"], "too many arguments"),
    (["table", "m", "--deferred"], "unknown option '--deferred'"),
    (["info", "m", "--force"], "unknown option '--force'"),
    (["trace", "m", "off", "--file", "f"], "--file goes with on"),
    (["trace", "m", "on", "--file"], "--file needs a file name"),
    (["trace", "m", "on", "--file", ""], "--file needs a file name"),
], ids=["table-nolockfs", "suspend-json", "suspend-force", "clear-extra", "load-no-table", "reload-extra",
        "badblocks-no-device", "badblocks-bad-op", "badblocks-add-no-sector",
        "badblocks-bad-sector", "badblocks-zero-count", "badblocks-list-extra",
        "trace-no-state", "trace-bad-state", "remove-json", "remove-verbose", "workers-verbose",
        "workers-extra", "table-deferred",
        "info-force",
        "trace-off-file", "trace-file-no-name", "trace-file-empty-name"])
def test_device_command_bad_arguments_exit_2(args, message):
    err = ctl_fails(*args, status=2)
    assert message in err


# ---- against a mounted daemon ---------------------------------------------

MIB = 1 << 20
SECTORS = 64 * MIB // 512          # the fixture's one 64 MiB pmem file


def write_synced(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def ok(*args):
    r = run_ctl(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_table_prints_the_live_table(daxfs):
    assert ok("table", daxfs.mnt) == f"0 {SECTORS} linear {daxfs.files[0]} 0\n"


def test_table_json_lists_the_targets(daxfs):
    t = json.loads(ok("table", daxfs.mnt, "--json"))
    assert [(x["start"], x["len"], x["type"]) for x in t["targets"]] == [(0, SECTORS, "linear")]


def test_info_shows_an_active_device_with_a_live_table(daxfs):
    info = json.loads(ok("info", daxfs.mnt, "--json"))
    assert info["state"] == "ACTIVE" and info["tables"] == ["LIVE"]
    assert info["size"] == SECTORS


def test_status_verbose_names_every_backing_device(daxfs):
    assert f"device {daxfs.files[0]}:" in ok("status", daxfs.mnt, "--verbose")


def test_suspend_and_resume_change_the_state(daxfs):
    ok("suspend", daxfs.mnt, "--nolockfs")
    assert json.loads(ok("info", daxfs.mnt, "--json"))["state"] == "SUSPENDED"
    ok("resume", daxfs.mnt, "--nolockfs")
    assert json.loads(ok("info", daxfs.mnt, "--json"))["state"] == "ACTIVE"


def test_load_stages_and_clear_drops_the_inactive_table(daxfs, tmp_path):
    staged = tmp_path / "staged.table"
    staged.write_text(f"0 {SECTORS} error\n")
    ok("load", daxfs.mnt, staged)
    assert ok("table", daxfs.mnt, "--inactive") == f"0 {SECTORS} error\n"
    assert json.loads(ok("info", daxfs.mnt, "--json"))["tables"] == ["LIVE", "INACTIVE"]
    ok("clear", daxfs.mnt)
    assert json.loads(ok("info", daxfs.mnt, "--json"))["tables"] == ["LIVE"]


def test_load_of_a_table_longer_than_one_request_arrives_whole(daxfs, tmp_path):
    lines = [f"{i * 8} 8 linear {daxfs.files[0]} {i * 8}" for i in range(SECTORS // 8 // 16)]
    staged = tmp_path / "long.table"
    staged.write_text("\n".join(lines) + "\n")
    assert staged.stat().st_size > 16384
    ok("load", daxfs.mnt, staged)
    info = json.loads(ok("info", daxfs.mnt, "--json"))
    assert info["tables"] == ["LIVE", "INACTIVE"]
    ok("clear", daxfs.mnt)


def test_table_longer_than_one_answer_arrives_whole(daxfs, tmp_path):
    """The answer leaves the daemon in pieces of at most 16 KiB: a staged table
    of some 30 KiB prints as it was loaded, as text and as JSON."""
    lines = [f"{i * 8} 8 linear {daxfs.files[0]} {i * 8}" for i in range(SECTORS // 8 // 16)]
    staged = tmp_path / "long.table"
    staged.write_text("\n".join(lines) + "\n")
    assert staged.stat().st_size > 2 * 16384
    ok("load", daxfs.mnt, staged)
    assert ok("table", daxfs.mnt, "--inactive") == staged.read_text()
    t = json.loads(ok("table", daxfs.mnt, "--inactive", "--json"))
    assert t["text"] == staged.read_text() and len(t["targets"]) == len(lines)
    assert t["targets"][-1] == {"start": (len(lines) - 1) * 8, "len": 8, "type": "linear",
                                "args": f"{daxfs.files[0]} {(len(lines) - 1) * 8}"}
    ok("clear", daxfs.mnt)


def test_load_error_names_the_table_file_and_line(daxfs, tmp_path):
    bad = tmp_path / "bad.table"
    bad.write_text(f"0 8 linear {daxfs.files[0]} 0\n8 8 linear {daxfs.files[0]}\n")
    assert f"{bad}:2: linear: Invalid argument count" in ctl_fails("load", daxfs.mnt, bad)


def test_reload_to_error_table_fails_reads_and_reload_back_restores_them(daxfs, tmp_path):
    data = os.urandom(20000)
    f = daxfs.mnt / "data"
    write_synced(f, data)
    good = tmp_path / "good.table"
    good.write_text(ok("table", daxfs.mnt))
    bad = tmp_path / "bad.table"
    bad.write_text(f"0 {SECTORS} error\n")
    daxfs.allow_stderr(r"I/O error|Input/output error|EIO|error target")
    ok("reload", daxfs.mnt, bad)
    with pytest.raises(OSError) as e:
        f.read_bytes()
    assert e.value.errno == errno.EIO
    ok("reload", daxfs.mnt, good)
    assert f.read_bytes() == data


def test_reload_with_another_layout_is_refused_and_the_old_table_stays(daxfs, tmp_path):
    other = tmp_path / "other.table"
    other.write_text(f"0 {SECTORS // 2} linear {daxfs.files[0]} 0\n"
                     f"{SECTORS // 2} {SECTORS // 2} linear {daxfs.files[0]} {SECTORS // 2}\n")
    live = ok("table", daxfs.mnt)
    r = run_ctl("reload", daxfs.mnt, other)
    assert r.returncode == 1
    assert (f"{daxfs.files[0]} holds member 0 of filesystem " in r.stderr and
            "made 67108864 bytes long; the table maps only 33554432 bytes of it: was the table "
            "changed?" in r.stderr), r.stderr
    assert ok("table", daxfs.mnt) == live


def test_load_of_error_beside_a_device_on_a_dax_device_is_refused(daxfs, tmp_path):
    mixed = tmp_path / "mixed.table"
    mixed.write_text(f"0 {SECTORS} error {daxfs.files[0]} 0\n")
    assert "can't change device type from dax to bio" in ctl_fails("load", daxfs.mnt, mixed)


def test_badblocks_add_list_and_clear(daxfs):
    dev = daxfs.files[0]
    ok("badblocks", daxfs.mnt, dev, "add", 4096, 16)
    assert json.loads(ok("badblocks", daxfs.mnt, dev, "list", "--json")) == \
        [{"sector": 4096, "len": 16}]
    ok("badblocks", daxfs.mnt, dev, "clear", 4096, 16)
    assert json.loads(ok("badblocks", daxfs.mnt, dev, "list", "--json")) == []


def test_badblock_under_a_file_fails_its_read_with_eio(daxfs):
    f = daxfs.mnt / "victim"
    write_synced(f, b"v" * 8192)
    m = json.loads(ok("map", f, "--json"))
    piece = m["extents"][0]["pieces"][0]
    sector = piece["device"]["offset"] // 512
    daxfs.allow_stderr(r"Memory page has hardware error|EHWPOISON|poison|I/O error")
    ok("badblocks", daxfs.mnt, piece["device"]["path"], "add", sector, 8)
    drop_cached_pages(f)
    with pytest.raises(OSError) as e:
        f.read_bytes()
    assert e.value.errno == errno.EIO
    ok("badblocks", daxfs.mnt, piece["device"]["path"], "clear", sector, 8)


def test_badblocks_of_a_device_not_in_the_table_is_refused(daxfs, tmp_path):
    assert "elsewhere" in ctl_fails("badblocks", daxfs.mnt, tmp_path / "elsewhere", "list")


def test_trace_turns_on_and_off(daxfs):
    daxfs.allow_stderr(r".")        # the trace lines themselves
    ok("trace", daxfs.mnt, "on")
    (daxfs.mnt / "traced").write_bytes(b"t" * 4096)
    ok("trace", daxfs.mnt, "off")


def test_device_command_on_a_file_instead_of_the_root_is_refused(daxfs):
    sub = daxfs.mnt / "sub"
    sub.mkdir()
    r = run_ctl("info", sub)
    assert r.returncode == 1
    assert "not the root of a daxfs-fuse mount" in r.stderr

"""daxfs-ctl commands on a mounted daemon: argument checking and the ioctl channel's errors."""
import subprocess

import pytest

from conftest import tool

COMMANDS = {
    "table": "MOUNTPOINT [--inactive] [--json]",
    "info": "MOUNTPOINT [--json]",
    "status": "MOUNTPOINT [--json]",
    "load": "MOUNTPOINT TABLE",
    "reload": "MOUNTPOINT TABLE [--nolockfs]",
    "suspend": "MOUNTPOINT [--nolockfs]",
    "resume": "MOUNTPOINT [--nolockfs]",
    "clear": "MOUNTPOINT",
    "badblocks": "MOUNTPOINT DEVICE [list | add SECTOR [COUNT] | clear SECTOR [COUNT]] [--json]",
    "trace": "MOUNTPOINT on|off",
}


def run_ctl(*args):
    return subprocess.run([tool("daxfs-ctl"), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("name", COMMANDS)
def test_device_command_without_mountpoint_is_a_usage_error(name):
    r = run_ctl(name)
    assert r.returncode == 2
    assert "missing MOUNTPOINT" in r.stderr
    assert f"usage: daxfs-ctl {name} {COMMANDS[name]}" in r.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_device_command_help_shows_usage_and_exit_status(name):
    r = run_ctl(name, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith(f"usage: daxfs-ctl {name} {COMMANDS[name]}\n")
    assert "Exit status" in r.stdout


@pytest.mark.parametrize("args", [
    ["table", "/"], ["info", "/"], ["status", "/"], ["suspend", "/"], ["resume", "/"],
    ["clear", "/"], ["trace", "/", "on"], ["badblocks", "/", "/dev/null"],
], ids=lambda a: a[0])
def test_device_command_on_a_directory_outside_daxfs_is_refused(args, tmp_path):
    args = [a if a != "/" else tmp_path for a in args]
    r = run_ctl(*args)
    assert r.returncode == 1
    assert f"{tmp_path}: not the root of a daxfs-fuse mount" in r.stderr


def test_load_reads_the_table_before_touching_the_mount(tmp_path):
    r = run_ctl("load", tmp_path, tmp_path / "absent.table")
    assert r.returncode == 1
    assert "absent.table: No such file or directory" in r.stderr


def test_device_command_on_a_missing_mountpoint_is_reported(tmp_path):
    r = run_ctl("info", tmp_path / "nowhere")
    assert r.returncode == 1
    assert "nowhere: No such file or directory" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["table", "m", "--nolockfs"], "unknown option '--nolockfs'"),
    (["suspend", "m", "--json"], "unknown option '--json'"),
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
], ids=["table-nolockfs", "suspend-json", "clear-extra", "load-no-table", "reload-extra",
        "badblocks-no-device", "badblocks-bad-op", "badblocks-add-no-sector",
        "badblocks-bad-sector", "badblocks-zero-count", "badblocks-list-extra",
        "trace-no-state", "trace-bad-state"])
def test_device_command_bad_arguments_exit_2(args, message):
    r = run_ctl(*args)
    assert r.returncode == 2
    assert message in r.stderr

"""The whole device switched to an error table and back (fstests' dmerror on a DAX device)."""
import errno
import os
import subprocess

import pytest

from faults import (assert_sigbus, ctl, errno_of, live_table, mmap_touch, status, switch_table,
                    target_errors, write_synced)
from faults import fault_fs  # noqa: F401  (fixture fs)
from mount import MIB, PAGE, daxfs_factory  # noqa: F401  (fixture)

SECTORS = 64 * MIB // 512


def error_table():
    # A bare error target has no device: the one error table the kernel's
    # type rule lets a DAX device load (kernel-chain.md Part B 1.7).
    return f"0 {SECTORS} error\n"


def test_read_after_switch_to_error_table_is_eio(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(3 * PAGE))
    working = live_table(fs)
    switch_table(fs, error_table())
    with open(p, "rb", buffering=0) as f:
        assert errno_of(f.read, PAGE) == errno.EIO
    assert target_errors(fs) > 0
    switch_table(fs, working)


def test_write_after_switch_to_error_table_is_eio(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(PAGE))
    working = live_table(fs)
    switch_table(fs, error_table())
    fd = os.open(p, os.O_WRONLY)
    try:
        assert errno_of(os.pwrite, fd, b"x" * 100, 0) == errno.EIO
    finally:
        os.close(fd)
    assert target_errors(fs) > 0
    switch_table(fs, working)


def test_mmap_fault_on_error_table_raises_sigbus(fs):
    p = fs.mnt / "f"
    write_synced(p, os.urandom(4 * PAGE))
    p.read_bytes()          # cached before the switch: the swap must drop it
    working = live_table(fs)
    switch_table(fs, error_table())
    assert_sigbus(mmap_touch(p, 2))
    assert status(fs)["targets"][0]["type"] == "error"
    switch_table(fs, working)


def test_working_table_restores_every_byte_written_before(fs):
    files = {fs.mnt / f"f{i}": os.urandom(PAGE * (i + 1) + 17) for i in range(4)}
    for p, data in files.items():
        write_synced(p, data)
    working = live_table(fs)
    switch_table(fs, error_table())
    for p in files:
        assert errno_of(p.read_bytes) == errno.EIO
    switch_table(fs, working)
    for p, data in files.items():
        assert p.read_bytes() == data
    assert live_table(fs) == working
    fs.unmount()            # fsck -n at teardown finds it clean


def test_metadata_write_failure_shuts_the_filesystem_down(fs):
    keep = fs.mnt / "keep"
    write_synced(keep, b"intact data" * 100)
    working = live_table(fs)
    switch_table(fs, error_table())
    # A namespace change needs a commit; it fails on the error target and
    # the filesystem stops accepting changes.
    fd = os.open(fs.mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir(fs.mnt / "d")
        os.fsync(fd)
    except OSError as e:
        assert e.errno == errno.EIO
    finally:
        os.close(fd)
    assert status(fs)["filesystem"]["shutdown"] is True
    switch_table(fs, working)
    # Still shut down: changes refused, intact data readable.
    assert errno_of(os.mkdir, fs.mnt / "e") == errno.EIO
    assert errno_of((fs.mnt / "new").write_bytes, b"x") == errno.EIO
    assert keep.read_bytes() == b"intact data" * 100
    # The daemon reports the shutdown at unmount (exit 1); recovery at the
    # next mount leaves the filesystem consistent.
    assert "shut down after an I/O error" in ctl("info", fs.mnt, "--verbose").stdout
    proc, fs.proc = fs.proc, None
    subprocess.run(["fusermount3", "-u", str(fs.mnt)], check=True)
    proc.wait(timeout=20)
    assert proc.returncode == 1
    fs.fsck()
    fs.mount()
    assert keep.read_bytes() == b"intact data" * 100
    os.mkdir(fs.mnt / "after")
    fs.unmount()

"""libdaxfs: ranges it cannot map are refused with the documented errno and a message."""
import errno
import fcntl
import struct

import pytest

from conftest import sparse_file
from client_util import create, dmaps  # noqa: F401  (fixture)
from faults import (allow_faults, ctl, live_table, md_offset, switch_table, write_synced,
                    write_table)
from mount import MIB, PAGE, daxfs  # noqa: F401  (fixture)

SIZE = 16 * PAGE
SECTORS = 64 * MIB // 512          # the fixture's one 64 MiB pmem file


def test_hole_without_alloc_is_enxio(daxfs, dmaps):
    path = daxfs.mnt / "f"
    sparse_file(path, SIZE)
    err, msg = dmaps(path).error(f"map 0 {SIZE} rw")
    assert err == -errno.ENXIO and "hole" in msg and "DAXFS_MAP_ALLOC" in msg


def test_range_past_eof_without_alloc_is_enxio(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, bytes(PAGE))
    err, msg = dmaps(path).error(f"map 0 {2 * PAGE} r")
    assert err == -errno.ENXIO and "past the end" in msg


def test_unaligned_offset_is_einval(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, bytes(SIZE))
    err, msg = dmaps(path).error(f"map 100 {PAGE} r")
    assert err == -errno.EINVAL and "page-aligned" in msg


def test_file_outside_daxfs_is_enotty(tmp_path, dmaps):
    path = tmp_path / "plain"
    create(path, bytes(SIZE))
    err, msg = dmaps(path).error(f"map 0 {SIZE} r")
    assert err == -errno.ENOTTY and "not a file on a daxfs-fuse mount" in msg


def test_mount_without_dax_is_eopnotsupp(daxfs, dmaps):
    daxfs.remount("dax=never")
    path = daxfs.mnt / "f"
    create(path, bytes(SIZE))
    err, msg = dmaps(path).error(f"map 0 {SIZE} r")
    assert err == -errno.EOPNOTSUPP and "does not use DAX" in msg


def test_range_on_error_target_is_eio(daxfs, dmaps, tmp_path):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    allow_faults(daxfs)
    good = live_table(daxfs)
    switch_table(daxfs, f"0 {SECTORS} error\n")
    try:
        err, msg = dmaps(path).error(f"map 0 {SIZE} r")
    finally:
        switch_table(daxfs, good, name="good.table")
    assert err == -errno.EIO and "error" in msg


def test_range_with_poisoned_page_is_eio(daxfs, dmaps):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    allow_faults(daxfs)
    dev, dev_off, _ = daxfs.resolve(md_offset(daxfs, path, 3 * PAGE))
    ctl("badblocks", daxfs.mnt, dev, "add", dev_off // 512, 8)
    err, msg = dmaps(path).error(f"map 0 {SIZE} r")
    assert err == -errno.EIO and "poisoned" in msg and str(3 * PAGE) in msg
    ctl("badblocks", daxfs.mnt, dev, "clear", dev_off // 512, 8)


def test_failed_map_leaves_no_lease(daxfs, dmaps):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    with open(path, "ab") as f:
        f.truncate(2 * SIZE)                 # a hole after the data
    d = dmaps(path)
    assert d.error(f"map 0 {2 * SIZE} rw")[0] == -errno.ENXIO
    # No mapping exists, so nothing may hold back a table reload.
    good = live_table(daxfs)
    switch_table(daxfs, good, name="same.table")


def test_table_reload_while_mapped_is_refused_and_allowed_after_unmap(daxfs, dmaps):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    d = dmaps(path)
    assert d.map(0, SIZE)[0]
    good = live_table(daxfs)
    ctl("suspend", daxfs.mnt, "--nolockfs")
    ctl("load", daxfs.mnt, daxfs.table or write_table(daxfs, "same.table", good))
    r = ctl("resume", daxfs.mnt, "--nolockfs", check=False)
    assert r.returncode == 1 and "mapped directly by an application" in r.stderr
    assert live_table(daxfs) == good
    ctl("resume", daxfs.mnt, "--nolockfs")    # no table staged: un-suspends
    d.ok("unmap")
    switch_table(daxfs, good, name="again.table")


@pytest.mark.parametrize("nr", [0x47, 0x7F], ids=["first-unused", "last"])
def test_unknown_direct_access_number_is_enotty(daxfs, nr):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    # _IOW(0xDA, nr, 24 bytes): a restricted ioctl FUSE forwards.
    cmd = (1 << 30) | (24 << 16) | (0xDA << 8) | nr
    with open(path, "rb") as f:
        with pytest.raises(OSError) as e:
            fcntl.ioctl(f.fileno(), cmd, bytes(24))
    assert e.value.errno == errno.ENOTTY


def test_extents_without_a_lease_is_refused(daxfs):
    path = daxfs.mnt / "f"
    write_synced(path, bytes(SIZE))
    # DAXFS_IOC_EXTENTS: _IOWR(0xDA, 0x44, struct daxfs_ioc_extents)
    size = 40 + 256 + 96 * 32
    cmd = (3 << 30) | (size << 16) | (0xDA << 8) | 0x44
    out = bytearray(struct.pack("<IIQQ", 1, 0, 0, SIZE) + bytes(size - 24))
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), cmd, out, True)
    npieces, error = struct.unpack_from("<Ii", out, 32)
    assert npieces == 0 and error == -errno.ENOLCK
    assert b"no lease" in out[40:296]

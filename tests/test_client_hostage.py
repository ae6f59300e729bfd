"""No user holds root's device control hostage: leases are limited per user, and a forced reload revokes them."""
import errno
import os

import pytest

from client_util import as_user, dmaps  # noqa: F401  (fixture)
from faults import ctl, ctl_json, live_table, write_table
from mount import OPEN_MEMBER, PAGE
from test_client_lease import blocks, fill_until_enospc
from users import shared_dir, shared_fs, users  # noqa: F401  (fixtures)

SIZE = 16 * PAGE
REVOKED = r"forced table swap: revoked"


def user_file(fs, user, name, data):
    """A file of user's own, readable by all."""
    path = fs.mnt / name
    with open(path, "wb") as f:
        f.write(data)
        os.fsync(f.fileno())
    os.chown(path, user.uid, user.gid)
    return path


@pytest.fixture
def fs(shared_fs):
    os.chmod(shared_fs.files[0], 0o666)
    shared_fs.allow_stderr(OPEN_MEMBER)
    shared_fs.mount("allow_other", "max_leases=2")
    shared_fs.allow_stderr(REVOKED)
    return shared_fs


# ---- the per-user limit -----------------------------------------------------

def test_leases_past_the_per_user_limit_are_edquot(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", bytes(SIZE))
    a = as_user(dmaps, users.outsider, fs, path)
    a.ok("ioc lease r")
    a.ok("ioc lease r")
    assert a.error("ioc lease r")[0] == -errno.EDQUOT


def test_the_limit_counts_every_process_of_the_user(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", bytes(SIZE))
    as_user(dmaps, users.outsider, fs, path).ok("ioc lease r")
    as_user(dmaps, users.outsider, fs, path).ok("ioc lease r")
    err, msg = as_user(dmaps, users.outsider, fs, path).error(f"map 0 {SIZE} r")
    assert err == -errno.EDQUOT and "max_leases" in msg


def test_the_limit_is_per_user_and_root_is_not_limited(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", bytes(SIZE))
    a = as_user(dmaps, users.outsider, fs, path)
    a.ok("ioc lease r")
    a.ok("ioc lease r")
    b = as_user(dmaps, users.member, fs, path)
    b.ok("ioc lease r")
    b.ok("ioc lease r")
    root = dmaps(path, mode="r")
    for _ in range(3):
        root.ok("ioc lease r")


def test_a_put_lease_makes_room_again(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", bytes(SIZE))
    a = as_user(dmaps, users.outsider, fs, path)
    a.ok("ioc lease r")
    a.ok("ioc lease r")
    a.ok("ioc put r")
    a.ok("ioc lease r")


def test_max_leases_must_be_a_number(shared_fs):
    err = shared_fs.mount_fails("max_leases=many")
    assert "invalid option max_leases=many: expected a number of leases" in err


# ---- reload --force ---------------------------------------------------------

def reload(fs, *flags):
    table = write_table(fs, "same.table", live_table(fs))
    return ctl("reload", fs.mnt, table, *flags, check=False)


def test_reload_while_a_user_maps_is_refused_without_force(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", b"\xaa" * SIZE)
    assert as_user(dmaps, users.outsider, fs, path).map(0, SIZE, prot="r")[0]
    r = reload(fs)
    assert r.returncode == 1 and "mapped directly by an application" in r.stderr \
        and "force" in r.stderr


def load_and_resume(fs, *flags):
    ctl("load", fs.mnt, write_table(fs, "same.table", live_table(fs)))
    return ctl("resume", fs.mnt, *flags, check=False)


@pytest.mark.parametrize("swap", [reload, load_and_resume], ids=["reload", "resume"])
def test_forced_swap_proceeds_while_a_user_maps(fs, users, dmaps, swap):
    path = user_file(fs, users.outsider, "f", b"\xaa" * SIZE)
    assert as_user(dmaps, users.outsider, fs, path).map(0, SIZE, prot="r")[0]
    r = swap(fs, "--force")
    assert r.returncode == 0, r.stderr
    # the staged table went live: nothing is left in the INACTIVE slot (swaps
    # are no dm events, so event_nr cannot tell)
    assert ctl_json("info", fs.mnt)["tables"] == ["LIVE"]
    assert "revoked 1 direct-access lease holders" in fs.stderr()


@pytest.mark.parametrize("request_", ["persist 0 4096", f"map 0 {SIZE} r"],
                         ids=["persist", "map"])
def test_holder_is_told_of_the_revocation_by_its_next_call(fs, users, dmaps, request_):
    path = user_file(fs, users.outsider, "f", b"\xaa" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path)
    assert d.map(0, SIZE, prot="r")[0]
    assert reload(fs, "--force").returncode == 0
    err, msg = d.error(request_)
    assert err == -errno.ESTALE
    assert "swapped by force (daxfs-ctl reload --force)" in msg and "daxfs_unmap" in msg


def test_after_unmapping_a_revoked_mapping_the_holder_maps_again(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", b"\xaa" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path)
    assert d.map(0, SIZE, prot="r")[0]
    assert reload(fs, "--force").returncode == 0
    d.ok("unmap")
    assert d.map(0, SIZE, prot="r") == (True, "")
    assert d.read(0, SIZE) == b"\xaa" * SIZE


def test_blocks_under_a_revoked_mapping_go_to_no_other_file_until_it_is_unmapped(fs, users,
                                                                               dmaps):
    a = user_file(fs, users.outsider, "a", b"\xaa" * SIZE)
    old = blocks(fs, a)
    d = as_user(dmaps, users.outsider, fs, a)
    assert d.map(0, SIZE, prot="r")[0]
    assert reload(fs, "--force").returncode == 0
    os.truncate(a, 0)
    fill_until_enospc(fs.mnt / "b", 0xBB)
    assert not blocks(fs, fs.mnt / "b") & old
    assert d.read(0, SIZE) == b"\xaa" * SIZE      # its own bytes, no other file's
    d.ok("unmap")
    fill_until_enospc(fs.mnt / "c", 0xCC)
    assert blocks(fs, fs.mnt / "c") & old


def test_suspend_proceeds_while_a_user_maps_and_the_mapping_stays_valid(fs, users, dmaps):
    path = user_file(fs, users.outsider, "f", b"\xaa" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path)
    assert d.map(0, SIZE, prot="r")[0]
    ctl("suspend", fs.mnt)
    try:
        assert d.read(0, PAGE) == b"\xaa" * PAGE
        d.persist(0, PAGE)
    finally:
        ctl("resume", fs.mnt)

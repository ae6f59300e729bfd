"""Direct access as another user: every per-file request honours the open file's mode and the caller's permission."""
import errno
import hashlib
import os

import pytest

from client_util import as_user, dmap_path, dmaps, pattern, writes_own_file  # noqa: F401  (fixture)
from mount import MIB, OPEN_MEMBER, PAGE, Daxfs, fallocate
from users import shared_dir, shared_fs, users  # noqa: F401  (fixtures)

SIZE = 16 * PAGE


@pytest.fixture
def fs(shared_fs):
    """Mounted for every user, its member readable by all: the default mode,
    in which a mapping process opens the member itself."""
    os.chmod(shared_fs.files[0], 0o644)
    shared_fs.allow_stderr(OPEN_MEMBER)
    shared_fs.mount("allow_other")
    return shared_fs


def root_file(fs, name, mode, data=b"", prealloc=0):
    """A file of root's with data (and prealloc bytes of unwritten extents after it)."""
    path = fs.mnt / name
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.write(fd, data)
        if prealloc:
            fallocate(fd, 0, len(data), prealloc)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)
    return path


def state(fs, path):
    """What a refused request must leave as it was: size, mode, extents, bytes."""
    st = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return st.st_size, st.st_mode, fs.iomap(path), digest, os.statvfs(fs.mnt).f_bfree


# ---- refusals ---------------------------------------------------------------

@pytest.mark.parametrize("off,length", [(0, MIB), (2**63 - 2 * PAGE, PAGE)],
                         ids=["allocate", "grow-to-2^63"])
def test_alloc_through_a_read_only_descriptor_is_ebadf(fs, users, dmaps, off, length):
    path = root_file(fs, "f", 0o644, b"a" * SIZE)
    before = state(fs, path)
    d = as_user(dmaps, users.outsider, fs, path, "r")
    d.ok("ioc lease r")
    err, msg = d.error(f"ioc alloc {off} {length}")
    assert err == -errno.EBADF, msg
    assert state(fs, path) == before


def test_write_lease_through_a_read_only_descriptor_is_ebadf(fs, users, dmaps):
    path = root_file(fs, "f", 0o644, b"a" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path, "r")
    assert d.error("ioc lease w")[0] == -errno.EBADF


def test_unwritten_conversion_through_a_read_only_descriptor_is_ebadf(fs, users, dmaps):
    path = root_file(fs, "f", 0o644, prealloc=SIZE)
    before = state(fs, path)
    assert {kind for _, _, kind, _ in before[2]} == {"unwritten"}
    d = as_user(dmaps, users.outsider, fs, path, "r")
    d.ok("ioc lease r")
    assert d.error(f"ioc extents 0 {SIZE} w")[0] == -errno.EBADF
    assert state(fs, path) == before


def test_unwritten_conversion_under_a_read_lease_is_eperm(fs, users, dmaps):
    path = root_file(fs, "f", 0o666, prealloc=SIZE)
    before = state(fs, path)
    d = as_user(dmaps, users.outsider, fs, path, "rw")
    d.ok("ioc lease r")
    err, msg = d.error(f"ioc extents 0 {SIZE} w")
    assert err == -errno.EPERM and "needs a write lease" in msg
    assert d.error(f"ioc alloc 0 {SIZE}")[0] == -errno.EPERM
    assert state(fs, path) == before


def test_write_permission_is_checked_at_each_request(fs, users, dmaps):
    path = root_file(fs, "f", 0o666, b"a" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path, "rw")
    d.ok("ioc lease w")
    os.chmod(path, 0o644)
    before = state(fs, path)
    assert d.error(f"ioc alloc 0 {MIB}")[0] == -errno.EACCES
    assert state(fs, path) == before


@pytest.mark.parametrize("request_", ["ioc lease r", "ioc lease w", f"ioc extents 0 {SIZE} r",
                                      "ioc device 0", "ioc grant 0 r", f"ioc alloc 0 {MIB}"],
                         ids=["read-lease", "write-lease", "extent-map", "device-path", "grant",
                              "alloc"])
def test_descriptor_passed_to_a_user_who_may_not_read_the_file_is_eacces(fs, users, dmaps,
                                                                        request_):
    """root opens its 0600 file and hands the descriptor over: the opener's
    rights do not travel with it."""
    path = root_file(fs, "secret", 0o600, b"s" * SIZE)
    before = state(fs, path)
    fd = os.open(path, os.O_RDWR)
    try:
        d = dmaps(f"fd:{fd}", user=users.outsider, prog=fs.tmp / "dmap", pass_fds=(fd,))
        assert d.error(request_)[0] == -errno.EACCES
    finally:
        os.close(fd)
    assert state(fs, path) == before


def test_write_only_descriptor_gets_no_lease_map_or_device(fs, users, dmaps):
    path = root_file(fs, "f", 0o622, b"a" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path, "w")
    for request_ in ("ioc lease r", "ioc lease w", f"ioc extents 0 {SIZE} r", "ioc device 0"):
        assert d.error(request_)[0] == -errno.EBADF, request_


def test_extent_map_and_device_need_a_lease(fs, users, dmaps):
    path = root_file(fs, "f", 0o644, b"a" * SIZE)
    d = as_user(dmaps, users.outsider, fs, path, "r")
    err, msg = d.error(f"ioc extents 0 {SIZE} r")
    assert err == -errno.ENOLCK and "no lease" in msg
    assert d.error("ioc device 0")[0] == -errno.ENOLCK


GETXATTR = """
    import errno, os, sys
    try:
        os.getxattr(sys.argv[1], sys.argv[2])
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""

SETXATTR = """
    import errno, os, sys
    try:
        os.setxattr(sys.argv[1], sys.argv[2], b"x")
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""


def test_iomap_xattr_of_a_file_the_user_may_not_read_is_eacces(fs, users):
    path = root_file(fs, "secret", 0o600, b"s" * SIZE)
    r = users.outsider.run(GETXATTR, path, "system.daxfs.iomap")
    assert r.stdout == "EACCES\n", r.stderr


def test_other_daxfs_attributes_are_eacces_too_and_never_settable(fs, users):
    secret = root_file(fs, "secret", 0o600, b"s" * SIZE)
    public = root_file(fs, "public", 0o666, b"p" * SIZE)
    assert users.outsider.run(GETXATTR, secret, "system.daxfs.other").stdout == "EACCES\n"
    assert users.outsider.run(GETXATTR, public, "system.daxfs.other").stdout == "ENODATA\n"
    for name in ("system.daxfs.iomap", "system.daxfs.other"):
        assert users.outsider.run(SETXATTR, public, name).stdout == "EPERM\n"


# ---- what a user may still do -----------------------------------------------

def test_iomap_xattr_of_a_file_the_user_may_read_is_given(fs, users):
    path = root_file(fs, "f", 0o644, b"a" * SIZE)
    r = users.outsider.run("""
        import os, sys
        print(os.getxattr(sys.argv[1], "system.daxfs.iomap").decode(), end="")
    """, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == os.getxattr(path, "system.daxfs.iomap").decode()


def test_user_maps_a_file_they_may_read_and_sees_its_bytes(fs, users, dmaps):
    data = pattern(0, SIZE, 5)
    path = root_file(fs, "f", 0o644, data)
    d = as_user(dmaps, users.outsider, fs, path, "r")
    assert d.map(0, SIZE, prot="r") == (True, "")
    assert d.read(0, SIZE) == data
    d.ok("unmap")


def test_user_maps_their_own_file_for_writing_and_allocates_it(fs, users, dmaps):
    # Writing through a mapping needs the member open for writing: in this
    # mode that is every user who may write one byte of every file.
    os.chmod(fs.files[0], 0o666)
    writes_own_file(fs, dmaps, users.outsider, SIZE, 9)


def test_alloc_by_a_user_clears_set_id_bits(fs, users, dmaps):
    path = root_file(fs, "setid", 0o6777)
    d = as_user(dmaps, users.outsider, fs, path, "rw")
    d.ok("ioc lease w")
    d.ok(f"ioc alloc 0 {PAGE}")
    st = os.stat(path)
    assert st.st_size == PAGE and st.st_mode & 0o7777 == 0o777


def test_alloc_by_root_without_cap_fsetid_clears_set_id_bits(fs, dmaps, tmp_path):
    """The capability decides, not the uid (the kernel's file_modified)."""
    path = root_file(fs, "setid", 0o6777)
    wrapper = tmp_path / "dmap-without-fsetid"
    wrapper.write_text("#!/bin/sh\nexec setpriv --inh-caps=-fsetid --bounding-set=-fsetid "
                       f"{dmap_path()} \"$@\"\n")
    wrapper.chmod(0o755)
    d = dmaps(path, mode="rw", prog=wrapper)
    d.ok("ioc lease w")
    d.ok(f"ioc alloc 0 {PAGE}")
    assert os.stat(path).st_mode & 0o7777 == 0o777


def test_alloc_by_root_keeps_set_id_bits(fs, dmaps):
    path = root_file(fs, "setid", 0o6777)
    d = dmaps(path)
    d.ok("ioc lease w")
    d.ok(f"ioc alloc 0 {PAGE}")
    assert os.stat(path).st_mode & 0o7777 == 0o6777


# ---- the daxfs-run table -------------------------------------------------

RUN_TABLE = """
import array, fcntl, mmap, os, socket, struct, sys
path = sys.argv[1]
RUN_OPEN = (3 << 30) | (404 << 16) | (0xDA << 8) | 0x47     # _IOWR, struct daxfs_ioc_run_open
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
arg = bytearray(404)
struct.pack_into("<II", arg, 0, 1, 1 | 2)                   # version, RUN_WRITE | RUN_TABLE
fcntl.ioctl(fd, RUN_OPEN, arg, True)
err, slot, nslots = struct.unpack_from("<iII", arg, 8)
assert err == 0, bytes(arg[148:]).split(b"\\0")[0]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(b"\\0" + bytes(arg[40:148]).split(b"\\0")[0])
s.send(bytes(arg[24:40]))
fds = array.array("i")
_, anc, _, _ = s.recvmsg(4096, socket.CMSG_LEN(2 * fds.itemsize))
for _, _, data in anc:
    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
table, pending = fds
def attempt(what, call):
    try:
        call()
        print(what, "yes")
    except OSError as e:
        print(what, e.errno)
attempt("map-pending", lambda: mmap.mmap(pending, nslots * 64, prot=mmap.PROT_READ | mmap.PROT_WRITE))
attempt("reopen-pending", lambda: os.open(f"/proc/self/fd/{pending}", os.O_RDWR))
attempt("reopen-table", lambda: os.open(f"/proc/self/fd/{table}", os.O_RDWR))
"""


@pytest.mark.parametrize("member_mode", [0o644, 0o666], ids=["member-read-only", "member-writable"])
def test_only_who_may_write_the_members_may_move_sizes_in_the_run_table(fs, users, member_mode):
    """The table of pending sizes holds a record for every file open under
    daxfs-run, other users' among them: a user who may not write the members
    (and so cannot store into any file's blocks) got it read-write with a
    write lease on a file of their own, and moved the size and times of
    root's file they could not write; a descriptor handed over read-only
    was opened read-write again through /proc/self/fd, as a memfd is mode
    0777. Now only who may write the members gets it writable, and the
    daemon's memfds are 0644."""
    os.chmod(fs.files[0], member_mode)
    pub = fs.mnt / "pub"
    pub.mkdir(mode=0o1777)
    pub.chmod(0o1777)
    r = users.outsider.run(RUN_TABLE, pub / "own")
    assert r.returncode == 0, r.stderr
    writable = "yes" if member_mode == 0o666 else str(errno.EACCES)
    assert r.stdout.split("\n")[:3] == [f"map-pending {writable}",
                                        f"reopen-pending {errno.EACCES}",
                                        f"reopen-table {errno.EACCES}"], r.stdout


def test_a_user_who_cannot_reach_the_members_gets_the_run_table_read_only(shared_dir, users):
    """Members mode 0666 in a directory only root may enter: their mode bits
    would let the user write them, but no open of theirs reaches them, so
    they may not store into any file's blocks, nor move sizes."""
    closed = shared_dir / "closed"
    closed.mkdir()
    closed.chmod(0o700)
    d = Daxfs(shared_dir, files=["closed/pmem0"])
    try:
        d.mkfs()
        os.chmod(d.files[0], 0o666)
        d.allow_stderr(OPEN_MEMBER)
        d.mount("allow_other")
        pub = d.mnt / "pub"
        pub.mkdir()
        pub.chmod(0o1777)
        r = users.outsider.run(RUN_TABLE, pub / "own")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[:3] == [f"map-pending {errno.EACCES}",
                                            f"reopen-pending {errno.EACCES}",
                                            f"reopen-table {errno.EACCES}"], r.stdout
    finally:
        d.cleanup()


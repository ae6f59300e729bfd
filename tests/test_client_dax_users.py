"""-o dax_users=GROUP: the daemon hands descriptors of its members to the callers it has checked, and to no one else."""
import errno
import os
import subprocess
import sys
import textwrap

import pytest

from client_util import as_user, dmaps, pattern, writes_own_file  # noqa: F401  (fixture)
from mount import PAGE
from users import shared_dir, shared_fs, users  # noqa: F401  (fixtures)

SIZE = 16 * PAGE

# Presents a token on the daemon's socket; prints the answer's error, the
# access mode of the descriptor that came with it (or none) and the message;
# "dropped" when the daemon closed the connection unanswered.
PRESENT = """
    import array, fcntl, os, socket, struct, sys
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("\\0" + sys.argv[1])
    fds = array.array("i")
    try:
        s.send(bytes.fromhex(sys.argv[2]))
        msg, anc, _, _ = s.recvmsg(260, socket.CMSG_SPACE(fds.itemsize))
    except (BrokenPipeError, ConnectionResetError):
        msg = b""
    if not msg:
        sys.exit(print("dropped"))
    for level, kind, data in anc:
        fds.frombytes(data[:fds.itemsize])
    err = struct.unpack_from("<i", msg)[0]
    text = msg[4:].split(b"\\0")[0].decode()
    mode = fcntl.fcntl(fds[0], fcntl.F_GETFL) & os.O_ACCMODE if fds else None
    print(err, {None: "none", os.O_RDONLY: "r", os.O_RDWR: "rw"}[mode], text)
"""


@pytest.fixture
def members_closed(shared_fs):
    """The member is root's alone: nobody else can open it."""
    os.chmod(shared_fs.files[0], 0o600)
    return shared_fs


@pytest.fixture
def fs(members_closed, users):
    members_closed.mount("allow_other", f"dax_users={users.group}")
    return members_closed


def root_file(fs, name, data, mode=0o644):
    path = fs.mnt / name
    with open(path, "wb") as f:
        f.write(data)
        os.fsync(f.fileno())
    os.chmod(path, mode)
    return path


OPEN = """
    import errno, os, sys
    try:
        os.open(sys.argv[1], os.O_RDONLY)
        print("opened")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""


def test_a_group_member_maps_a_file_without_access_to_the_member(fs, users, dmaps):
    assert users.member.run(OPEN, fs.files[0]).stdout == "EACCES\n"
    data = pattern(0, SIZE, 3)
    path = root_file(fs, "f", data)
    d = as_user(dmaps, users.member, fs, path)
    assert d.map(0, SIZE, prot="r") == (True, "")
    assert d.read(0, SIZE) == data


def test_a_group_member_writes_their_own_file_through_a_granted_mapping(fs, users, dmaps):
    writes_own_file(fs, dmaps, users.member, SIZE, 4)


def test_a_user_outside_the_group_is_refused(fs, users, dmaps):
    path = root_file(fs, "f", bytes(SIZE))
    err, msg = as_user(dmaps, users.outsider, fs, path).error(f"map 0 {SIZE} r")
    assert err == -errno.EPERM
    assert f"uid {users.outsider.uid} is not in group {users.gid}" in msg and "dax_users" in msg


def test_without_dax_users_a_user_who_cannot_open_the_member_is_refused(members_closed, users,
                                                                        dmaps):
    members_closed.mount("allow_other")
    path = root_file(members_closed, "f", bytes(SIZE))
    err, msg = as_user(dmaps, users.member, members_closed, path).error(f"map 0 {SIZE} r")
    assert err == -errno.EACCES
    assert members_closed.files[0] in msg and "-o dax_users=GROUP" in msg


def test_a_read_lease_gets_no_descriptor_for_writing(fs, users, dmaps):
    path = root_file(fs, "f", bytes(SIZE), 0o666)
    d = as_user(dmaps, users.member, fs, path, "rw")
    d.ok("ioc lease r")
    err, msg = d.error("ioc grant 0 w")
    assert err == -errno.EPERM and "needs a write lease" in msg


def granted(fs, users, dmaps):
    """A member's Dmap of a file of root's, holding a read lease and a grant
    token for it: (dmap, socket, token)."""
    path = root_file(fs, "f", bytes(SIZE))
    d = as_user(dmaps, users.member, fs, path)
    d.ok("ioc lease r")
    sock, token = d.ok("ioc grant 0 r").split()
    return d, sock, token


def test_a_read_lease_gets_a_read_only_descriptor(fs, users, dmaps):
    d, sock, token = granted(fs, users, dmaps)
    assert users.member.run(PRESENT, sock, token).stdout == "0 r \n"


def test_a_token_is_good_once(fs, users, dmaps):
    d, sock, token = granted(fs, users, dmaps)
    assert users.member.run(PRESENT, sock, token).stdout.startswith("0 r")
    again = users.member.run(PRESENT, sock, token).stdout
    assert again == f"{-errno.EPERM} none unknown or used token (ask again with " \
        "DAXFS_IOC_GRANT)\n"


def test_a_token_presented_by_another_user_is_refused(fs, users, dmaps):
    d, sock, token = granted(fs, users, dmaps)
    # root passes the group check, so the token's own binding decides
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(PRESENT), sock, token],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == f"{-errno.EPERM} none the token was issued to uid {users.member.uid}, " \
        "not uid 0\n", r.stderr


def test_a_user_outside_the_group_is_sent_away_from_the_socket(fs, users, dmaps):
    d, sock, token = granted(fs, users, dmaps)
    r = users.outsider.run(PRESENT, sock, token)
    assert r.stdout == "dropped\n", r.stderr
    # and the token is still good for its owner
    assert users.member.run(PRESENT, sock, token).stdout == "0 r \n"


def test_a_token_outlives_no_lease(fs, users, dmaps):
    d, sock, token = granted(fs, users, dmaps)
    d.ok("ioc put r")
    assert users.member.run(PRESENT, sock, token).stdout == \
        f"{-errno.ENOLCK} none the lease the token was issued under is gone\n"


def test_dax_users_must_name_a_group(shared_fs):
    err = shared_fs.mount_fails("dax_users=no-such-group-here")
    assert "invalid option dax_users=no-such-group-here: no such group" in err

"""Other users for the tests: made with useradd/groupadd, removed afterwards, and a mount they can reach.

The suite runs as root. A test that must act as an unprivileged user gets one
from the `users` fixture: two users made for the module (`member` is in the
module's group, `outsider` is not) and that group, all removed at teardown.
Processes run as a user through subprocess's user/group/extra_groups, with the
groups /etc/group gives the user.

pytest's tmp_path lies under a 0700 directory no other user can enter, so
`shared_fs` puts its filesystem under a fresh 0755 directory in /tmp.
"""
import grp
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from client_util import dmap_path
from mount import Daxfs

# useradd and groupadd lock /etc/passwd and /etc/group; another run doing the
# same gives up at once ("cannot lock"), so they are tried a few times.
ATTEMPTS = 20


def _admin(*cmd):
    for attempt in range(ATTEMPTS):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return
        if "lock" not in r.stderr or attempt == ATTEMPTS - 1:
            pytest.fail(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr}")
        time.sleep(0.1)


class User:
    """A user made for a test, and how to run a process as it."""

    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid

    def popen_args(self):
        """subprocess arguments that run the child as this user with its groups."""
        return {"user": self.uid, "group": self.gid, "cwd": "/",
                "extra_groups": os.getgrouplist(self.name, self.gid)}

    def run(self, code, *args, pass_fds=()):
        """Runs python code as this user; returns the CompletedProcess."""
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                              capture_output=True, text=True, timeout=60, pass_fds=pass_fds,
                              **self.popen_args())


class Users:
    def __init__(self, member, outsider, group, gid):
        self.member = member
        self.outsider = outsider
        self.group = group
        self.gid = gid


@pytest.fixture(scope="module")
def users():
    if os.geteuid() != 0:
        pytest.skip("making users needs root")
    base = f"dxt{os.getpid()}"
    group, made, group_made = f"{base}g", [], False
    try:
        _admin("groupadd", "--system", group)
        group_made = True
        for name, extra in ((f"{base}m", ["--groups", group]), (f"{base}o", [])):
            _admin("useradd", "--system", "--no-create-home", "--user-group",
                   "--shell", "/usr/sbin/nologin", *extra, name)
            made.append(name)
        yield Users(User(made[0]), User(made[1]), group, grp.getgrnam(group).gr_gid)
    finally:
        for name in made:
            _admin("userdel", name)
        if group_made:
            _admin("groupdel", group)


@pytest.fixture
def shared_dir():
    """A directory every user can enter, removed afterwards; it holds a copy of
    tests/client/dmap, since the build directory may not be theirs to enter."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="daxfs-users-"))
    try:
        path.chmod(0o755)
        shutil.copy2(dmap_path(), path / "dmap")
        (path / "dmap").chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def shared_fs(shared_dir):
    """A fresh filesystem in shared_dir, not mounted yet (mount it with
    allow_other and whatever else the test needs); always cleaned up."""
    d = Daxfs(shared_dir)
    try:
        d.mkfs()
        yield d
    finally:
        d.cleanup()

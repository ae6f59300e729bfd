"""Driving tests/client/dmap (libdaxfs) from the client tests."""
import os
import subprocess

from conftest import BUILD_DIR
import pytest


def dmap_path():
    path = BUILD_DIR / "tests" / "client" / "dmap"
    if not path.exists():
        pytest.fail(f"tests/client/dmap not built in {BUILD_DIR}")
    return str(path)


class Dmap:
    """One process holding (at most) one libdaxfs mapping of path.

    mode: how dmap opens path ("r", "w", "rw"; path "fd:N" takes an inherited
    descriptor from pass_fds instead); user: a users.User to run it as; prog:
    a dmap that user can run."""

    def __init__(self, path, mode=None, user=None, pass_fds=(), prog=None):
        args = [str(prog or dmap_path()), str(path)] + ([mode] if mode else [])
        kw = user.popen_args() if user else {}
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, pass_fds=pass_fds, **kw)

    def cmd(self, line):
        """Sends one command; returns (ok, rest of the answer)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        if not answer:
            pytest.fail(f"dmap died on {line!r}: {self.proc.stderr.read()}")
        status, _, rest = answer.rstrip("\n").partition(" ")
        return status == "ok", rest

    def ok(self, line):
        ok, rest = self.cmd(line)
        assert ok, f"{line}: {rest}"
        return rest

    def map(self, off, length, prot="rw", alloc=False):
        return self.cmd(f"map {off} {length} {prot}{' alloc' if alloc else ''}")

    def error(self, line):
        """The errno and message of a command that must fail."""
        ok, rest = self.cmd(line)
        assert not ok, f"{line} succeeded"
        err, _, msg = rest.partition(" ")
        return int(err), msg

    def fill(self, off, length, byte):
        self.ok(f"fill {off} {length} {byte}")

    def pattern(self, off, length, seed):
        self.ok(f"pattern {off} {length} {seed}")

    def read(self, off, length):
        return bytes.fromhex(self.ok(f"read {off} {length}"))

    def persist(self, off, length):
        self.ok(f"persist {off} {length}")

    def close(self):
        """Ends the process (its mappings and leases with it)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.close()


@pytest.fixture
def dmaps():
    """Makes Dmap processes; all are ended at teardown."""
    made = []

    def make(path, **kw):
        d = Dmap(path, **kw)
        made.append(d)
        return d
    try:
        yield make
    finally:
        for d in made:
            if d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(timeout=30)
            for f in (d.proc.stdin, d.proc.stdout, d.proc.stderr):
                if f and not f.closed:
                    f.close()


def create(path, data=b""):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def as_user(dmaps, user, fs, path, mode="r"):
    """A Dmap of path opened with mode, run as user (users.py) with a copy of
    the client program user may run."""
    return dmaps(path, mode=mode, user=user, prog=fs.tmp / "dmap")


def writes_own_file(fs, dmaps, user, size, seed):
    """user makes a file of their own, maps size bytes of it for writing with
    allocation, stores a pattern and persists it: the file then holds it."""
    path = fs.mnt / "mine"
    path.touch()
    os.chown(path, user.uid, user.gid)
    d = as_user(dmaps, user, fs, path, "rw")
    assert d.map(0, size, alloc=True) == (True, "")
    d.pattern(0, size, seed)
    d.persist(0, size)
    with open(path, "rb") as f:
        assert f.read() == pattern(0, size, seed)


def pattern(off, length, seed):
    """The bytes dmap's `pattern off length seed` stores (k: mapping offset)."""
    return bytes((k * 131 + k // 4096 + seed) & 0xFF for k in range(off, off + length))

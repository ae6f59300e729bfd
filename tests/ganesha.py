"""Serving a daxfs-fuse mount with NFS-Ganesha in tests, the way
`daxfs-ctl export` documents it: the configuration it writes, the start
command it prints, on a free loopback port.

The `served` fixture mounts a fresh filesystem (-o allow_other), starts
ganesha.nfsd in the foreground and waits until it answers an NFS NULL call;
teardown always stops Ganesha (SIGTERM, then SIGKILL), checks its log holds
no error but the ones a sandbox without D-Bus, rpcbind and Kerberos gives,
and then unmounts and runs `fsck.daxfs -n` (the Daxfs cleanup). The tests
skip only when ganesha.nfsd or its VFS backend is not installed.
"""
import glob
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time

import pytest

import nfs4
from mount import Daxfs, need, wait_or_fail

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
PSEUDO = "/export"

# What Ganesha logs at CRIT/MAJ in a sandbox and on a plain server without
# D-Bus, rpcbind or a Kerberos keytab; none of it affects NFSv4 over TCP.
EXPECTED_LOG = [re.compile(p) for p in (
    r":DBUS :CRIT :",
    r"Cannot register NFS V4 on TCP",
    r"gssd_refresh_krb5_machine_credential",
    r"Cannot acquire credentials for principal nfs",
)]


def ganesha_available():
    """None, or why the NFS tests cannot run here."""
    if shutil.which("ganesha.nfsd") is None:
        return "ganesha.nfsd is not installed (Debian nfs-ganesha, see tools/install-deps.sh)"
    if not glob.glob("/usr/lib/*/ganesha/libfsalvfs.so") + glob.glob("/usr/lib*/ganesha/libfsalvfs.so"):
        return "Ganesha's VFS backend is not installed (Debian nfs-ganesha-vfs)"
    return None


def free_port():
    """A TCP port nobody listens on at 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ganesha:
    """One ganesha.nfsd serving one mount, configured by daxfs-ctl export."""

    def __init__(self, mnt, statedir, *export_args):
        self.mnt, self.dir = mnt, statedir
        self.port = free_port()
        res = subprocess.run([need("daxfs-ctl"), "export", str(mnt), str(statedir),
                              "--port", str(self.port), "--bind", "127.0.0.1",
                              *export_args], capture_output=True, text=True)
        assert res.returncode == 0, f"daxfs-ctl export: {res.stderr}"
        self.export_output = res.stdout
        starts = [line.strip() for line in res.stdout.splitlines()
                  if line.strip().startswith("ganesha.nfsd ")]
        assert len(starts) == 1, f"no start command in:\n{res.stdout}"
        self.cmd = shlex.split(starts[0])
        self.log = statedir / "ganesha.log"
        self.proc = None
        self.allowed = list(EXPECTED_LOG)

    def start(self):
        assert self.proc is None
        self.stdout = open(self.dir / f"ganesha.out.{time.monotonic_ns()}", "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self.stdout, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None
                self.stdout.close()
                pytest.fail(f"ganesha.nfsd exited with {rc} before serving:\n"
                            f"{self.log_text()}")
            try:
                with nfs4.Client("127.0.0.1", self.port, timeout=5) as c:
                    c.null()
                    c.handle(PSEUDO)
                return
            except (OSError, nfs4.Nfs4Error):
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"ganesha.nfsd did not serve within {START_TIMEOUT}s:\n"
                                f"{self.log_text()}")
                time.sleep(0.1)

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"

    def stop(self):
        """SIGTERM and wait; SIGKILL if it hangs. Returns the exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        proc.send_signal(signal.SIGTERM)
        try:
            wait_or_fail(proc, STOP_TIMEOUT, "ganesha.nfsd did not stop on SIGTERM")
        finally:
            self.stdout.close()
        return proc.returncode

    def allow_log(self, pattern):
        """An error line a test causes on purpose."""
        self.allowed.append(re.compile(pattern))

    def unexpected_log(self):
        return [line for line in self.log_text().splitlines()
                if re.search(r":(CRIT|MAJ|FATAL) :", line)
                and not any(p.search(line) for p in self.allowed)]

    def client(self, **kw):
        return nfs4.Client("127.0.0.1", self.port, **kw)

    def url(self, path=""):
        """libnfs's URL of path under the export."""
        return f"nfs://127.0.0.1{PSEUDO}{path}?version=4&nfsport={self.port}"


def libnfs(*args, input=None, check=True):
    """Runs one of libnfs-utils' programs; returns the CompletedProcess."""
    res = subprocess.run(list(args), input=input, capture_output=True, timeout=120)
    if check:
        assert res.returncode == 0, f"{args}: exit {res.returncode}: {res.stderr.decode()}"
    return res


class Served:
    """A mounted daxfs (self.fs) and the Ganesha serving it (self.nfs)."""

    def __init__(self, fs, nfs):
        self.fs, self.nfs = fs, nfs
        self.mnt = fs.mnt

    def path(self, name=""):
        return f"{PSEUDO}/{name}" if name else PSEUDO


@pytest.fixture
def served(tmp_path):
    why = ganesha_available()
    if why:
        pytest.skip(why)
    fs = Daxfs(tmp_path, size=256 << 20)
    nfs = None
    try:
        fs.mkfs()
        fs.mount("allow_other")
        nfs = Ganesha(fs.mnt, tmp_path / "ganesha", "--squash", "none", "--grace", "0")
        nfs.start()
        yield Served(fs, nfs)
        assert nfs.stop() == 0, f"ganesha.nfsd exit status:\n{nfs.log_text()}"
        bad = nfs.unexpected_log()
        assert not bad, "unexpected errors in Ganesha's log:\n" + "\n".join(bad)
    finally:
        if nfs is not None and nfs.proc is not None:
            nfs.proc.kill()
            nfs.proc.wait()
        fs.cleanup()

"""tools/install-deps.sh waits for apt's locks instead of failing.

No network and nothing of the system's is touched: apt runs with a private
state (APT_CONFIG: an empty sources list, its own lists and cache, and a copy
of dpkg's status whose directory holds the lock-frontend it takes), and
dpkg-query (DPKG_ADMINDIR) sees a status without one package the script
wants, so the script runs apt-get update and install for it; to that apt
the package is installed already, so nothing is downloaded. The test holds
apt's lock, sees apt report that it waits, and lets it go.
"""
import fcntl
import os
import queue
import shutil
import subprocess
import threading

import pytest

from conftest import SOURCE_DIR

SCRIPT = SOURCE_DIR / "tools" / "install-deps.sh"
PACKAGE = "fuse3"       # one the script installs, and installed here


def installed(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.stdout == "install ok installed"


@pytest.fixture
def private_apt(tmp_path):
    if os.geteuid() != 0 or not shutil.which("apt-get") or not installed(PACKAGE):
        pytest.skip(f"needs root, apt-get and {PACKAGE} installed")
    for d in ("dpkg/updates", "dpkg/info", "query", "lists/partial", "cache/archives/partial",
              "parts", "log"):
        (tmp_path / d).mkdir(parents=True)
    status = open("/var/lib/dpkg/status").read()
    (tmp_path / "dpkg" / "status").write_text(status)
    stanzas = status.split("\n\n")
    without = [s for s in stanzas if not s.startswith(f"Package: {PACKAGE}\n")]
    assert len(without) == len(stanzas) - 1
    (tmp_path / "query" / "status").write_text("\n\n".join(without))
    conf = tmp_path / "apt.conf"
    conf.write_text(f"""\
Dir::State::status "{tmp_path}/dpkg/status";
Dir::State::Lists "{tmp_path}/lists";
Dir::State::extended_states "{tmp_path}/extended_states";
Dir::Cache "{tmp_path}/cache";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "{tmp_path}/parts";
Dir::Log "{tmp_path}/log";
""")
    return dict(os.environ, APT_CONFIG=str(conf), DPKG_ADMINDIR=str(tmp_path / "query"),
                DAXFS_APT_LOCK_TIMEOUT="120")


class HeldLock:
    """apt's kind of lock (fcntl, whole file) on path, until release()."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def run_holding(env, lock_path, waiting_marker):
    """Starts install-deps while lock_path is locked; once its output shows
    that it waits (waiting_marker), releases the lock. Returns (exit, output)."""
    lock = HeldLock(lock_path)
    proc = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    out = []
    ended = False
    try:
        while not ended:
            line = lines.get(timeout=120)
            ended = line is None           # exited while we held the lock: it did not wait
            if not ended:
                out.append(line)
                if waiting_marker in line:
                    break
    finally:
        lock.release()
    while not ended:
        line = lines.get(timeout=120)
        ended = line is None
        if not ended:
            out.append(line)
    return proc.wait(timeout=120), "".join(out)


@pytest.mark.parametrize("lock, waiting, apt_says", [
    ("dpkg/lock-frontend", "Waiting for cache lock",
     "Could not get lock {}/dpkg/lock-frontend. It is held by process"),
    ("lists/lock", "another apt holds the package lists; waiting", "Could not get lock {}/lists/lock"),
], ids=["install-waits-for-the-dpkg-frontend-lock", "update-waits-for-the-lists-lock"])
def test_apt_lock_held_by_another_is_waited_for(private_apt, tmp_path, lock, waiting, apt_says):
    rc, out = run_holding(private_apt, tmp_path / lock, waiting)
    assert rc == 0, out
    assert apt_says.format(tmp_path) in out
    assert f"{PACKAGE} is already the newest version" in out


def test_nothing_runs_when_everything_is_installed(private_apt):
    env = dict(private_apt)
    del env["DPKG_ADMINDIR"]           # the real status: nothing is missing
    if not all(installed(p) for p in ("meson", "ninja-build", "libfuse3-dev", "libpmem-dev")):
        pytest.skip("this machine lacks some of the packages")
    r = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_a_bad_timeout_is_refused():
    r = subprocess.run(["bash", str(SCRIPT)], env=dict(os.environ, DAXFS_APT_LOCK_TIMEOUT="soon"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == "install-deps: DAXFS_APT_LOCK_TIMEOUT=soon: expected whole seconds\n"

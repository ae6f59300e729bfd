"""Shared pytest fixtures for daxfs-fuse: paths to the built tools."""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("DAXFS_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parent.parent))
BUILD_DIR = pathlib.Path(os.environ.get("DAXFS_BUILD_DIR", SOURCE_DIR / "build"))


def tool(name):
    """Path of a built tool. A missing tool is a failure, not a skip: a suite
    that quietly skips everything would hide a broken build."""
    for sub in ("tools", "src/fuse"):
        path = BUILD_DIR / sub / name
        if path.exists():
            return str(path)
    pytest.fail(f"{name} not built in {BUILD_DIR}: run `meson compile -C {BUILD_DIR}`")


def build_sanitizers():
    """The build's -Db_sanitize value ("address,undefined"), or "" for none."""
    import json
    info = BUILD_DIR / "meson-info" / "intro-buildoptions.json"
    for opt in json.loads(info.read_text()):
        if opt["name"] == "b_sanitize" and opt["value"] != "none":
            return opt["value"]
    return ""


def sparse_file(path, size):
    """Makes path a sparse file of size bytes (a new pmem file, for its
    owner only, as daxfs-fuse wants them); its path."""
    with open(path, "wb") as f:
        f.truncate(size)
    os.chmod(path, 0o600)
    return str(path)


def run_tool(name, *args, **kw):
    """The built tool name with ARGS (and subprocess.run's keywords), its
    output captured as text; never raises on a failure."""
    return subprocess.run([tool(name), *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kw)


def run_ctl(*args):
    """daxfs-ctl ARGS, as run_tool runs it."""
    return run_tool("daxfs-ctl", *args)


def ctl_ok(*args):
    """daxfs-ctl ARGS, which must succeed: what it printed on stdout."""
    r = run_ctl(*args)
    assert r.returncode == 0, f"daxfs-ctl {' '.join(map(str, args))}: {r.stdout}{r.stderr}"
    return r.stdout


def ctl_fails(*args, status=1):
    """daxfs-ctl ARGS, which must fail with exit status status (1; 2 for a
    usage error, which prints nothing on stdout): what it said on stderr."""
    r = run_ctl(*args)
    assert r.returncode == status, f"daxfs-ctl {' '.join(map(str, args))}: {r.stdout}{r.stderr}"
    assert status != 2 or r.stdout == ""
    return r.stderr


PMEM_SIZE = 8 << 20          # bytes of each file of the `pmem` fixture: 16384 sectors


@pytest.fixture
def pmem(tmp_path):
    """Two sparse backing files of PMEM_SIZE bytes: {"A": path, "B": path}."""
    files = {}
    for name in ("A", "B"):
        files[name] = sparse_file(tmp_path / f"pmem{name}", PMEM_SIZE)
    return files


@pytest.fixture
def table(tmp_path, pmem):
    """Writes table text, with {A} and {B} standing for the pmem files, to a
    file (t.table unless named); returns its path."""
    def write(text, name="t.table"):
        path = tmp_path / name
        path.write_text(text.format(**pmem))
        return str(path)
    return write


# ---- where tests keep their files -----------------------------------------
# Backing files on a disk make every commit an msync, many times slower than
# on tmpfs, so tests run under /dev/shm (DAXFS_TEST_TMPDIR chooses another
# place). Each run gets a fresh base directory, each test's tmp_path is
# removed when the test ends and the base when the run ends, so neither
# memory (tmpfs) nor disk fills up over a run or across runs;
# DAXFS_KEEP_TMP=1 keeps them to look at.
KEEP_TMP = os.environ.get("DAXFS_KEEP_TMP") == "1"


def pytest_configure(config):
    """DAXFS_RUN=1: the suite runs under daxfs-run (tests/test_run_suite.py
    starts it so): the pytest process and every process a test starts have
    libdaxfs-run preloaded, and their files on daxfs-fuse mounts are served
    with loads and stores. Refuse to claim that when it is not so."""
    if os.environ.get("DAXFS_RUN") == "1" and "libdaxfs-run" not in os.environ.get("LD_PRELOAD", ""):
        raise pytest.UsageError("DAXFS_RUN=1 but libdaxfs-run is not in LD_PRELOAD: start "
                                "the suite with `daxfs-run python3 -m pytest ...`")
    if config.option.basetemp is None:
        root = os.environ.get("DAXFS_TEST_TMPDIR") or \
            ("/dev/shm" if os.path.isdir("/dev/shm") else None)
        config.option.basetemp = tempfile.mkdtemp(prefix="daxfs-pytest-", dir=root)
        config.daxfs_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    base = getattr(config, "daxfs_basetemp", None)
    if base and not KEEP_TMP:
        _remove_tree(base)


def _remove_tree(path):
    """Removes path, first detaching any mount a failed test left under it
    (never descending into a mounted filesystem)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        mounts = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
                  for line in f]
    for mnt in sorted((m for m in mounts if m.startswith(path + "/")), reverse=True):
        subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
        subprocess.run(["umount", "-l", mnt], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmp_path(tmp_path_factory, request):
    """pytest's tmp_path, removed when the test is done (after the fixtures
    that use it have unmounted and stopped their daemons)."""
    name = re.sub(r"\W", "_", request.node.name)[:30]
    path = tmp_path_factory.mktemp(name, numbered=True)
    yield path
    if not KEEP_TMP:
        _remove_tree(path)

"""tools/quickstart.sh and the README's quick start, run against the test build in tmp_path."""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from conftest import BUILD_DIR, SOURCE_DIR, tool


def is_mounted(path):
    target = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == target for line in f)


def daemons_serving(table):
    """pids of processes whose command line names table (the daemon's SOURCE)."""
    pids = []
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(table).encode() in args:
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def quickstart(tmp_path):
    """Runs quickstart.sh on the suite's build, with pmem files and mount point under tmp_path."""
    tool("daxfs-ctl")
    pmem_dir, mnt = tmp_path / "pmem", tmp_path / "mnt"
    env = dict(os.environ, DAXFS_NO_DEPS="1", DAXFS_NO_BUILD="1", DAXFS_BUILD=str(BUILD_DIR),
               DAXFS_PMEM_DIR=str(pmem_dir), DAXFS_PMEM_SIZE="64M", DAXFS_MNT=str(mnt))

    def run():
        return subprocess.run(["bash", str(SOURCE_DIR / "tools" / "quickstart.sh")], env=env,
                              capture_output=True, text=True, timeout=300)
    run.pmem_dir, run.mnt, run.table = pmem_dir, mnt, pmem_dir / "daxfs.table"
    yield run
    if is_mounted(mnt):
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while daemons_serving(run.table) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemons_serving(run.table), "daxfs-fuse did not exit after the unmount"


def can_mount():
    return (os.path.exists(BUILD_DIR / "tools" / "mkfs.daxfs")
            and os.path.exists(BUILD_DIR / "src" / "fuse" / "daxfs-fuse"))


def require_mount():
    if not can_mount():
        pytest.fail("mkfs.daxfs or daxfs-fuse not built")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK) or not shutil.which("fusermount3"):
        pytest.skip("needs /dev/fuse and fusermount3")


def test_quickstart_makes_three_sparse_files_and_their_linear_table(quickstart):
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    files = [quickstart.pmem_dir / f"pmem{i}" for i in range(3)]
    for f in files:
        st = f.stat()
        assert st.st_size == 64 << 20
        assert st.st_blocks * 512 < st.st_size
    lines = [l for l in quickstart.table.read_text().splitlines() if not l.startswith("#")]
    assert lines == [f"{i * 131072} 131072 linear {f} 0" for i, f in enumerate(files)]


def test_quickstart_checks_and_resolves_the_table(quickstart):
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "size: 393216 sectors" in r.stdout and "dax: yes" in r.stdout
    assert f"device {quickstart.pmem_dir / 'pmem1'}: sector 0, pgoff 0" in r.stdout
    assert '"pages": 16}' in r.stdout


def test_quickstart_second_run_reuses_everything(quickstart):
    first = quickstart()
    assert first.returncode == 0, first.stdout + first.stderr
    files = sorted(quickstart.pmem_dir.iterdir())
    inodes = [f.stat().st_ino for f in files]
    table = quickstart.table.read_text()
    second = quickstart()
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(quickstart.pmem_dir.iterdir()) == files
    assert [f.stat().st_ino for f in files] == inodes
    assert quickstart.table.read_text() == table


def test_quickstart_mounts_a_usable_filesystem(quickstart):
    require_mount()
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert is_mounted(quickstart.mnt)
    hello = quickstart.mnt / "hello"
    hello.write_text("hello\n")
    assert hello.read_text() == "hello\n"
    assert f"fusermount3 -u {quickstart.mnt}" in r.stdout


def test_quickstart_second_run_keeps_the_mounted_filesystem(quickstart):
    require_mount()
    assert quickstart().returncode == 0
    (quickstart.mnt / "keep").write_text("kept\n")
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already mounted" in r.stdout
    assert (quickstart.mnt / "keep").read_text() == "kept\n"


def test_quickstart_does_not_remake_an_existing_filesystem(quickstart):
    require_mount()
    assert quickstart().returncode == 0
    (quickstart.mnt / "survivor").write_text("still here\n")
    subprocess.run(["fusermount3", "-u", str(quickstart.mnt)], check=True, timeout=60)
    deadline = time.monotonic() + 30
    while daemons_serving(quickstart.table) and time.monotonic() < deadline:
        time.sleep(0.05)
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "a daxfs is already on" in r.stdout
    assert (quickstart.mnt / "survivor").read_text() == "still here\n"


def test_readme_quick_start_is_the_two_commands_ci_runs():
    readme = (SOURCE_DIR / "README.md").read_text()
    block = re.search(r"## Quick start\n.*?```sh\n(.*?)```", readme, re.S)
    assert block, "README.md has no quick-start code block"
    assert block.group(1).splitlines() == ["bash tools/quickstart.sh",
                                           "meson test -C build --print-errorlogs"]
    ci = (SOURCE_DIR / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == "meson test -C build --print-errorlogs"


def test_quickstart_refuses_a_mount_point_used_by_something_else(quickstart, tmp_path):
    require_mount()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    quickstart.mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "quickstart-test", str(quickstart.mnt)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        res = quickstart()
    finally:
        subprocess.run(["umount", str(quickstart.mnt)], check=True, timeout=60)
    assert res.returncode == 1
    assert "already has quickstart-test mounted on it" in res.stderr

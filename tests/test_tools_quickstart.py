"""tools/quickstart.sh and the README's quick start, run against the test build in tmp_path."""
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import tempfile
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

    def run(*args, pmem=None):
        e = env if pmem is None else dict(env, DAXFS_PMEM_DIR=str(pmem))
        return subprocess.run(["bash", str(SOURCE_DIR / "tools" / "quickstart.sh"), *args],
                              env=e, capture_output=True, text=True, timeout=300)
    run.pmem_dir, run.mnt, run.table = pmem_dir, mnt, pmem_dir / "daxfs.table"
    run.env = env
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
        # whoever may read a member reads every file's data on it
        assert stat.S_IMODE(st.st_mode) == 0o600
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
    pmem0 = quickstart.pmem_dir / "pmem0"
    pmem0.chmod(0o644)                  # as quick starts made them before
    second = quickstart()
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(quickstart.pmem_dir.iterdir()) == files
    assert [f.stat().st_ino for f in files] == inodes
    assert quickstart.table.read_text() == table
    assert stat.S_IMODE(pmem0.stat().st_mode) == 0o600


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


def test_quickstart_default_keeps_the_files_in_memory():
    """The default, read from the script as it runs (a real run would touch
    the one fixed directory every quick start shares)."""
    r = subprocess.run(["bash", str(SOURCE_DIR / "tools" / "quickstart.sh"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "Without --persistent the files go to /dev/shm/daxfs-quickstart" in r.stdout
    script = (SOURCE_DIR / "tools" / "quickstart.sh").read_text()
    assert "default_dir=/dev/shm/daxfs-quickstart\n" in script


def test_quickstart_in_memory_says_the_files_go_at_reboot(quickstart):
    shm = pathlib.Path("/dev/shm")
    if not shm.is_dir() or os.statvfs(shm).f_bavail * os.statvfs(shm).f_bsize < 256 << 20:
        pytest.skip("needs a /dev/shm with room")
    d = pathlib.Path(tempfile.mkdtemp(prefix="daxfs-quickstart-test-", dir=shm))
    try:
        quickstart.table = d / "daxfs.table"
        r = quickstart(pmem=d)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "They are in memory (tmpfs): fast, and gone after a reboot." in r.stdout
        assert "To keep them on disk instead: bash tools/quickstart.sh --persistent DIR" in r.stdout
        if can_mount():
            assert f"Its pmem files are in {d},\nin memory: the filesystem is gone after a reboot." \
                in r.stdout
    finally:
        if is_mounted(quickstart.mnt):
            subprocess.run(["fusermount3", "-u", str(quickstart.mnt)], check=True, timeout=60)
        wait_gone(d / "daxfs.table")
        shutil.rmtree(d)


def wait_gone(table):
    deadline = time.monotonic() + 30
    while daemons_serving(table) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_quickstart_persistent_dir_is_on_disk_and_survives_a_reboot(quickstart, tmp_path):
    disk = tmp_path / "on-disk"
    disk.mkdir()
    if subprocess.run(["stat", "-f", "-c", "%T", str(disk)], capture_output=True,
                      text=True).stdout.strip() in ("tmpfs", "ramfs"):
        pytest.skip("tmp_path is in memory here")
    quickstart.table = disk / "daxfs.table"
    r = quickstart("--persistent", str(disk))
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.name for p in disk.iterdir() if p.name.startswith("pmem")) == \
        ["pmem0", "pmem1", "pmem2"]
    assert "): they survive a reboot (run this\nagain to mount them)" in r.stdout
    assert str(disk / "pmem0") in quickstart.table.read_text()
    assert not quickstart.pmem_dir.exists()        # --persistent wins over DAXFS_PMEM_DIR


def test_quickstart_refuses_a_directory_a_table_cannot_name(quickstart, tmp_path):
    r = quickstart("--persistent", str(tmp_path / "with blank"))
    assert r.returncode == 2
    assert r.stderr == (f"quickstart: {tmp_path}/with blank: a table cannot name files whose "
                        "path has blanks; choose another directory\n")


def test_quickstart_refuses_persistent_without_a_directory(quickstart):
    r = quickstart("--persistent")
    assert r.returncode == 2
    assert r.stderr == "quickstart: --persistent needs a directory\n"


def test_quickstart_recovers_a_mount_whose_daemon_died(quickstart):
    require_mount()
    assert quickstart().returncode == 0
    (quickstart.mnt / "kept").write_text("kept\n")
    for pid in daemons_serving(quickstart.table):
        os.kill(pid, signal.SIGKILL)
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"the daemon of the mount at {quickstart.mnt} has died: mounting again" in r.stdout
    assert (quickstart.mnt / "kept").read_text() == "kept\n"


def test_quickstart_daemon_logs_to_a_file_next_to_the_pmem_files(quickstart):
    require_mount()
    r = quickstart()
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"The daemon logs to {quickstart.pmem_dir}/daxfs-fuse.log." in r.stdout
    assert "no syslog" not in r.stderr

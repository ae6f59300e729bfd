"""Power loss at every persist point of each crash workload (tools/crash, docs/CRASH.md).

A bounded run: every workload, eight crash points spread over its trace, two
random subsets per point. The full run is `tools/crash/daxfs-crash run`.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

CRASH = SOURCE_DIR / "tools" / "crash" / "daxfs-crash"
sys.path.insert(0, str(SOURCE_DIR / "tools" / "crash"))
import workloads  # noqa: E402

# Half of the random states per point are torn (docs/CRASH.md): a torn
# journal header write is recovered from the log since it was found here.
BOUNDED = ["--max-points", "8", "--random", "2", "--seed", "1"]
# Workloads expected to fail, with the reason (none now: syncfs, which never
# reaches a FUSE daemon, holds since every call is durable at return).
KNOWN_BROKEN = {}


def need_built(build):
    for p in ("src/fuse/daxfs-fuse", "tools/mkfs.daxfs", "tools/fsck.daxfs"):
        if not (build / p).exists():
            pytest.fail(f"{p} not built in {build}")
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount3") is None:
        pytest.skip("FUSE is not available")


def crash_run(build, work, *args):
    return subprocess.run([sys.executable, str(CRASH), "run", "--build", str(build),
                           "--work", str(work), *args], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_BROKEN[n], strict=True))
    if n in KNOWN_BROKEN else n for n in workloads.names()])
def test_crash_states_of_workload_recover_clean(name, tmp_path):
    need_built(BUILD_DIR)
    # a known failure is checked at every crash point, so that whether it
    # still fails never depends on which points the sample picked
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", name,
                    *(BOUNDED if name not in KNOWN_BROKEN else ["--random", "2", "--no-torn"]))
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr
    assert re.search(rf"^ok +{name} ", res.stdout, re.M), res.stdout


@pytest.mark.parametrize("layout", ["single", "linear"])
def test_crash_states_on_other_layouts_recover_clean(layout, tmp_path):
    need_built(BUILD_DIR)
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", "write_fsync", "-w", "link_unlink",
                    "--layout", layout, "--max-points", "6", "--random", "2", "--no-torn")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr


def test_fsync_in_another_thread_is_durable_with_per_cpu_fences(tmp_path):
    # the daemon writes data in one worker thread and fsyncs in another; a
    # pmem drain (sfence) orders only its own CPU's flushes
    need_built(BUILD_DIR)
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", "append", "-w", "bigfile",
                    "--fence-scope", "thread", "--random", "2", "--no-torn")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr


@pytest.mark.parametrize("name", ["orphan", "rename"])
def test_power_loss_during_recovery_recovers_clean(name, tmp_path):
    need_built(BUILD_DIR)
    # torn states too: recovery rewrites the journal header in place as well
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", name, "--nested", "2",
                    "--max-points", "4", "--random", "2")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr
    assert re.search(rf"^ok +{name} .*, 2 recoveries crashed$", res.stdout, re.M), res.stdout


def test_every_workload_is_run_by_the_bounded_suite():
    # the metadata paths the checker must cover, each in some workload
    used = {step[0] for name in workloads.names() for step in workloads.get(name)}
    assert {"create", "mkdir", "write", "fsync", "append", "truncate", "fallocate", "rename",
            "link", "unlink", "rmdir", "symlink", "setxattr", "chmod", "chown", "fdatasync",
            "fsyncdir", "syncfs", "mmap_msync"} <= used


@pytest.fixture(scope="module", params=["drop_flush", "late_flush"])
def fault_build(request, tmp_path_factory):
    """A separate build of the daemon and tools with a persist fault compiled in."""
    if shutil.which("meson") is None or shutil.which("ninja") is None:
        pytest.skip("meson/ninja not installed")
    need_built(BUILD_DIR)
    build = tmp_path_factory.mktemp(f"fault-{request.param}") / "build"
    res = subprocess.run(["meson", "setup", str(build), str(SOURCE_DIR),
                          f"-Dpersist_fault={request.param}"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run(["ninja", "-C", str(build), "src/fuse/daxfs-fuse", "tools/mkfs.daxfs",
                          "tools/fsck.daxfs"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr
    yield build
    shutil.rmtree(build, ignore_errors=True)


def test_torn_block_writes_recover_clean(tmp_path):
    # every crash point, torn states included: a torn journal header write
    # made the filesystem unmountable until recovery read the log instead
    need_built(BUILD_DIR)
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", "create", "-w", "write_fsync",
                    "--random", "4")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr


def test_checker_reports_the_fault_build_and_how_to_replay_it(fault_build, tmp_path):
    # every crash point, whole flushes only: the fault alone must be caught
    res = crash_run(fault_build, tmp_path / "work", "-w", "rename", "--random", "2",
                    "--no-torn")
    assert res.returncode == 1, res.stdout[-4000:] + res.stderr
    assert re.search(r"^FAIL rename: crash point \d+", res.stdout, re.M), res.stdout
    replay = re.search(r"^    replay: (.*)$", res.stdout, re.M).group(1).split()
    assert replay[1] == "check"
    again = subprocess.run([sys.executable, str(CRASH), *replay[1:]], capture_output=True,
                           text=True, cwd=SOURCE_DIR, timeout=120)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "1 crash states, 1 distinct images, 1 failed" in again.stdout


def test_one_crash_point_is_the_last(tmp_path):
    # --max-points 1 divided by zero spreading the points; it keeps the
    # final state, and a count below 0 is refused with its reason
    need_built(BUILD_DIR)
    res = crash_run(BUILD_DIR, tmp_path / "work", "-w", "append", "--max-points", "1",
                    "--random", "1")
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr
    assert re.search(r"^ok +append .* 1 crash points ", res.stdout, re.M), res.stdout
    res = crash_run(BUILD_DIR, tmp_path / "work2", "-w", "append", "--max-points", "-1")
    assert res.returncode == 2 and "not a count" in res.stderr, res.stderr

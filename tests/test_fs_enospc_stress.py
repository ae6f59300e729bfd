"""Many processes keep a small filesystem full; afterwards fsck is clean and every file is as modelled.

The workload and the contract it checks are in enospc_stress.py. Each case
is a filesystem size and a seed (and mount options): CI runs a few,
DAXFS_SOAK=1 many more seeds with more operations. The backing file lives
in /dev/shm when it can: on a disk every durable call is an msync, and the
workload makes hundreds of MiB of them.
"""
import os
import pathlib
import shutil
import tempfile

import pytest

import enospc_stress
from mount import MIB, Daxfs

SOAK = os.environ.get("DAXFS_SOAK") == "1"
NPROCS = 4

if SOAK:
    CASES = [(size, seed, opts) for size in (8, 16, 32, 64, 128, 256) for seed in range(1, 21)
             for opts in ((), ("commit=5",), ("dax=never",))]
    NOPS = 5000
else:
    CASES = [(8, 1, ()), (8, 2, ("commit=5",)), (8, 3, ("dax=never",)), (16, 4, ()),
             (32, 5, ()), (64, 6, ("commit=5",)), (128, 7, ()), (256, 8, ())]
    NOPS = 1500


def case_id(case):
    size, seed, opts = case
    return f"{size}MiB-seed{seed}" + "".join(f"-{o.replace('=', '')}" for o in opts)


@pytest.fixture
def memory_daxfs(tmp_path):
    """A Daxfs whose backing file is in memory if /dev/shm allows; cleaned up."""
    made = []
    base = (pathlib.Path(tempfile.mkdtemp(prefix="daxfs-enospc-", dir="/dev/shm"))
            if os.access("/dev/shm", os.W_OK) else tmp_path)

    def make(size):
        made.append(Daxfs(base, size=size))
        return made[-1]
    try:
        yield make
    finally:
        try:
            for d in made:
                d.cleanup()
        finally:
            if base != tmp_path:
                shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_full_filesystem_keeps_every_file_as_modelled(memory_daxfs, tmp_path, case):
    size, seed, opts = case
    d = memory_daxfs(size * MIB)
    d.mkfs()
    d.mount(*opts)
    models, problems, enospc = enospc_stress.run(d.mnt, tmp_path, seed, NPROCS, NOPS, size * MIB)
    where = f"case {case_id(case)} (seed {seed}; operation logs in {tmp_path})"
    assert not problems, f"{where}:\n" + "\n".join(problems)
    # the workload is about a full filesystem: it must have been one
    assert enospc > 0, f"{where}: never met ENOSPC"
    problems = enospc_stress.verify(d.mnt, seed, models)
    assert not problems, f"{where}, before unmounting:\n" + "\n".join(problems)
    d.unmount()
    d.fsck()
    d.mount()
    problems = enospc_stress.verify(d.mnt, seed, models)
    assert not problems, f"{where}, after remounting:\n" + "\n".join(problems)

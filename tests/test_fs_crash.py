"""SIGKILL of the daemon in the middle of a workload: the next mount recovers, fsync'd data is intact."""
import hashlib
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mount import MIB, daxfs_factory, wait_until  # noqa: F401

# Each step's outcome is logged (outside the mount) only once it is durable:
# after fsync of the file and of the directory.
WORKLOAD = """
    import hashlib, os, random, sys
    mnt, log, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rnd = random.Random(seed)
    dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    with open(log, "a", buffering=1) as out:
        for i in range(100000):
            data = rnd.randbytes(rnd.randrange(0, 200000))
            tmp, final = f"{mnt}/tmp{i}", f"{mnt}/f{i}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, final)
            os.fsync(dfd)
            out.write(f"ok f{i} {hashlib.sha256(data).hexdigest()}\\n")
            if i % 3 == 2:
                os.unlink(f"{mnt}/f{i - 2}")
                os.fsync(dfd)
                out.write(f"del f{i - 2}\\n")
"""


def logged_lines(log):
    try:
        with open(log) as f:
            return f.read().count("\n")
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("seed,steps", [(1, 20), (2, 61)])
def test_sigkill_during_a_workload_keeps_every_fsynced_file(daxfs_factory, tmp_path, seed, steps):
    d = daxfs_factory(size=64 * MIB)
    d.mkfs()
    d.mount()
    log = tmp_path / f"log{seed}"
    work = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKLOAD), str(d.mnt),
                             str(log), str(seed)], stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: logged_lines(log) >= steps or work.poll() is not None, 60,
                   f"{steps} durable workload steps")
        assert work.poll() is None, "the workload ended before the kill"
        d.terminate(signal.SIGKILL)
    finally:
        if work.poll() is None:
            work.wait(timeout=30)   # its next request fails with ENOTCONN
    d.mount()
    expect = {}
    in_flight_unlink = None
    with open(log) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "ok":
                expect[parts[1]] = parts[2]
                i = int(parts[1][1:])
                # the step after this one unlinks f{i-2}: the kill may land
                # once that is durable but before it is logged
                in_flight_unlink = f"f{i - 2}" if i % 3 == 2 else None
            else:
                expect[parts[1]] = None
                in_flight_unlink = None
    for name, digest in expect.items():
        p = d.mnt / name
        if digest is None:
            assert not p.exists(), f"{name} was removed durably but came back"
        elif name == in_flight_unlink and not p.exists():
            continue
        else:
            assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, name
    for name in os.listdir(d.mnt):          # anything else is the step in flight
        assert name in expect or name.startswith(("tmp", "f")), name
    d.unmount()
    d.fsck()

"""Metadata work from several processes at once through the kernel: the tree ends as each process left it,
and fsck finds the unmounted filesystem clean."""
import json
import os
import subprocess
import sys

from mount import daxfs  # noqa: F401

WORKERS = 4
OPS = 150

# One process: creates, stats, renames (within and across the shared directories, over its own files),
# unlinks and lists, in its own directory and in two shared ones; prints where each of its files ended.
WORKER = r"""
import json, os, random, sys
mnt, wid, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(wid)
shared = [os.path.join(mnt, "shared0"), os.path.join(mnt, "shared1")]
own = os.path.join(mnt, f"own{wid}")
where = {}
sub = f"w{wid}-sub"
subdir = shared[0]
os.mkdir(os.path.join(subdir, sub))
for i in range(ops):
    d = own if rnd.random() < 0.3 else rnd.choice(shared)
    name = f"w{wid}-f{i}"
    with open(os.path.join(d, name), "wb") as f:
        f.write(b"x" * (i % 7))
    where[name] = d
    os.stat(os.path.join(d, name))
    j = f"w{wid}-f{rnd.randrange(i + 1)}"
    r = rnd.random()
    if j in where and r < 0.3:
        to = shared[1] if where[j] == shared[0] else shared[0]
        os.rename(os.path.join(where[j], j), os.path.join(to, j))
        where[j] = to
    elif j in where and j != name and r < 0.5:
        os.rename(os.path.join(where[j], j), os.path.join(d, name))
        del where[j]
    elif j in where and r < 0.7:
        os.unlink(os.path.join(where[j], j))
        del where[j]
    if i % 10 == 0:
        to = shared[1] if subdir == shared[0] else shared[0]
        os.rename(os.path.join(subdir, sub), os.path.join(to, sub))
        subdir = to
    if i % 5 == 0:
        for s in shared:
            for e in os.scandir(s):
                try:
                    e.stat()
                except FileNotFoundError:
                    pass      # another process removed it meanwhile
    where[sub] = subdir
json.dump({k: os.path.basename(v) for k, v in where.items()}, sys.stdout)
"""


def test_parallel_processes_leave_the_expected_tree_and_a_clean_fsck(daxfs):
    for d in ("shared0", "shared1"):
        os.mkdir(daxfs.mnt / d)
    for w in range(WORKERS):
        os.mkdir(daxfs.mnt / f"own{w}")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(daxfs.mnt), str(w), str(OPS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(WORKERS)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results.append(json.loads(out))

    expected = {d: set() for d in ["shared0", "shared1"] + [f"own{w}" for w in range(WORKERS)]}
    for r in results:
        for name, d in r.items():
            expected[d].add(name)
    for d, names in expected.items():
        assert set(os.listdir(daxfs.mnt / d)) == names, d
    for d in ("shared0", "shared1"):
        for name in os.listdir(daxfs.mnt / d):
            if name.endswith("-sub"):
                assert os.listdir(daxfs.mnt / d / name) == []
                assert os.stat(daxfs.mnt / d / name).st_nlink == 2
    assert os.stat(daxfs.mnt / "shared0").st_nlink + os.stat(daxfs.mnt / "shared1").st_nlink == 4 + WORKERS

    daxfs.unmount()
    daxfs.fsck()

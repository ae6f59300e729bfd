"""bench/nfsio.py - sequential and 4 KiB random I/O over NFSv4, one export against another.

usage: nfsio.py PORT SIZE_MIB RAND_OPS ROUNDS PSEUDO=LABEL PSEUDO=LABEL

Runs against the NFS-Ganesha on 127.0.0.1:PORT, with tests/nfs4.py: a
single-threaded NFSv4.0 client with one request in flight, so every figure
is per round trip, as one synchronous application thread sees it. For each
export in turn, ROUNDS times: sequential write of SIZE_MIB in 1 MiB UNSTABLE
WRITEs and a COMMIT; sequential read in 1 MiB READs; RAND_OPS 4 KiB READs
and then WRITEs (UNSTABLE, one COMMIT at the end, counted) at seeded random
4 KiB-aligned offsets. The server's page cache is dropped (sync;
drop_caches) before each read pass, so reads of daxfs-fuse go to the
daemon. Prints one line per figure and round, then a markdown table of the
medians with their ratio. The NULL RPC round trip is the client's floor.
"""
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import nfs4  # noqa: E402

MIB = 1 << 20
PAGE = 4096


def drop_server_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_export(c, pseudo, size, rand_ops, seed):
    """{figure: value} for one round on one export."""
    out = {}
    block = random.Random(seed).randbytes(MIB)
    fh = c.create(pseudo, "nfsio.dat")

    def seq_write():
        for off in range(0, size, MIB):
            c.write(fh, off, block, nfs4.UNSTABLE)
        c.commit(fh)
    out["seq write 1 MiB (MiB/s)"] = size / MIB / timed(seq_write)

    def seq_read():
        for off in range(0, size, MIB):
            data, _ = c.read(fh, off, MIB)
            assert len(data) == MIB
    drop_server_caches()
    out["seq read 1 MiB (MiB/s)"] = size / MIB / timed(seq_read)

    rng = random.Random(seed)
    offsets = [rng.randrange(size // PAGE) * PAGE for _ in range(rand_ops)]

    def rand_read():
        for off in offsets:
            c.read(fh, off, PAGE)
    drop_server_caches()
    out["rand read 4 KiB (IOPS)"] = rand_ops / timed(rand_read)

    page = block[:PAGE]

    def rand_write():
        for off in offsets:
            c.write(fh, off, page, nfs4.UNSTABLE)
        c.commit(fh)
    out["rand write 4 KiB (IOPS)"] = rand_ops / timed(rand_write)

    def nulls():
        for _ in range(rand_ops):
            c.null()
    out["NULL RPC round trip (us)"] = timed(nulls) / rand_ops * 1e6
    c.remove(pseudo, "nfsio.dat")
    return out


def main(argv):
    if len(argv) != 7 or not all(a.isdigit() for a in argv[1:5]) or \
            not all("=" in a for a in argv[5:]):
        sys.exit(__doc__.split("\n\n")[1])
    port, size_mib, rand_ops, rounds = map(int, argv[1:5])
    exports = [a.split("=", 1) for a in argv[5:]]
    results = {label: {} for _, label in exports}
    with nfs4.Client("127.0.0.1", port) as c:
        for r in range(rounds):
            for pseudo, label in exports:
                for fig, v in run_export(c, pseudo, size_mib * MIB, rand_ops, 18 + r).items():
                    print(f"{label} round {r} {fig}: {v:.1f}", flush=True)
                    results[label].setdefault(fig, []).append(v)
    (a_label, b_label) = (label for _, label in exports)
    print(f"\n| over NFSv4, loopback, one request in flight | {a_label} | {b_label} | ratio |")
    print("|---|---:|---:|---:|")
    for fig in results[a_label]:
        a, b = statistics.median(results[a_label][fig]), statistics.median(results[b_label][fig])
        print(f"| {fig} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main(sys.argv)

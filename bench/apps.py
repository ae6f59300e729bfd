#!/usr/bin/python3
"""bench/apps.py - the application workloads of bench/run.sh: SQLite and LMDB.

usage: apps.py sqlite DIR    100,000 inserts in 1,000 transactions into a WAL
                             database (synchronous=FULL: each commit is
                             durable), then PRAGMA integrity_check
       apps.py lmdb DIR      100,000 puts in 1,000 transactions into an LMDB
                             environment (each commit durable), then a count

Prints the insert (put) rate in kops/s, one number, on stdout; removes what it
made. Exit 1 when the database fails its check (the message on stderr), 2 on
bad usage.
"""
import os
import shutil
import sys
import time

ROWS, TXNS = 100_000, 1_000
VALUE = bytes(range(100))


def sqlite(d):
    import sqlite3
    path = os.path.join(d, "bench.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    per = ROWS // TXNS
    start = time.perf_counter()
    for t in range(TXNS):
        db.execute("BEGIN")
        db.executemany("INSERT INTO t VALUES (?, ?)",
                       ((t * per + i, VALUE) for i in range(per)))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    check = db.execute("PRAGMA integrity_check").fetchall()
    count = db.execute("SELECT count(*) FROM t").fetchone()[0]
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    if check != [("ok",)] or count != ROWS:
        sys.exit(f"apps.py: sqlite: integrity_check says {check}, {count} rows of {ROWS}")
    return ROWS / elapsed / 1000


def lmdb_bench(d):
    import lmdb
    path = os.path.join(d, "lmdb")
    shutil.rmtree(path, ignore_errors=True)
    env = lmdb.open(path, map_size=1 << 28, sync=True, metasync=True)
    per = ROWS // TXNS
    start = time.perf_counter()
    for t in range(TXNS):
        with env.begin(write=True) as txn:
            for i in range(per):
                txn.put(b"%016d" % (t * per + i), VALUE)
    elapsed = time.perf_counter() - start
    with env.begin() as txn:
        count = sum(1 for _ in txn.cursor())
    env.close()
    shutil.rmtree(path)
    if count != ROWS:
        sys.exit(f"apps.py: lmdb: {count} records of {ROWS}")
    return ROWS / elapsed / 1000


def main(argv):
    if len(argv) != 3 or argv[1] not in ("sqlite", "lmdb") or not os.path.isdir(argv[2]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rate = sqlite(argv[2]) if argv[1] == "sqlite" else lmdb_bench(argv[2])
    print(f"{rate:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

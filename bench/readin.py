#!/usr/bin/python3
"""bench/readin.py - reads files into the page cache together.

  readin.py FILE...   reads the FILEs whole, CHUNK bytes of each in turn

Where the guest's pages of a cached file lie, and how its host backs them, set
the speed of every page-cache hit on it: a file read in alone ran at
1,830-2,290 MiB/s from one fresh copy to the next on the same mount. Read in
together, the mounts' copies take their pages from the same stretches of
memory, so that such a hit differs between them only by what the mount does.
Exits 1 with the file and the error when a read fails.
"""
import os
import sys

CHUNK = 1 << 20


def read_in(paths, pread=os.pread, chunk=CHUNK):
    """Reads every path to its end, `chunk` bytes of each in turn; returns
    the bytes read from each."""
    fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in paths]
    done = [0] * len(fds)
    try:
        live = list(range(len(fds)))
        while live:
            for i in list(live):
                try:
                    n = len(pread(fds[i], chunk, done[i]))
                except OSError as e:
                    raise OSError(e.errno, e.strerror, paths[i]) from e
                if n == 0:
                    live.remove(i)
                done[i] += n
    finally:
        for fd in fds:
            os.close(fd)
    return done


def main(argv):
    if not argv or argv[0].startswith("-"):
        print("usage: readin.py FILE...", file=sys.stderr)
        return 2
    try:
        read_in(argv)
    except OSError as e:
        print(f"readin.py: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

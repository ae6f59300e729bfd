"""A seeded many-process workload that drives a mounted daxfs to ENOSPC and keeps it there.

Each worker process owns the names it makes (prefix ``w<i>_``, in the root
and in directories all workers share), runs a seeded sequence of
operations on them and records in a model what every call left in each
file: its bytes (a sparse map of pages), size, extended attributes and
links. No two workers touch one file, so a worker's model is exact
whatever the interleaving; only which calls meet ENOSPC depends on it.

What the model assumes of a full filesystem (docs/DESIGN.md, "Full
filesystems"), and so what counts as a failure:
- a write or append that returns n wrote exactly its first n bytes; ENOSPC
  wrote nothing;
- fallocate (0, KEEP_SIZE, ZERO_RANGE, ZERO_RANGE|KEEP_SIZE) that fails with
  ENOSPC changed no byte and no size; COLLAPSE_RANGE and INSERT_RANGE give
  EOPNOTSUPP;
- create, mkdir, link, rename to a new name and setxattr may fail with
  ENOSPC and then changed nothing;
- truncate (down or up), PUNCH_HOLE, unlink, rmdir, rename over an existing
  file and removexattr never fail.
Any other outcome is a problem, reported with the seed, the worker, the
operation number and its arguments. The caller then unmounts, checks the
image with fsck and compares every file with the model (verify).
"""
import errno
import multiprocessing
import os
import pickle
import random
import traceback

from mount import FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, MIB, PAGE, fallocate

FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_INSERT_RANGE = 0x20
SHARED_DIRS = ["d0", "d1", "d2"]
MAX_FILES = 10          # per worker: more and creates turn into unlinks
PERIOD = 61             # data repeats with this period: no block-sized shift hides
HISTORY = 12            # operations remembered per file, for reports

# the errors each operation may meet on a full filesystem
MAY_ENOSPC = {errno.ENOSPC}
NEVER = set()


class Node:
    """One inode of the model: bytes as a sparse map of pages (missing: zeros)."""

    def __init__(self, nid):
        self.id = nid
        self.size = 0
        self.pages = {}
        self.xattrs = {}
        self.history = []

    def note(self, what):
        self.history = (self.history + [what])[-HISTORY:]

    def write(self, off, data):
        pos = 0
        while pos < len(data):
            pg, po = divmod(off + pos, PAGE)
            n = min(PAGE - po, len(data) - pos)
            page = self.pages.get(pg)
            if page is None:
                page = self.pages[pg] = bytearray(PAGE)
            page[po:po + n] = data[pos:pos + n]
            pos += n
        self.size = max(self.size, off + len(data))

    def zero(self, start, end):
        if end <= start:
            return
        lo, hi = start // PAGE, (end + PAGE - 1) // PAGE
        for pg in [p for p in self.pages if lo <= p < hi]:
            s = max(start, pg * PAGE) - pg * PAGE
            e = min(end, (pg + 1) * PAGE) - pg * PAGE
            if s == 0 and e == PAGE:
                del self.pages[pg]
            else:
                self.pages[pg][s:e] = bytes(e - s)

    def truncate(self, size):
        if size < self.size:
            self.zero(size, self.size)
        self.size = size

    def expected(self, off, n):
        out = bytearray()
        for pg in range(off // PAGE, (off + n + PAGE - 1) // PAGE):
            page = self.pages.get(pg)
            out += page if page is not None else bytes(PAGE)
        start = off - (off // PAGE) * PAGE
        return bytes(out[start:start + n])


class Worker:
    """The operations of one process on its own names under mnt."""

    def __init__(self, mnt, seed, index, nops, max_off):
        self.mnt = str(mnt)
        self.seed = seed
        self.index = index
        self.nops = nops
        self.max_off = max_off
        self.rng = random.Random(f"{seed}:{index}")
        self.names = {}         # path relative to mnt -> Node
        self.dirs = set()       # own empty directories
        self.next_id = 0
        self.next_name = 0
        self.opno = 0
        self.problems = []
        self.enospc = 0
        self.log = None

    # ---- helpers ---------------------------------------------------------
    def path(self, name):
        return os.path.join(self.mnt, name)

    def new_name(self):
        self.next_name += 1
        where = self.rng.choice([""] + SHARED_DIRS)
        return os.path.join(where, f"w{self.index}_{self.next_name}")

    def data(self, n):
        chunk = self.rng.randbytes(PERIOD)
        return (chunk * (n // PERIOD + 1))[:n]

    def length(self):
        kind = self.rng.random()
        if kind < 0.3:
            return self.rng.randrange(1, 200)
        if kind < 0.7:
            return self.rng.randrange(1, 4 * PAGE)
        if kind < 0.95:
            return self.rng.randrange(PAGE, 64 * PAGE)
        return self.rng.randrange(64 * PAGE, MIB)

    def offset(self):
        kind = self.rng.random()
        if kind < 0.4:      # small files of a few extents: inline maps and their first chain block
            return self.rng.randrange(32 * PAGE)
        if kind < 0.7:
            return self.rng.randrange(self.max_off)
        return self.rng.randrange(self.max_off // PAGE) * PAGE

    def problem(self, what):
        self.problems.append(f"seed {self.seed} worker {self.index} op {self.opno}: {what}")

    def trace(self, what):
        if self.log:
            self.log.write(f"{self.opno} {what}\n")

    def call(self, allowed, what, fn, *args):
        """Runs fn; returns (result, None) or (None, errno) for an allowed
        error; a disallowed one is recorded as a problem (errno returned)."""
        try:
            r = fn(*args)
            self.trace(f"{what}: {r}")
            return r, None
        except OSError as e:
            self.trace(f"{what}: {errno.errorcode.get(e.errno)}")
            if e.errno == errno.ENOSPC:
                self.enospc += 1
            if e.errno not in allowed:
                self.problem(f"{what}: {os.strerror(e.errno)} ({errno.errorcode.get(e.errno)})")
            return None, e.errno

    def pick(self):
        return self.rng.choice(sorted(self.names)) if self.names else None

    # ---- operations --------------------------------------------------------
    def op_create(self):
        if len(self.names) >= MAX_FILES:
            return self.op_unlink()
        name = self.new_name()
        fd, err = self.call(MAY_ENOSPC, f"create {name}", os.open, self.path(name),
                            os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        if err:
            return
        os.close(fd)
        self.next_id += 1
        node = self.names[name] = Node(self.next_id)
        node.note(f"op {self.opno}: created as {name}")

    def _write(self, name, off, data, append=False):
        node = self.names[name]
        flags = os.O_WRONLY | (os.O_APPEND if append else 0)
        fd = os.open(self.path(name), flags)
        try:
            at = node.size if append else off
            what = f"{'append' if append else 'write'} {name} at {at} len {len(data)}"
            n, err = self.call(MAY_ENOSPC, what,
                               os.write if append else os.pwrite, fd, data, *(() if append else (off,)))
        finally:
            os.close(fd)
        if err:
            node.note(f"op {self.opno}: {what}: {errno.errorcode.get(err)}")
            return False
        if n > len(data):
            self.problem(f"{what}: wrote {n} bytes")
            return False
        node.write(at, data[:n])
        node.note(f"op {self.opno}: {what}: wrote {n}")
        return n == len(data)

    def op_write(self):
        name = self.pick()
        if name is None:
            return self.op_create()
        self._write(name, self.offset(), self.data(self.length()))

    def op_append(self):
        name = self.pick()
        if name is None:
            return self.op_create()
        self._write(name, 0, self.data(self.length()), append=True)

    def op_fill(self):
        """Appends 1 MiB at a time until the filesystem is full."""
        name = self.pick()
        if name is None:
            return self.op_create()
        for _ in range(64):
            if not self._write(name, 0, self.data(MIB), append=True):
                return

    def op_truncate(self):
        name = self.pick()
        if name is None:
            return self.op_create()
        node = self.names[name]
        size = self.rng.choice([0, node.size // 2, max(0, node.size - self.rng.randrange(1, 3 * PAGE)),
                                node.size + self.rng.randrange(1, 8 * PAGE), self.offset()])
        what = f"truncate {name} from {node.size} to {size}"
        _, err = self.call(NEVER, what, os.truncate, self.path(name), size)
        if not err:
            node.truncate(size)
        node.note(f"op {self.opno}: {what}")

    def op_fallocate(self):
        name = self.pick()
        if name is None:
            return self.op_create()
        node = self.names[name]
        mode = self.rng.choice([0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
                                FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                                FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE])
        off, n = self.offset(), self.length()
        if mode in (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE):
            off, n = off // PAGE * PAGE, max(PAGE, n // PAGE * PAGE)
        allowed = {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: NEVER,
                   FALLOC_FL_COLLAPSE_RANGE: {errno.EOPNOTSUPP},
                   FALLOC_FL_INSERT_RANGE: {errno.EOPNOTSUPP}}.get(mode, MAY_ENOSPC)
        what = f"fallocate {name} mode {mode:#x} at {off} len {n} (size {node.size})"
        fd = os.open(self.path(name), os.O_RDWR)
        try:
            _, err = self.call(allowed, what, fallocate, fd, mode, off, n)
        finally:
            os.close(fd)
        node.note(f"op {self.opno}: {what}: {errno.errorcode.get(err, 'ok') if err else 'ok'}")
        if mode in (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE):
            if not err:
                self.problem(f"{what}: succeeded, expected EOPNOTSUPP")
            return
        if err:
            return
        if mode & FALLOC_FL_PUNCH_HOLE:
            node.zero(off, min(off + n, node.size))
        elif mode & FALLOC_FL_ZERO_RANGE:
            node.zero(off, off + n)
        if not mode & FALLOC_FL_KEEP_SIZE:
            node.size = max(node.size, off + n)

    def op_link(self):
        name = self.pick()
        if name is None or len(self.names) >= MAX_FILES:
            return
        new = self.new_name()
        _, err = self.call(MAY_ENOSPC, f"link {name} {new}", os.link, self.path(name), self.path(new))
        if not err:
            self.names[new] = self.names[name]
            self.names[new].note(f"op {self.opno}: linked {name} as {new}")

    def op_rename(self):
        name = self.pick()
        if name is None:
            return
        over = self.rng.random() < 0.5 and len(self.names) > 1
        new = self.rng.choice([n for n in sorted(self.names) if n != name]) if over else self.new_name()
        what = f"rename {name} {new}"
        _, err = self.call(NEVER if over else MAY_ENOSPC, what, os.rename, self.path(name), self.path(new))
        if err:
            return
        if self.names.get(new) is self.names[name]:
            return      # two links of one file: rename(2) does nothing
        node = self.names.pop(name)
        self.names[new] = node
        node.note(f"op {self.opno}: {what}")

    def op_unlink(self):
        name = self.pick()
        if name is None:
            return
        _, err = self.call(NEVER, f"unlink {name}", os.unlink, self.path(name))
        if not err:
            self.names.pop(name).note(f"op {self.opno}: unlinked {name}")

    def op_setxattr(self):
        name = self.pick()
        if name is None:
            return
        node = self.names[name]
        key = f"user.k{self.rng.randrange(8)}"
        value = self.data(self.rng.randrange(0, 600))
        what = f"setxattr {name} {key} ({len(value)} bytes)"
        _, err = self.call(MAY_ENOSPC, what, os.setxattr, self.path(name), key, value)
        if not err:
            node.xattrs[key] = value
        node.note(f"op {self.opno}: {what}: {errno.errorcode.get(err, 'ok') if err else 'ok'}")

    def op_removexattr(self):
        name = self.pick()
        if name is None or not self.names[name].xattrs:
            return self.op_setxattr()
        node = self.names[name]
        key = self.rng.choice(sorted(node.xattrs))
        _, err = self.call(NEVER, f"removexattr {name} {key}", os.removexattr, self.path(name), key)
        if not err:
            del node.xattrs[key]
            node.note(f"op {self.opno}: removexattr {key}")

    def op_dir(self):
        if self.dirs and self.rng.random() < 0.5:
            d = self.rng.choice(sorted(self.dirs))
            _, err = self.call(NEVER, f"rmdir {d}", os.rmdir, self.path(d))
            if not err:
                self.dirs.discard(d)
            return
        d = self.new_name() + "_dir"
        _, err = self.call(MAY_ENOSPC, f"mkdir {d}", os.mkdir, self.path(d))
        if not err:
            self.dirs.add(d)

    def op_statfs(self):
        st = os.statvfs(self.mnt)
        if not st.f_bavail <= st.f_bfree <= st.f_blocks:
            self.problem(f"statfs: blocks {st.f_blocks} free {st.f_bfree} available {st.f_bavail}")

    OPS = [("create", 6), ("write", 22), ("append", 8), ("fill", 3), ("truncate", 9),
           ("fallocate", 14), ("link", 3), ("rename", 6), ("unlink", 5), ("setxattr", 4),
           ("removexattr", 3), ("dir", 2), ("statfs", 2)]

    def run(self):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        self.op_create()
        self.op_fill()
        for self.opno in range(1, self.nops + 1):
            getattr(self, "op_" + self.rng.choices(names, weights)[0])()
            if len(self.problems) >= 5:
                break


def _worker_main(mnt, seed, index, nops, max_off, out):
    """One worker process: its log (every call and its outcome) next to out;
    its model, problems and ENOSPC count pickled to out."""
    w = Worker(mnt, seed, index, nops, max_off)
    # the process ends in os._exit: whatever is not closed here is lost
    with open(out + ".log", "w") as w.log:
        try:
            w.run()
        except Exception:      # a crash of the workload itself is a problem too
            w.problem("worker raised:\n" + traceback.format_exc())
    w.log = None
    with open(out, "wb") as f:
        pickle.dump({"names": w.names, "dirs": w.dirs, "problems": w.problems,
                     "enospc": w.enospc}, f)


def run(mnt, tmp, seed, nprocs, nops, fs_bytes, timeout=600):
    """Runs nprocs workers of nops operations each on the mount at mnt.
    Returns (models, problems, enospc): models[i] = (names, dirs) of worker i."""
    for d in SHARED_DIRS:
        os.makedirs(os.path.join(str(mnt), d), exist_ok=True)
    max_off = min(max(fs_bytes // 4, MIB), 16 * MIB)
    ctx = multiprocessing.get_context("fork")
    outs = [os.path.join(str(tmp), f"worker{i}.pickle") for i in range(nprocs)]
    procs = [ctx.Process(target=_worker_main, args=(str(mnt), seed, i, nops, max_off, outs[i]))
             for i in range(nprocs)]
    for p in procs:
        p.start()
    problems = []
    for i, p in enumerate(procs):
        p.join(timeout)
        if p.is_alive():
            problems.append(f"seed {seed} worker {i}: still running after {timeout}s (hung?)")
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    models, enospc = [], 0
    for i, out in enumerate(outs):
        if not os.path.exists(out):
            problems.append(f"seed {seed} worker {i}: exited {procs[i].exitcode} without a result")
            models.append(({}, set()))
            continue
        with open(out, "rb") as f:
            r = pickle.load(f)
        models.append((r["names"], r["dirs"]))
        problems += r["problems"]
        enospc += r["enospc"]
    return models, problems, enospc


def _listing(mnt, index):
    prefix = f"w{index}_"
    found = set()
    for d in [""] + SHARED_DIRS:
        for entry in os.listdir(os.path.join(str(mnt), d)):
            if entry.startswith(prefix):
                found.add(os.path.join(d, entry))
    return found


def verify(mnt, seed, models):
    """Compares the filesystem at mnt with the models; returns problems."""
    problems = []
    for index, (names, dirs) in enumerate(models):
        where = f"seed {seed} worker {index}"
        found, want = _listing(mnt, index), set(names) | set(dirs)
        if found != want:
            problems.append(f"{where}: names {sorted(found - want)} not in the model, "
                            f"{sorted(want - found)} missing")
        links = {}
        for node in names.values():
            links[node.id] = links.get(node.id, 0) + 1
        for name in sorted(set(names) & found):
            problems += _verify_file(mnt, where, name, names[name], links[names[name].id])
    return problems


def _verify_file(mnt, where, name, node, nlink):
    path = os.path.join(str(mnt), name)
    st = os.stat(path)
    out = []
    history = "\n    ".join(node.history)
    if st.st_size != node.size:
        out.append(f"{where}: {name}: size {st.st_size}, model {node.size}")
    if st.st_nlink != nlink:
        out.append(f"{where}: {name}: {st.st_nlink} links, model {nlink}")
    xattrs = {k: os.getxattr(path, k) for k in os.listxattr(path) if k.startswith("user.")}
    if xattrs != node.xattrs:
        out.append(f"{where}: {name}: xattrs {sorted(xattrs)}, model {sorted(node.xattrs)}")
    with open(path, "rb") as f:
        off = 0
        while off < min(st.st_size, node.size):
            got = f.read(MIB)
            want = node.expected(off, len(got))
            if got != want:
                bad = next(i for i in range(len(got)) if got[i] != want[i])
                out.append(f"{where}: {name}: byte {off + bad} is {got[bad]:#04x}, model {want[bad]:#04x} "
                           f"(block {(off + bad) // PAGE})")
                break
            off += len(got)
    if out:
        out.append(f"{where}: {name}: last operations:\n    {history}")
    return out

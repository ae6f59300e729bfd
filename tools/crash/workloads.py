"""Crash workloads: sequences of file operations run on a daxfs-fuse mount.

A workload is a list of steps; each step is one system call (or a short fixed
sequence such as mmap+store+msync) on paths relative to the mount. Steps that
make something durable say what: SYNC_* below. The oracle (oracle.py) needs
nothing else: the state the filesystem claims after each step is observed
live (snapshot()), so no model of POSIX semantics is written here.

Data written by a step is pattern(tag, off, len): never zero, different for
every tag, so that a stale byte, a lost byte and a byte of another write are
all told apart from the bytes a write put there.
"""
import ctypes
import fcntl
import mmap
import os
import random
import stat

# what a step acknowledges when it returns
SYNC_NONE = None
SYNC_FILE = "file"        # fsync: the inode's data and attributes
SYNC_DATA = "data"        # fdatasync, msync: the inode's data and size
SYNC_DIR = "dir"          # fsync of a directory: its entries
SYNC_ALL = "all"          # syncfs, unmount: everything

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
FALLOC_FL_ZERO_RANGE = 0x10

_libc = ctypes.CDLL(None, use_errno=True)
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_uint]
_libc.syncfs.argtypes = [ctypes.c_int]
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
AT_FDCWD = -100


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def pattern(tag, off, length):
    """Bytes 1..251, a function of the write's tag and the file offset."""
    return bytes((tag * 131 + pos * 7 + (pos >> 9)) % 251 + 1 for pos in range(off, off + length))


# ---- the steps ----------------------------------------------------------
# Each takes the mount path and the step's arguments, and returns the path
# whose inode a SYNC_FILE/SYNC_DATA/SYNC_DIR step acknowledged (or None).

def _p(mnt, path):
    return os.path.join(mnt, path)


def op_create(mnt, path, mode=0o644):
    os.close(os.open(_p(mnt, path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))


def op_mkdir(mnt, path, mode=0o755):
    os.mkdir(_p(mnt, path), mode)


def op_mkfifo(mnt, path, mode=0o644):
    os.mkfifo(_p(mnt, path), mode)


# Descriptors held open across steps ("hold"/"release"), so that a file can
# be unlinked while open and the crash find it orphaned.
_held = {}


def op_hold(mnt, path):
    _held[(mnt, path)] = os.open(_p(mnt, path), os.O_RDWR)


def op_hold_osync(mnt, path):
    """Held open O_SYNC, then F_SETFL, which on Linux changes O_APPEND and
    O_NONBLOCK but never clears O_SYNC: each write_osync is durable at its
    return, while the file stays open."""
    fd = os.open(_p(mnt, path), os.O_RDWR | os.O_SYNC)
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
    _held[(mnt, path)] = fd


def op_write_osync(mnt, path, off, length, tag):
    os.pwrite(_held[(mnt, path)], pattern(tag, off, length), off)
    return path


def op_release(mnt, path):
    os.close(_held.pop((mnt, path)))


def release_all(mnt):
    """Closes what a failed workload left held, before unmounting."""
    for key in [k for k in _held if k[0] == mnt]:
        os.close(_held.pop(key))


def op_write_held(mnt, path, off, length, tag):
    os.pwrite(_held[(mnt, path)], pattern(tag, off, length), off)


def op_write(mnt, path, off, length, tag):
    fd = os.open(_p(mnt, path), os.O_WRONLY)
    try:
        os.pwrite(fd, pattern(tag, off, length), off)
    finally:
        os.close(fd)


def op_append(mnt, path, length, tag):
    fd = os.open(_p(mnt, path), os.O_WRONLY | os.O_APPEND)
    try:
        off = os.fstat(fd).st_size
        os.write(fd, pattern(tag, off, length))
    finally:
        os.close(fd)


def op_mmap_msync(mnt, path, off, length, tag):
    """Stores through a shared mapping of existing bytes, then msync(MS_SYNC)."""
    fd = os.open(_p(mnt, path), os.O_RDWR)
    try:
        start = off - off % mmap.PAGESIZE
        with mmap.mmap(fd, off + length - start, offset=start) as m:
            m[off - start:off - start + length] = pattern(tag, off, length)
            m.flush()
    finally:
        os.close(fd)
    return path


def _sync_file(mnt, path, sync):
    fd = os.open(_p(mnt, path), os.O_RDONLY)
    try:
        sync(fd)
    finally:
        os.close(fd)
    return path


def op_fsync(mnt, path):
    return _sync_file(mnt, path, os.fsync)


def op_fdatasync(mnt, path):
    return _sync_file(mnt, path, os.fdatasync)


def op_syncfs(mnt):
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _check(_libc.syncfs(fd), "syncfs")
    finally:
        os.close(fd)


def op_truncate(mnt, path, size):
    os.truncate(_p(mnt, path), size)


def op_fallocate(mnt, path, mode, off, length):
    fd = os.open(_p(mnt, path), os.O_WRONLY)
    try:
        _check(_libc.fallocate(fd, mode, off, length), "fallocate")
    finally:
        os.close(fd)


def op_rename(mnt, src, dst, flags=0):
    _check(_libc.renameat2(AT_FDCWD, _p(mnt, src).encode(), AT_FDCWD, _p(mnt, dst).encode(),
                           flags), "renameat2")


def op_link(mnt, src, dst):
    os.link(_p(mnt, src), _p(mnt, dst))


def op_unlink(mnt, path):
    os.unlink(_p(mnt, path))


def op_rmdir(mnt, path):
    os.rmdir(_p(mnt, path))


def op_symlink(mnt, target, path):
    os.symlink(target, _p(mnt, path))


def op_setxattr(mnt, path, name, value):
    os.setxattr(_p(mnt, path), name, value.encode(), follow_symlinks=False)


def op_removexattr(mnt, path, name):
    os.removexattr(_p(mnt, path), name, follow_symlinks=False)


def op_chmod(mnt, path, mode):
    os.chmod(_p(mnt, path), mode)


def op_chown(mnt, path, uid, gid):
    os.chown(_p(mnt, path), uid, gid, follow_symlinks=False)


OPS = {
    "create": (op_create, SYNC_NONE), "mkdir": (op_mkdir, SYNC_NONE),
    "mkfifo": (op_mkfifo, SYNC_NONE), "hold": (op_hold, SYNC_NONE),
    "release": (op_release, SYNC_NONE), "write_held": (op_write_held, SYNC_NONE),
    "write": (op_write, SYNC_NONE), "append": (op_append, SYNC_NONE),
    "hold_osync": (op_hold_osync, SYNC_NONE), "write_osync": (op_write_osync, SYNC_FILE),
    "mmap_msync": (op_mmap_msync, SYNC_DATA),
    "fsync": (op_fsync, SYNC_FILE), "fdatasync": (op_fdatasync, SYNC_DATA),
    "fsyncdir": (op_fsync, SYNC_DIR), "syncfs": (op_syncfs, SYNC_ALL),
    "truncate": (op_truncate, SYNC_NONE), "fallocate": (op_fallocate, SYNC_NONE),
    "rename": (op_rename, SYNC_NONE), "link": (op_link, SYNC_NONE),
    "unlink": (op_unlink, SYNC_NONE), "rmdir": (op_rmdir, SYNC_NONE),
    "symlink": (op_symlink, SYNC_NONE), "setxattr": (op_setxattr, SYNC_NONE),
    "removexattr": (op_removexattr, SYNC_NONE), "chmod": (op_chmod, SYNC_NONE),
    "chown": (op_chown, SYNC_NONE),
}


def run_step(mnt, step):
    """Runs one step; returns the acknowledged path (or None)."""
    fn, _ = OPS[step[0]]
    return fn(mnt, *step[1:])


def sync_kind(step):
    return OPS[step[0]][1]


def describe(step):
    return " ".join(oct(a) if isinstance(a, int) and step[0] in ("chmod", "create") and a > 7
                    else str(a) for a in step)


# ---- the state a mount shows ----------------------------------------------

def snapshot(mnt):
    """{path: entry} of everything under mnt (the root is "."). An entry has
    ino, parent (the directory's ino), type ("reg", "dir", "lnk", "other"),
    mode (permission bits), uid, gid, size, data (regular files), target
    (symlinks) and xattrs {name: value}."""
    out = {}
    root_ino = os.lstat(mnt).st_ino

    def entry(full, parent):
        st = os.lstat(full)
        if stat.S_ISREG(st.st_mode):
            kind = "reg"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir"
        elif stat.S_ISLNK(st.st_mode):
            kind = "lnk"
        else:
            kind = "other"
        e = {"ino": st.st_ino, "parent": parent, "type": kind, "mode": stat.S_IMODE(st.st_mode),
             "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "nlink": st.st_nlink}
        if kind == "reg":
            with open(full, "rb") as f:
                e["data"] = f.read()
        if kind == "lnk":
            e["target"] = os.readlink(full)
        xattrs = {}
        if kind != "lnk":
            for name in os.listxattr(full, follow_symlinks=False):
                if name.startswith("system."):
                    continue
                xattrs[name] = os.getxattr(full, name, follow_symlinks=False)
        e["xattrs"] = xattrs
        return e

    out["."] = entry(mnt, root_ino)
    stack = [("", mnt, root_ino)]
    while stack:
        rel, full, ino = stack.pop()
        for name in sorted(os.listdir(full)):
            r, f = (f"{rel}/{name}" if rel else name), os.path.join(full, name)
            out[r] = entry(f, ino)
            if out[r]["type"] == "dir":
                stack.append((r, f, out[r]["ino"]))
    return out


# ---- the workloads -----------------------------------------------------------
# Each covers one family of metadata paths, and ends its interesting part with
# acknowledged steps so that durability is checked as well as atomicity.

KIB = 1024

WORKLOADS = {
    "create": [
        ("create", "a"), ("create", "b"), ("fsyncdir", "."),
        ("create", "c", 0o600), ("fsync", "c"), ("create", "d"), ("fsyncdir", "."),
        ("create", "e"),
    ],
    "mkdir": [
        ("mkdir", "d1"), ("mkdir", "d1/d2"), ("fsyncdir", "d1"), ("fsyncdir", "."),
        ("create", "d1/d2/f"), ("mkdir", "d3"), ("fsyncdir", "d1/d2"), ("mkdir", "d3/d4"),
    ],
    "write_fsync": [
        ("create", "f"), ("write", "f", 0, 6000, 1), ("fsync", "f"), ("fsyncdir", "."),
        ("write", "f", 3000, 10000, 2), ("fsync", "f"),
        ("write", "f", 100, 200, 3),
    ],
    "write_osync": [
        ("create", "s"), ("fsyncdir", "."), ("hold_osync", "s"),
        ("write_osync", "s", 0, 6000, 1), ("create", "t"),
        ("write_osync", "s", 3000, 10000, 2), ("create", "u"),
        ("write_osync", "s", 100, 200, 3), ("create", "v"), ("release", "s"),
    ],
    "append": [
        ("create", "log"), ("fsyncdir", "."),
        ("append", "log", 100, 1), ("fdatasync", "log"),
        ("append", "log", 5000, 2), ("append", "log", 9000, 3), ("fsync", "log"),
        ("append", "log", 50, 4),
    ],
    "truncate": [
        ("create", "t"), ("write", "t", 0, 20000, 1), ("fsync", "t"), ("fsyncdir", "."),
        ("truncate", "t", 5000), ("fsync", "t"),
        ("truncate", "t", 40000), ("fsync", "t"),
        ("truncate", "t", 0), ("write", "t", 0, 100, 2), ("fsync", "t"),
    ],
    "fallocate": [
        ("create", "p"), ("write", "p", 0, 32 * KIB, 1), ("fsync", "p"), ("fsyncdir", "."),
        ("fallocate", "p", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192),
        ("fsync", "p"),
        ("fallocate", "p", 0, 32 * KIB, 16 * KIB), ("fsync", "p"),
        ("fallocate", "p", FALLOC_FL_KEEP_SIZE, 64 * KIB, 8192),
        ("fallocate", "p", FALLOC_FL_ZERO_RANGE, 100, 5000), ("fdatasync", "p"),
    ],
    "rename": [
        ("create", "a"), ("write", "a", 0, 3000, 1), ("mkdir", "d"), ("fsyncdir", "."),
        ("rename", "a", "d/b"), ("fsyncdir", "d"), ("fsyncdir", "."),
        ("create", "c"), ("write", "c", 0, 1000, 2), ("fsync", "c"),
        ("rename", "c", "d/b"), ("fsyncdir", "d"),                      # replace
        ("create", "e"), ("fsyncdir", "."),
        ("rename", "e", "d/b", RENAME_EXCHANGE), ("fsyncdir", "d"),     # exchange
        ("rename", "d", "d2"), ("rename", "e", "d2/f", RENAME_NOREPLACE),
    ],
    "link_unlink": [
        ("create", "a"), ("write", "a", 0, 2000, 1), ("fsync", "a"), ("fsyncdir", "."),
        ("link", "a", "b"), ("fsyncdir", "."),
        ("unlink", "a"), ("fsyncdir", "."),
        ("mkdir", "d"), ("link", "b", "d/c"), ("unlink", "b"), ("unlink", "d/c"),
        ("rmdir", "d"), ("fsyncdir", "."),
    ],
    "rmdir": [
        ("mkdir", "x"), ("mkdir", "x/y"), ("mkdir", "z"), ("fsyncdir", "x"), ("fsyncdir", "."),
        ("rmdir", "x/y"), ("fsyncdir", "x"), ("rmdir", "x"), ("fsyncdir", "."), ("rmdir", "z"),
    ],
    "symlink": [
        ("symlink", "target/that/does/not/exist", "s1"), ("fsyncdir", "."),
        ("symlink", "x" * 300, "s2"), ("fsyncdir", "."),
        ("rename", "s1", "s3"), ("unlink", "s2"),
    ],
    "xattr": [
        ("create", "f"), ("fsyncdir", "."),
        ("setxattr", "f", "user.a", "one"), ("fsync", "f"),
        ("setxattr", "f", "user.b", "v" * 600), ("setxattr", "f", "user.a", "two"),
        ("fsync", "f"), ("removexattr", "f", "user.b"),
    ],
    "attr": [
        ("create", "f"), ("mkdir", "d"), ("fsyncdir", "."),
        ("chmod", "f", 0o600), ("fsync", "f"),
        ("chown", "f", 1000, 1000), ("chmod", "d", 0o700), ("fsync", "f"),
        ("chown", "d", 12, 34), ("fsync", "d"), ("chmod", "f", 0o4755),
    ],
    "mmap": [
        ("create", "m"), ("write", "m", 0, 12000, 1), ("fsync", "m"), ("fsyncdir", "."),
        ("mmap_msync", "m", 5000, 3000, 2),
        ("mmap_msync", "m", 100, 20, 3),
    ],
    "reuse": [
        # freed blocks full of another file's bytes must never show up in a
        # file that grew into them
        ("create", "old"), ("write", "old", 0, 64 * KIB, 7), ("fsync", "old"),
        ("fsyncdir", "."), ("unlink", "old"), ("create", "new"),
        ("write", "new", 0, 1000, 8), ("truncate", "new", 64 * KIB),
        ("write", "new", 40 * KIB, 100, 9), ("fsync", "new"),
        ("append", "new", 16 * KIB, 10),
    ],
    "orphan": [
        # an unlinked file still open is freed at the next mount after a crash
        ("create", "o"), ("write", "o", 0, 20000, 1), ("fsync", "o"), ("fsyncdir", "."),
        ("hold", "o"), ("unlink", "o"), ("fsyncdir", "."),
        ("write_held", "o", 20000, 8000, 2), ("create", "p"), ("write", "p", 0, 9000, 3),
        ("fsync", "p"), ("fsyncdir", "."), ("release", "o"), ("fsyncdir", "."),
    ],
    "bigfile": [
        # writes that span stripe chunks, so one fsync fences both devices
        ("create", "b"), ("write", "b", 0, 200 * KIB, 1), ("fsync", "b"), ("fsyncdir", "."),
        ("write", "b", 500 * KIB, 3000, 2), ("fdatasync", "b"),            # into a hole
        ("write", "b", 30 * KIB, 70 * KIB, 3), ("truncate", "b", 100 * KIB + 7),
        ("fsync", "b"), ("append", "b", 64 * KIB, 4),
    ],
    # a mount after the crash releases the open files in the inode table's
    # second extent and gives that extent back (dfs_itable_shrink)
    "shrink": [
        *[("create", f"f{i}") for i in range(300)],
        ("fsyncdir", "."), ("hold", "f299"), ("hold", "f5"),
        *[("unlink", f"f{i}") for i in range(300)],
        ("fsyncdir", "."),
    ],
    "bigdir": [
        ("mkdir", "d"), ("fsyncdir", "."),
        *[("create", f"d/file-with-a-long-name-{i:03}") for i in range(60)],
        ("fsyncdir", "d"),
        *[("unlink", f"d/file-with-a-long-name-{i:03}") for i in range(0, 60, 3)],
        ("rename", "d/file-with-a-long-name-001", "d/x"), ("fsyncdir", "d"),
        ("create", "d/y"),
    ],
    "dirs": [
        # directory renames: across parents (".." moves), over an empty one
        ("mkdir", "a"), ("mkdir", "a/sub"), ("create", "a/sub/f"), ("mkdir", "b"),
        ("mkdir", "empty"), ("fsyncdir", "a"), ("fsyncdir", "."),
        ("rename", "a/sub", "b/sub"), ("fsyncdir", "a"), ("fsyncdir", "b"),
        ("rename", "b", "empty"), ("fsyncdir", "."),
        ("mkfifo", "empty/fifo"), ("setxattr", "empty", "user.dir", "yes"), ("fsync", "empty"),
        ("rename", "a", "c", RENAME_NOREPLACE),
    ],
    "links": [
        # replacing one name of a multiply-linked inode frees nothing
        ("create", "f"), ("write", "f", 0, 5000, 1), ("link", "f", "g"), ("link", "f", "h"),
        ("fsync", "f"), ("fsyncdir", "."),
        ("create", "n"), ("rename", "n", "g"), ("fsyncdir", "."),
        ("rename", "f", "h"),           # same inode: POSIX says do nothing
        ("unlink", "h"), ("fsyncdir", "."), ("unlink", "f"), ("create", "f"),
    ],
    "xattr_many": [
        ("create", "f"), ("fsyncdir", "."),
        *[("setxattr", "f", f"user.attr{i}", f"{i}" * (40 + 30 * i)) for i in range(12)],
        ("fsync", "f"),
        *[("removexattr", "f", f"user.attr{i}") for i in range(0, 12, 2)],
        ("setxattr", "f", "user.attr1", "replaced"), ("fsync", "f"),
    ],
    "mixed": None,      # generated from a seed: mixed_steps()
    # syncfs must make every earlier step durable. FUSE forwards syncfs only
    # for virtiofs (fc->sync_fs), so on daxfs-fuse it returns at once and
    # this workload shows whether the filesystem is durable without it.
    "syncfs": [
        ("create", "a"), ("write", "a", 0, 5000, 1), ("mkdir", "d"), ("syncfs",),
        ("create", "d/b"),
    ],
}


def mixed_steps(seed=7, count=60):
    """A seeded sequence of valid steps over a few files and directories,
    with a small model of the names so that every step succeeds."""
    rng = random.Random(seed)
    files, dirs, steps = {}, [""], []
    tag = 0

    def name(prefix):
        d = rng.choice(dirs)
        return f"{d}/{prefix}{len(steps)}" if d else f"{prefix}{len(steps)}"

    while len(steps) < count:
        op = rng.choice(["create", "create", "mkdir", "write", "write", "append", "truncate",
                         "rename", "link", "unlink", "setxattr", "chmod", "fsync",
                         "fsyncdir", "fsyncdir"])
        tag += 1
        if op == "create" or (not files and op != "mkdir" and op != "fsyncdir"):
            p = name("f")
            steps.append(("create", p))
            files[p] = 0
        elif op == "mkdir" and len(dirs) < 4:
            p = name("d")
            steps.append(("mkdir", p))
            dirs.append(p)
        elif op == "fsyncdir":
            steps.append(("fsyncdir", rng.choice(dirs) or "."))
        elif op == "write":
            p = rng.choice(sorted(files))
            off, n = rng.randrange(0, 40000), rng.randrange(1, 20000)
            steps.append(("write", p, off, n, tag))
            files[p] = max(files[p], off + n)
        elif op == "append":
            p = rng.choice(sorted(files))
            n = rng.randrange(1, 9000)
            steps.append(("append", p, n, tag))
            files[p] += n
        elif op == "truncate":
            p = rng.choice(sorted(files))
            files[p] = rng.randrange(0, 50000)
            steps.append(("truncate", p, files[p]))
        elif op == "rename":
            p, q = rng.choice(sorted(files)), name("r")
            steps.append(("rename", p, q))
            files[q] = files.pop(p)
        elif op == "link":
            p, q = rng.choice(sorted(files)), name("l")
            steps.append(("link", p, q))
            files[q] = files[p]       # sizes of links move together below
        elif op == "unlink":
            p = rng.choice(sorted(files))
            steps.append(("unlink", p))
            del files[p]
        elif op == "setxattr":
            steps.append(("setxattr", rng.choice(sorted(files)), f"user.x{tag % 3}", f"v{tag}"))
        elif op == "chmod":
            steps.append(("chmod", rng.choice(sorted(files)), rng.choice([0o600, 0o640, 0o755])))
        elif op == "fsync":
            steps.append(("fsync", rng.choice(sorted(files))))
    steps.append(("fsyncdir", "."))
    return steps


def names():
    return sorted(WORKLOADS)


def get(name):
    if name not in WORKLOADS:
        raise KeyError(f"unknown workload {name!r} (have: {', '.join(names())})")
    return WORKLOADS[name] if WORKLOADS[name] is not None else mixed_steps()


assert all(step[0] in OPS for n in WORKLOADS for step in get(n))

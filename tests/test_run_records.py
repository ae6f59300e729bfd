"""daxfs-run: fdatasync after writes that extended a file makes the size durable with a size record
(docs/FORMAT.md, "Size records"), without a request; the next mount gives the file that size, never
one a later truncate cut, and files without a record pair ask the daemon as before."""
import os
import signal
import textwrap

from mount import daxfs, daxfs_factory  # noqa: F401  (fixture)
from run_util import Stepper, py_plain, py_start
from test_run_pending import daemon_stopped, step


def chunk(i, n=3000):
    return bytes([65 + i % 26]) * n


def killed_and_mounted_again(d):
    """The daemon dies without committing anything more (commit=60000 keeps
    its metadata in memory), then a new one mounts the filesystem."""
    d.terminate(signal.SIGKILL)
    d.mount()


def test_fdatasync_after_appends_asks_nothing_and_its_size_survives_the_daemons_kill(daxfs):
    daxfs.remount("commit=60000")
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    with Stepper(p, os.O_RDWR | os.O_APPEND) as s:
        assert step(s, f"os.write(fd, {chunk(0)!r})") == "3000"
        with daemon_stopped(daxfs):
            for i in range(1, 5):
                assert step(s, f"os.write(fd, {chunk(i)!r})") == "3000"
            # answered with the daemon stopped: no request
            assert step(s, "os.fdatasync(fd)") == "None"
        killed_and_mounted_again(daxfs)
        s.finish()
    assert p.read_bytes() == b"".join(chunk(i) for i in range(5))
    daxfs.unmount()
    daxfs.fsck()


def test_a_truncate_after_a_record_is_not_undone_by_it(daxfs):
    """The writer keeps a mapping (so it keeps its lease and record pair
    through the cut); another process truncates and fsyncs; the writer
    appends into blocks the cut freed, allocated again, where the older,
    larger record would find written blocks: the cut's epoch voids it."""
    daxfs.remount("commit=60000")
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    with Stepper(p, os.O_RDWR | os.O_APPEND) as s:
        for i in range(4):
            assert step(s, f"os.write(fd, {chunk(i)!r})") == "3000"
        assert step(s, "os.fdatasync(fd)") == "None"
        step(s, "globals().__setitem__('m', __import__('mmap').mmap(fd, 4096))")
        py_plain("""
            import os, sys
            fd = os.open(sys.argv[1], os.O_WRONLY)
            os.ftruncate(fd, 5000)
            os.fsync(fd)
            """, p)
        assert step(s, f"os.write(fd, {chunk(9, 4000)!r})") == "4000"
        assert step(s, "os.fdatasync(fd)") == "None"
        killed_and_mounted_again(daxfs)
        s.finish()
    assert p.read_bytes() == (chunk(0) + chunk(1))[:5000] + chunk(9, 4000)


BATCH_CODE = """
    import os, sys
    prefix, salt, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fds = [os.open(os.path.join(sys.argv[1], f"{prefix}{k}"),
                   os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644) for k in range(n)]
    for r in range(3):
        for k, fd in enumerate(fds):
            os.write(fd, bytes([65 + (salt + k + r) % 26]) * (1000 + k))
            os.fdatasync(fd)
    print("ready", flush=True)
    sys.stdin.readline()
    """


def written(salt, k):
    return b"".join(bytes([65 + (salt + k + r) % 26]) * (1000 + k) for r in range(3))


def batch(daxfs, prefix, salt, n):
    """A writer of n files prefix0.., killed (-9) once its fdatasyncs
    returned: the daemon learns of the end of its leases by the release of
    its files, and nobody gives back the blocks it allocated ahead."""
    w = py_start(textwrap.dedent(BATCH_CODE), daxfs.mnt, prefix, str(salt), str(n),
                 debug=False, stderr=False)
    try:
        assert w.stdout.readline() == "ready\n"
    except BaseException:
        w.kill()
        w.wait()
        raise
    return w


def roomy(daxfs_factory):
    """A mount with room for dozens of files' blocks allocated ahead, its
    metadata kept in memory for a minute (commit=60000)."""
    d = daxfs_factory(size=512 << 20)
    d.mkfs()
    d.mount("commit=60000")
    return d


def gone(w):
    w.kill()
    w.wait()


def test_a_pair_used_again_keeps_the_size_of_the_file_before(daxfs_factory):
    """28 files take every record pair, and their writer dies; 28 others,
    which still have blocks allocated ahead (so nothing asks the daemon),
    take the same pairs and write over their records: the sizes of the
    first ones were committed when their leases ended."""
    daxfs = roomy(daxfs_factory)
    gone(batch(daxfs, "g", 5, 28))
    gone(batch(daxfs, "f", 0, 28))
    w = batch(daxfs, "g", 9, 28)
    try:
        killed_and_mounted_again(daxfs)
    finally:
        gone(w)
    for k in range(28):
        assert (daxfs.mnt / f"f{k}").read_bytes() == written(0, k), f"f{k}"
        assert (daxfs.mnt / f"g{k}").read_bytes() == written(5, k) + written(9, k), f"g{k}"
    daxfs.unmount()
    daxfs.fsck()


def test_more_files_than_record_pairs_keep_every_size(daxfs_factory):
    """40 files at once, more than the 28 pairs: the rest ask the daemon."""
    daxfs = roomy(daxfs_factory)
    w = batch(daxfs, "f", 0, 40)
    try:
        killed_and_mounted_again(daxfs)
    finally:
        gone(w)
    for k in range(40):
        assert (daxfs.mnt / f"f{k}").read_bytes() == written(0, k), f"f{k}"
    daxfs.unmount()
    daxfs.fsck()


def test_a_file_removed_while_its_writer_has_it_open_ends_cleanly(daxfs):
    """The last close of a file that was removed meanwhile commits nothing
    for its records and says nothing about it; the daemon's stderr is
    checked at unmount."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"")
    with Stepper(p, os.O_RDWR | os.O_APPEND) as s:
        assert step(s, f"os.write(fd, {chunk(0)!r})") == "3000"
        assert step(s, "os.fdatasync(fd)") == "None"
        p.unlink()
        assert step(s, f"os.write(fd, {chunk(1)!r})") == "3000"
        assert step(s, "os.fdatasync(fd)") == "None"
        s.finish()
    assert not p.exists()
    daxfs.unmount()
    daxfs.fsck()

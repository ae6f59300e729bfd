"""daxfs-run: a truncate or hole punch by another process reaches the library's mappings before it returns, as
the kernel's DAX truncate unmaps the pages from every process, and the blocks it drops reach no other file while
they are mapped."""
import os
import subprocess
import sys
import time

from conftest import BUILD_DIR
from client_util import dmaps  # noqa: F401  (fixture)
from mount import MIB, PAGE, daxfs  # noqa: F401  (fixture)
from run_util import Driven, Stepper
from test_client_lease import DEADLINE, blocks, fill_until_enospc

PROBE = BUILD_DIR / "tests/run/probe"
SIZE = 8 * MIB
PAGES = SIZE // PAGE


def holder(path):
    """probe hold: a process under daxfs-run with path mapped shared, read-write."""
    return Driven([PROBE, "hold", path, SIZE], "mapped")


def test_a_truncate_by_another_process_makes_the_pages_past_eof_sigbus(daxfs):
    f = daxfs.mnt / "f"
    f.write_bytes(b"A" * SIZE)
    old = blocks(daxfs, f)
    with holder(f) as a:
        assert a.step(f"load {SIZE - 1}") == "loaded 65"
        # a process without the library cuts the file to two pages and 100
        # bytes: from the return of truncate on, past EOF raises SIGBUS, the
        # rest of the last page reads zeroes
        os.truncate(f, 2 * PAGE + 100)
        assert a.step(f"load {3 * PAGE}") == "sigbus"
        assert a.step(f"load {SIZE - 1}") == "sigbus"
        assert a.step(f"load {2 * PAGE + 99}") == "loaded 65"
        assert a.step(f"load {2 * PAGE + 100}") == "loaded 0"
        assert a.step("scan") == f"A x2 A0 x1 - x{PAGES - 3}"
        assert a.step(f"pread 0 {SIZE}") == f"read {2 * PAGE + 100}"
        # another file takes every free block: none of its bytes shows
        # through the mapping, which still addresses none of them
        g = daxfs.mnt / "g"
        fill_until_enospc(g, ord("B"))
        assert not blocks(daxfs, g) & old
        assert a.step("scan") == f"A x2 A0 x1 - x{PAGES - 3}"
        assert a.step(f"pread 0 {SIZE}") == f"read {2 * PAGE + 100}"
        # growing the file again maps the new pages at the next touch
        os.truncate(f, 4 * PAGE)
        assert a.step(f"load {3 * PAGE}") == "loaded 0"
        assert a.step(f"load {4 * PAGE}") == "sigbus"
        err = a.finish()
    assert a.proc.returncode == 0, err
    assert "mappings follow the daemon's recall" in err
    # once the holder is gone (the kernel sends RELEASE after its close),
    # the blocks the truncate dropped go to the next file that asks
    deadline = time.monotonic() + DEADLINE
    while not blocks(daxfs, g) & old:
        assert time.monotonic() < deadline, "the dropped blocks never came back"
        fill_until_enospc(g, ord("B"))
    daxfs.unmount()
    daxfs.fsck()


def test_a_hole_punched_by_another_process_reads_zeroes_through_the_mapping(daxfs):
    f = daxfs.mnt / "f"
    f.write_bytes(b"A" * SIZE)
    with holder(f) as a:
        assert a.step(f"load {PAGE}") == "loaded 65"
        r = subprocess.run(["fallocate", "-p", "-o", str(PAGE), "-l", str(2 * PAGE), str(f)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        # a writable mapping of a DAX file gets the range allocated again
        # at its next store; here at the recall: zeroes, and stores stick
        assert a.step("scan") == f"A x1 0 x2 A x{PAGES - 3}"
        err = a.finish()
    assert a.proc.returncode == 0, err
    assert f.read_bytes() == b"A" * PAGE + bytes(2 * PAGE) + b"A" * (SIZE - 3 * PAGE)



FORKED = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, int(sys.argv[2]))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(r, 1)
    # the child's copy of the mapping: what its pages hold now
    print("".join(sorted(set(m[:].decode("latin-1")))), flush=True)
    os._exit(0)
m.close()
print("ready", flush=True)
for line in sys.stdin:
    if line == "read\\n":
        print(len(os.pread(fd, 1 << 20, 0)), flush=True)
    elif line == "child\\n":
        os.write(w, b"x")
        os.waitpid(pid, 0)
"""


def test_blocks_a_forked_child_still_maps_go_to_no_other_file(daxfs):
    """The parent unmaps, the child keeps its copy of the mapping: the
    parent's next read must not let the truncated blocks go."""
    f = daxfs.mnt / "f"
    f.write_bytes(b"A" * SIZE)
    with Driven([sys.executable, "-c", FORKED, f, SIZE], "ready") as p:
        os.truncate(f, PAGE)
        assert p.step("read") == str(PAGE)
        g = daxfs.mnt / "g"
        fill_until_enospc(g, ord("B"))
        assert p.step("child") == "A"
        err = p.finish()
    assert p.proc.returncode == 0, err


def test_a_sigbus_handler_set_after_the_mapping_keeps_the_librarys_recovery(daxfs):
    """The program sets its handler with signal() after mmap: a page past the
    EOF the mapping had still maps once the file grows over it, and a page
    past the EOF it has now still reaches the program's handler."""
    f = daxfs.mnt / "f"
    f.write_bytes(b"A" * PAGE)
    with Driven([PROBE, "late", f], "mapped") as a:
        assert a.step("") == "sigbus"
        with open(f, "ab") as w:
            w.write(b"B" * PAGE)
        assert a.step("") == "loaded 66"
        os.truncate(f, PAGE)
        assert a.step("") == "sigbus"
        err = a.finish()
    assert a.proc.returncode == 0, err


def test_the_recall_requests_refuse_what_a_careless_or_hostile_client_sends(daxfs, dmaps):
    """DAXFS_IOC_RUN_MAPPED from a client that is not daxfs-run: no lease,
    unknown or combined flags, a drop or acknowledgement without an add; and
    one that registers its mappings and never acknowledges holds a truncate
    up for ten seconds at most."""
    import errno
    from client_util import create
    f = daxfs.mnt / "f"
    create(f, b"A" * SIZE)
    d = dmaps(f)
    add, drop, recalled = 1, 2, 4
    assert d.error(f"ioc mapped {add} 0")[0] == -errno.ENOLCK
    d.ok("ioc lease r")
    assert d.error(f"ioc mapped {add | drop} 0")[0] == -errno.EINVAL
    assert d.error("ioc mapped 0 0")[0] == -errno.EINVAL
    assert d.error("ioc mapped 64 0")[0] == -errno.EINVAL
    assert d.error(f"ioc mapped {drop} 0")[0] == -errno.ENOENT
    assert d.error(f"ioc mapped {recalled} 0")[0] == -errno.ENOENT
    d.ok(f"ioc mapped {add} 0")
    d.ok(f"ioc mapped {recalled} 0")            # nothing recalled yet: no change
    # recalls are for files daxfs-run serves (a slot): one holds it open
    with Stepper(f, os.O_RDONLY) as s:
        assert s.step("os.pread(fd, 1, 0)") == "b'A'"
        daxfs.allow_stderr(r"did not update its mappings within \d+ ms of a truncate")
        os.truncate(f, 2 * PAGE)                # waits for an acknowledgement that never comes
        assert f.stat().st_size == 2 * PAGE
        assert "did not update its mappings" in daxfs.stderr()
        d.ok(f"ioc mapped {drop} 0")
        os.truncate(f, PAGE)                    # nobody to wait for
        assert daxfs.stderr().count("did not update its mappings") == 1
    d.close()
    daxfs.unmount()
    daxfs.fsck()

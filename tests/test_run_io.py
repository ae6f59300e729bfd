"""daxfs-run: read, write and mmap served with loads and stores, checked against what the kernel's path shows."""
import contextlib
import errno
import signal
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import BUILD_DIR, SOURCE_DIR, tool
from mount import MIB, PAGE, Daxfs, daxfs, daxfs_factory  # noqa: F401  (fixture)
from run_util import Driven, py_plain, py_run, py_start, run_env, sanitizer_preload, under_run

FSX = BUILD_DIR / "tests/run/fsx"
PROBE = BUILD_DIR / "tests/run/probe"


def test_reads_and_writes_match_what_another_process_reads(daxfs):
    p = daxfs.mnt / "f"
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        assert os.write(fd, b"hello world" * 1000) == 11000
        os.lseek(fd, 0, 0)
        print(os.read(fd, 11))
        os.pwrite(fd, b"XY", 5)
        print(os.pread(fd, 20, 0))
        os.writev(fd, [b"ab", b"cd"])          # at the offset read() left: 11
        print(os.fstat(fd).st_size, os.lseek(fd, 0, os.SEEK_CUR))
        os.close(fd)
        """, p)
    assert "served directly" in r.stderr
    assert r.stdout.split("\n")[:3] == ["b'hello world'", "b'helloXYorldhello wor'", "11000 15"]
    data = p.read_bytes()
    assert len(data) == 11000
    assert data[:20] == b"helloXYorldabcdo wor"


def test_large_reads_of_a_cold_file_return_every_byte_holes_and_the_end(daxfs):
    """Large reads map the chunks ahead without filling page tables and copy
    with pread of the members: what a process without the library wrote,
    a punched hole as zeroes, a short read at EOF, small reads after them
    from the same chunks, and a file that is also open for writing."""
    p = daxfs.mnt / "f"
    size = 37 * MIB + 1234
    data = bytearray(os.urandom(size))
    p.write_bytes(data)
    punch = 9 * MIB + 3 * PAGE, 5 * MIB
    py_plain("""
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(sys.argv[1], os.O_RDWR)
        assert libc.fallocate(fd, 3, ctypes.c_long(int(sys.argv[2])), ctypes.c_long(int(sys.argv[3]))) == 0
        """, p, str(punch[0]), str(punch[1]))
    data[punch[0]:punch[0] + punch[1]] = bytes(punch[1])
    for flags in ("os.O_RDONLY", "os.O_RDWR"):
        r = py_run(f"""
            import hashlib, os, sys
            fd = os.open(sys.argv[1], {flags})
            h, off = hashlib.sha256(), 0
            while True:
                b = os.pread(fd, 1 << 20, off)
                if not b:
                    break
                h.update(b)
                off += len(b)
            print(off, h.hexdigest())
            print(os.pread(fd, 100, 12345).hex(), os.pread(fd, 10, {size} - 4).hex())
            """, p)
        assert "served directly" in r.stderr
        total, digest = r.stdout.split("\n")[0].split()
        assert int(total) == size
        assert digest == __import__("hashlib").sha256(data).hexdigest()
        assert r.stdout.split("\n")[1].split() == [data[12345:12445].hex(), data[-4:].hex()]


# Two linear targets, then one striped over two more members in 32 KiB chunks.
CHAIN = ("0 8192 linear {0} 0\n8192 8192 linear {1} 0\n"
         "16384 65536 striped 2 64 {2} 0 {3} 0\n")


def test_large_writes_go_to_the_members_where_the_chain_says_without_page_tables(
        daxfs_factory):
    """Writes of at least 128 KiB to members in memory are copied with pwrite
    of the members into chunks mapped without their page tables: new and
    written files, across chunk, target and stripe boundaries, at odd
    offsets, followed by small writes and reads through the same chunks.
    The mappings of the members stay without resident pages."""
    fs = daxfs_factory(files=["p0", "p1", "p2", "p3"], size=16 * MIB, table=CHAIN)
    fs.mkfs()
    fs.mount()
    old, new = fs.mnt / "old", fs.mnt / "new"
    size = 5 * MIB + 777
    before = os.urandom(size)
    old.write_bytes(before)              # written blocks: no allocation on the way
    writes = [(0, 1 * MIB), (1 * MIB + 100, 3 * MIB // 2), (3 * MIB - 5, 128 * 1024),
              (7 * MIB // 2 + 4096, 3 * MIB // 2 - 4096 + 777)]
    r = py_run("""
        import os, sys
        members = set(sys.argv[3:])
        fds = []
        for path in sys.argv[1:3]:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fds.append(fd)
            seed = 0
            for off, n in %r:
                seed += 1
                assert os.pwrite(fd, bytes([seed]) * n, off) == n
            assert os.pwrite(fd, b"small", 2 * MIB) == 5          # a store into a lazy chunk
            assert os.pread(fd, 8, 2 * MIB - 3) == bytes([2]) * 3 + b"small"
            os.fsync(fd)
        rss = 0
        with open("/proc/self/smaps") as f:
            mapped = False
            for line in f:
                parts = line.split()
                if "-" in parts[0] and len(parts) >= 5:
                    mapped = len(parts) >= 6 and parts[5] in members
                elif mapped and parts[0] == "Rss:":
                    rss += int(parts[1])
        print(rss)
        for fd in fds:
            os.close(fd)
        """.replace("MIB", str(MIB)) % (writes,), old, new, *fs.files)
    assert "served directly" in r.stderr
    # the small store and read faulted in a few pages of their chunk; copies
    # through populated mappings would have made 10 MiB resident
    assert int(r.stdout.split()[0]) <= 1024, r.stdout
    for path, start in ((old, before), (new, bytes(size))):
        want = bytearray(start)
        for k, (off, n) in enumerate(writes):
            want[off:off + n] = bytes([k + 1]) * n
        want[2 * MIB:2 * MIB + 5] = b"small"
        assert path.read_bytes() == bytes(want), path
        backing, devices = fs.backing_bytes(path)
        assert backing == bytes(want), path
        # 32 KiB stripes: pieces of both striped members in every chunk
        assert set(fs.files[2:]) <= devices, devices


def test_a_large_sequential_writer_maps_the_chunks_ahead_with_one_request(daxfs_factory):
    """On members in memory a writer of 1 MiB writes maps 16 chunks ahead
    per request, and again after an allocation made them stale: into a
    preallocated file (each ALLOC converts a few MiB), a new one (up to what
    it allocated past EOF) and a sparse one where a process without the
    library fills a chunk ahead that the library had mapped as a hole.
    Every byte lands where it was written."""
    daxfs = daxfs_factory(size=192 * MIB)
    daxfs.mkfs()
    daxfs.mount()
    n = 40
    pre, new, sparse = daxfs.mnt / "pre", daxfs.mnt / "new", daxfs.mnt / "sparse"
    with open(pre, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, n * MIB)
    with open(sparse, "wb") as f:
        f.truncate(n * MIB)
    r = py_run("""
        import os, subprocess, sys
        for path in sys.argv[1:4]:
            print("file", path, file=sys.stderr, flush=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            for i in range(%d):
                if path == sys.argv[3] and i == 5:
                    subprocess.run([sys.executable, "-c",
                                    "import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
                                    "os.pwrite(fd, b'P' * 4096, 9 << 20)", path],
                                   env=dict(os.environ, DAXFS_RUN_DISABLE="1"), check=True)
                os.pwrite(fd, bytes([i + 1]) * (1 << 20), i << 20)
            os.close(fd)
        """ % n, pre, new, sparse, env={"DAXFS_RUN_DEBUG": "2"})
    maps = {}
    for line in r.stderr.splitlines():
        if line.startswith("file "):
            name = line.split()[1]
            maps[name] = 0
        elif "mapping chunks" in line:
            maps[name] += 1
    assert "served directly" in r.stderr
    want = b"".join(bytes([i + 1]) * MIB for i in range(n))
    for path in (pre, new, sparse):
        assert path.read_bytes() == want, path
        assert daxfs.backing_bytes(path)[0] == want, path
    # a chunk at a time: 27-29 requests each (20 chunks, and again after
    # each ALLOC); a new file allocates 2 MiB ahead while it is small
    assert maps[str(pre)] <= 12, maps
    assert maps[str(new)] <= 20, maps
    assert maps[str(sparse)] <= 12, maps


def test_a_write_past_eof_leaves_zeroes_in_the_gap(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"x" * 100)
    py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        os.pwrite(fd, b"end", 3 * 1024 * 1024 + 5)
        assert os.pread(fd, 10, 100) == bytes(10)
        """, p)
    data = p.read_bytes()
    assert len(data) == 3 * MIB + 8
    assert data[:100] == b"x" * 100 and data[100:-3] == bytes(len(data) - 103)
    assert data[-3:] == b"end"


# A process under daxfs-run maps the page of EOF of a 100-byte file and stores
# "X" past EOF in it, then (argv[2]) grows the file itself or, with "wait",
# leaves that to another process while it keeps the file open; it prints how
# many of those stores its own read of the page shows then.
STORES_PAST_EOF = """
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
    fd = os.open(sys.argv[1], os.O_RDWR)
    a = libc.mmap(None, PAGE, 3, 1, fd, 0)          # PROT_READ | PROT_WRITE, MAP_SHARED
    assert a not in (None, 2**64 - 1), os.strerror(ctypes.get_errno())
    ctypes.memset(a + 100, ord("X"), PAGE - 100)
    libc.munmap(a, PAGE)
    way = sys.argv[2]
    if way == "truncate":
        os.ftruncate(fd, 2 * PAGE)
    elif way == "fallocate":
        os.posix_fallocate(fd, 6000, 2 * PAGE - 6000)
    elif way == "zero-range":
        assert libc.fallocate(fd, 0x10, 6000, 100) == 0    # FALLOC_FL_ZERO_RANGE
    elif way == "write":
        os.pwrite(fd, b"b", 2 * PAGE - 1)
    else:
        print("stored", flush=True)
        sys.stdin.readline()
    print(os.pread(fd, PAGE, 0)[100:].count(b"X"), os.fstat(fd).st_size)
    """.replace("PAGE", str(PAGE))


@pytest.mark.parametrize("way", ["truncate", "fallocate", "zero-range", "write"])
def test_stores_through_a_mapping_past_eof_never_become_the_files(daxfs, way):
    """POSIX: the part of the last page past EOF is never written to the file.
    On DAX a store there reaches the block, so growing the file must zero the
    bytes past the old EOF, also while the file is leased (it was not)."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"a" * 100)
    r = py_run(STORES_PAST_EOF, p, way)
    assert "served directly" in r.stderr
    assert r.stdout.split()[0] == "0"
    data = p.read_bytes()
    assert data[:100] == b"a" * 100 and data[100:PAGE].count(b"X") == 0


def test_a_truncate_by_another_process_zeroes_what_a_holder_stored_past_eof(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"a" * 100)
    with Driven([sys.executable, "-c", textwrap.dedent(STORES_PAST_EOF), p, "wait"],
                "stored") as w:
        os.truncate(p, 3 * PAGE)          # while the holder keeps its lease
        assert p.read_bytes()[100:PAGE] == bytes(PAGE - 100)
        assert w.step("") == f"0 {3 * PAGE}"
        err = w.finish()
    assert w.proc.returncode == 0, err
    assert "served directly" in err


def test_another_process_sees_the_size_and_data_while_the_writer_holds_the_file(daxfs):
    """stat and read() by a process without the library see every write at
    once, while the writer still has the file open and mapped."""
    p = daxfs.mnt / "f"
    code = textwrap.dedent("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        for i in range(3):
            os.write(fd, bytes([65 + i]) * 5000)
            print("wrote", flush=True)
            sys.stdin.readline()
        """)
    w = py_start(code, p)
    try:
        for i in range(3):
            assert w.stdout.readline() == "wrote\n"
            out = py_plain("""
                import os, sys
                print(os.stat(sys.argv[1]).st_size, open(sys.argv[1], "rb").read()[-1])
                """, p)
            assert out == f"{5000 * (i + 1)} {65 + i}\n"
            w.stdin.write("\n")
            w.stdin.flush()
        assert w.wait(timeout=60) == 0
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    assert "served directly" in w.stderr.read()


def test_pages_another_process_cached_are_dropped_by_a_later_direct_write(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"a" * (4 * PAGE))
    reader = """
        import sys, time
        with open(sys.argv[1], "rb") as f:
            print(f.read()[PAGE:PAGE + 4].decode())
        """.replace("PAGE", str(PAGE))
    assert py_plain(reader, p) == "aaaa\n"        # now in the page cache
    py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        os.pwrite(fd, b"bbbb", 4096)
        """, p)
    assert py_plain(reader, p) == "bbbb\n"


def test_writes_of_a_process_without_the_library_are_seen_at_once(daxfs):
    p = daxfs.mnt / "f"
    p.write_bytes(b"0" * 100)
    code = textwrap.dedent("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        print(os.pread(fd, 200, 0), flush=True)
        sys.stdin.readline()
        print(os.pread(fd, 200, 0), flush=True)
        os.pwrite(fd, b"R", 150)              # extends past the plain writer's end
        """)
    w = py_start(code, p)
    try:
        assert w.stdout.readline() == "b'" + "0" * 100 + "'\n"
        with open(p, "r+b") as f:           # a plain writer, open meanwhile
            f.seek(50)
            f.write(b"P" * 70)
            f.flush()
            w.stdin.write("\n")
            w.stdin.flush()
            assert w.stdout.readline() == "b'" + "0" * 50 + "P" * 70 + "'\n"
            assert w.wait(timeout=60) == 0
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    data = p.read_bytes()
    assert data == b"0" * 50 + b"P" * 70 + bytes(30) + b"R"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ops", ["rwpvmtdsae", "wpmdt", "wptae"])
def test_fsx_under_daxfs_run(daxfs, seed, ops):
    r = under_run([FSX, daxfs.mnt / f"fsx{seed}", seed, 400, 512 * 1024, ops], debug=False)
    assert "ok" in r.stdout


def test_fsx_plain_agrees(daxfs):
    """The checker itself, on the ordinary path."""
    r = subprocess.run([str(FSX), str(daxfs.mnt / "fsx"), "7", "200", str(256 * 1024)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_fsx_finds_a_wrong_byte(daxfs):
    """A checker that cannot fail proves nothing: with its model changed
    behind its back (FSX_CORRUPT=1 flips a byte before the final check) it
    reports the byte and exits 1."""
    r = subprocess.run([str(FSX), str(daxfs.mnt / "fsx"), "3", "100", "65536", "pr"],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "FSX_CORRUPT": "1"})
    assert r.returncode == 1
    assert "fsx: " in r.stderr and ": byte " in r.stderr and "want 0x" in r.stderr


def test_threads_fork_exec_and_dup(daxfs):
    p = daxfs.mnt / "t"
    r = under_run([PROBE, "threads", p, 8])
    assert r.stdout == "threads ok\n"
    assert len(p.read_bytes()) == 8 * 65536
    assert p.read_bytes()[7 * 65536] == 7 * 16 + 49
    p = daxfs.mnt / "fork"
    r = under_run([PROBE, "fork", p])
    assert r.stdout == "21 parent1,child,parent2\n"
    assert p.read_bytes() == b"parent1,child,parent2"
    p = daxfs.mnt / "exec"
    p.write_bytes(b"0123456789abcdefghij")
    r = under_run([PROBE, "exec", p])
    assert r.stdout == "456789ab\n"
    assert p.read_bytes() == b"0123456789abEXECghij"
    assert r.stderr.count("served directly") == 2       # before and after exec
    py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        d = os.dup(fd)
        os.close(fd)
        os.lseek(d, 3, 0)
        os.write(d, b"DUP")
        e = os.dup2(d, 50)
        os.close(d)
        assert os.read(e, 2) == b"67"
        os.close(e)
        """, p)
    assert p.read_bytes() == b"012DUP67" + b"89abEXECghij"[:0] + b"89abEXECghij"


def test_mmap_is_a_direct_mapping_and_map_sync_is_honoured(daxfs):
    p = daxfs.mnt / "m"
    r = under_run([PROBE, "mapsync", p, 8 * PAGE])
    assert r.stdout == "mapsync ok\n"
    assert "mapped [0, +32768) directly" in r.stderr
    data = p.read_bytes()
    assert [data[i * PAGE] for i in range(8)] == [ord("a") + i for i in range(8)]
    # without the library the kernel refuses MAP_SYNC on FUSE
    r = subprocess.run([str(PROBE), "mapsync", str(daxfs.mnt / "m2"), str(PAGE)],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == f"mapsync errno {errno.EOPNOTSUPP}\n"


def test_mremap_grows_and_mprotect_keeps_a_direct_mapping(daxfs):
    p = daxfs.mnt / "r"
    p.write_bytes(b"." * (3 * PAGE))
    r = under_run([PROBE, "mremap", p])
    assert r.stdout == "A.C\n"
    data = p.read_bytes()
    assert data[0:1] == b"A" and data[2 * PAGE:2 * PAGE + 1] == b"C"


def test_a_page_past_eof_of_a_mapping_raises_sigbus(daxfs):
    p = daxfs.mnt / "s"
    p.write_bytes(b"z" * 100)
    r = under_run([PROBE, "touch", p, 99])
    assert r.stdout == f"loaded {ord('z')}\n"
    # the second page of a file of 100 bytes is past EOF: SIGBUS, as on DAX
    r = under_run([PROBE, "touch", p, 5000])
    assert r.stdout == "sigbus\n"
    assert "directly" in r.stderr


def test_sync_mode_makes_the_size_durable_at_return(daxfs):
    """With -o commit=60000 the daemon keeps metadata in memory for a minute;
    daxfs-run --sync makes each write's size durable before it returns, so
    it survives the daemon's SIGKILL."""
    daxfs.unmount()
    daxfs.mount("commit=60000")
    p = daxfs.mnt / "d"
    py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        os.fsync(fd)
        os.write(fd, b"durable" * 1000)
        """, p, sync=True)
    daxfs.terminate(signal.SIGKILL)
    daxfs.mount()
    assert p.read_bytes() == b"durable" * 1000


def test_an_o_sync_write_after_f_setfl_is_durable_at_its_return(tmp_path):
    """F_SETFL changes O_APPEND and O_NONBLOCK but never clears O_SYNC on
    Linux: the crash checker's write_osync workload, run under daxfs-run,
    finds each such write whole at every crash point after its return."""
    r = subprocess.run([tool("daxfs-run"), sys.executable,
                        str(SOURCE_DIR / "tools" / "crash" / "daxfs-crash"), "run", "--build",
                        str(BUILD_DIR), "--work", str(tmp_path / "work"), "-w", "write_osync",
                        "--max-points", "8", "--random", "2", "--seed", "1"],
                       capture_output=True, text=True, timeout=600, env=run_env(debug=False))
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr
    assert re.search(r"^ok +write_osync ", r.stdout, re.M), r.stdout


@pytest.mark.parametrize("call", ["fsync", "fdatasync"])
def test_fsync_makes_the_size_durable_in_posix_mode(daxfs, call):
    daxfs.unmount()
    daxfs.mount("commit=60000")
    p = daxfs.mnt / "d"
    py_run(f"""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
        os.{call}(fd)
        os.write(fd, b"posix" * 1000)
        os.{call}(fd)
        """, p)
    daxfs.terminate(signal.SIGKILL)
    daxfs.mount()
    assert p.read_bytes() == b"posix" * 1000


# inherits descriptor 3 over exec; appends after its parent's F_SETFL
APPEND_CHILD = ("import os, sys; print('ready', flush=True); sys.stdin.readline(); "
                "os.lseek(3, 0, os.SEEK_SET); os.write(3, b'BB'); os.pwrite(3, b'CC', 0)")


@pytest.mark.parametrize("how", ["fork", "exec", "spawn", "scm_rights"])
def test_o_append_set_by_another_process_sharing_the_open_file_holds(daxfs, how):
    """O_APPEND belongs to the open file: F_SETFL in a forked child, or in
    the parent of an exec that inherited it, makes this process's writes
    append too, a pwrite's included (Linux)."""
    p = daxfs.mnt / "f"
    r = py_run("""
        import fcntl, os, subprocess, sys
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"AAAA")
        if sys.argv[2] == "fork":
            pid = os.fork()
            if pid == 0:
                fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND)
                os._exit(0)
            os.waitpid(pid, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, b"BB")
            os.pwrite(fd, b"CC", 0)
        elif sys.argv[2] == "exec":
            assert fd == 3, fd
            child = subprocess.Popen([sys.executable, "-c", sys.argv[3]], pass_fds=(3,),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert child.stdout.readline() == b"ready\\n"
            fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND)
            child.stdin.close()
            assert child.wait() == 0
        else:
            # a child made without fork handlers (subprocess's vfork), or one
            # handed the open file over a socket, sets O_APPEND on it
            setfl = "import fcntl, os; fcntl.fcntl(3, fcntl.F_SETFL, os.O_APPEND)"
            if sys.argv[2] == "spawn":
                assert fd == 3, fd
                subprocess.run([sys.executable, "-c", setfl], pass_fds=(3,), check=True)
            else:
                import array, socket
                a, b = socket.socketpair()
                child = subprocess.Popen([sys.executable, "-c", "import socket, sys\\n"
                                          "s = socket.socket(fileno=int(sys.argv[1]))\\n"
                                          "msg, anc, fl, ad = s.recvmsg(1, socket.CMSG_SPACE(4))\\n"
                                          "got = int.from_bytes(anc[0][2][:4], 'little')\\n"
                                          "import fcntl, os\\n"
                                          "fcntl.fcntl(got, fcntl.F_SETFL, os.O_APPEND)\\n"
                                          "s.send(b'k')", str(b.fileno())],
                                         pass_fds=(b.fileno(),))
                a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
                assert a.recv(1) == b"k"
                assert child.wait() == 0
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, b"BB")
            os.pwrite(fd, b"CC", 0)
        os.close(fd)
        print(open(sys.argv[1], "rb").read())
        """, p, how, APPEND_CHILD)
    assert r.stdout == "b'AAAABBCC'\n", r.stdout + r.stderr
    assert "served directly" in r.stderr


def test_processes_sharing_an_open_file_write_whole_records_at_its_offset(daxfs):
    """write() at an open file's offset is atomic against every process that
    shares it, as the kernel's offset lock makes it: records of a parent and
    its forked child (two jobs of a shell writing to one > file) are none
    lost, none torn."""
    p = daxfs.mnt / "log"
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        pid = os.fork()
        rec = (b"C" if pid == 0 else b"P") * 63 + b"\\n"
        for _ in range(2000):
            assert os.write(fd, rec) == len(rec)
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.lseek(fd, 0, os.SEEK_CUR))
        """, p)
    data = p.read_bytes()
    recs = [data[i:i + 64] for i in range(0, len(data), 64)]
    assert r.stdout == f"{4000 * 64}\n" and len(data) == 4000 * 64, r.stdout
    assert sorted(set(recs)) == [b"C" * 63 + b"\n", b"P" * 63 + b"\n"]
    assert recs.count(b"C" * 63 + b"\n") == 2000


def test_an_append_without_the_library_after_ours_ends_at_the_end(daxfs):
    """A child that runs without the library appends through the kernel, at
    the size it has cached: the library brings that size up to date before
    it shares its open files, or the child's offset after its append (and
    the parent's next write at it) would fall inside the file."""
    p = daxfs.mnt / "f"
    r = py_run("""
        import fcntl, os, subprocess, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        os.write(fd, b"0123456789")
        assert fd == 3, fd
        subprocess.run([sys.executable, "-c", "import os; os.write(3, b'abc')"], pass_fds=(3,),
                       env=dict(os.environ, LD_PRELOAD=""), check=True)
        fcntl.fcntl(fd, fcntl.F_SETFL, 0)
        os.write(fd, b"Z")
        print(open(sys.argv[1], "rb").read())
        """, p)
    assert r.stdout == "b'0123456789abcZ'\n", r.stdout + r.stderr


def test_a_stream_libc_reopens_is_no_longer_served_as_the_file(daxfs, tmp_path):
    """freopen and daemon(3) replace a descriptor inside libc, past dup2 and
    close: what the program writes to it afterwards is not the file's."""
    p = daxfs.mnt / "out"
    with open(p, "wb") as out:
        r = subprocess.run([tool("daxfs-run"), sys.executable, "-c", textwrap.dedent("""
            import ctypes, os
            libc = ctypes.CDLL(None)
            libc.freopen.restype = ctypes.c_void_p
            libc.freopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
            os.write(1, b"before\\n")
            stdout = ctypes.c_void_p.in_dll(libc, "stdout")
            assert libc.freopen(b"/dev/null", b"w", stdout)
            os.write(1, b"after: not the file's\\n")
            """)], stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
                           env=run_env())
    assert r.returncode == 0, r.stderr
    assert "served directly" in r.stderr
    assert p.read_bytes() == b"before\n"


def test_fork_while_another_thread_writes_never_hangs_the_child(daxfs):
    """A thread inside write() holds its open file's offset lock when
    another thread forks: the child has no such thread, and its own first
    read or write must not wait for it."""
    r = under_run([PROBE, "forkwrite", daxfs.mnt / "f", 100], timeout=300)
    assert r.stdout == "no child hung in 100 forks\n", r.stdout + r.stderr


def test_a_vfork_child_leaves_the_parents_descriptors_alone(daxfs):
    """subprocess starts its children with vfork, which run in the parent's
    memory and close descriptors there until they exec: the parent's table
    must not change, or its file would never be released (the mount then
    cannot go away)."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"v" * PAGE)
    r = py_run("""
        import os, subprocess, sys
        with open(sys.argv[1], "rb") as f:
            f.read()
            subprocess.run(["true"], check=True)
        left = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(sys.argv[2]):
                left.append(target)
        print(left)
        """, p, daxfs.tmp)
    assert "served directly" in r.stderr
    assert r.stdout == "[]\n"


HOLD = """
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"k" * int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
"""


def blocks_become(p, want):
    """Waits for p's st_blocks to become want (the kernel releases a dead
    process's files after it is reaped, and the daemon gives back what it
    allocated ahead at that release), up to 30 s; returns the last st_blocks seen."""
    deadline = time.monotonic() + 30
    while (blocks := os.stat(p).st_blocks) != want and time.monotonic() < deadline:
        time.sleep(0.01)
    return blocks


def test_blocks_allocated_ahead_are_given_back_when_the_writer_dies(daxfs):
    """A writer killed before its last close cannot give back what it
    allocated past EOF (2 MiB and more): the daemon does, at the file's last
    lease. The file keeps what was written and fsck (also at teardown) finds
    the filesystem consistent."""
    p = daxfs.mnt / "f"
    w = py_start(HOLD, p, 5000, debug=False, stderr=False)
    try:
        assert w.stdout.readline() == "ready\n"
        assert os.stat(p).st_blocks > 2 * MIB // 512         # allocated ahead
    finally:
        w.kill()
        w.wait()
    assert blocks_become(p, 2 * PAGE // 512) == 2 * PAGE // 512
    assert p.read_bytes() == b"k" * 5000
    daxfs.unmount()
    daxfs.fsck()
    daxfs.mount()
    assert p.read_bytes() == b"k" * 5000
    assert os.stat(p).st_blocks == 2 * PAGE // 512


def test_a_writer_that_exits_without_closing_leaves_no_blocks_past_eof(daxfs):
    p = daxfs.mnt / "f"
    py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
        for _ in range(3):
            os.write(fd, b"s" * (1 << 20))
        os.write(fd, b"t" * 100)
        os._exit(0)
        """, p)
    assert blocks_become(p, (3 * MIB + PAGE) // 512) == (3 * MIB + PAGE) // 512
    assert os.stat(p).st_size == 3 * MIB + 100


def test_blocks_ahead_stay_while_another_process_holds_the_file(daxfs):
    """Another holder of a lease may be storing past EOF before it tells the
    size: what the dead writer allocated ahead goes back only at the last
    lease, also when that holder dies too."""
    p = daxfs.mnt / "f"
    w = py_start(HOLD, p, 5000, debug=False, stderr=False)
    other = None
    try:
        # the writer first: while another writer's open is on its way,
        # its writes go through the daemon, which allocates no more
        assert w.stdout.readline() == "ready\n"
        assert os.stat(p).st_blocks > 2 * MIB // 512
        other = py_start(HOLD, p, 0, debug=False, stderr=False)
        assert other.stdout.readline() == "ready\n"
        w.kill()
        w.wait()
        time.sleep(1)               # for the dead writer's release (it takes ms)
        assert os.stat(p).st_blocks > 2 * MIB // 512
    finally:
        for proc in (w, other):
            if proc:
                proc.kill()
                proc.wait()
    assert blocks_become(p, 2 * PAGE // 512) == 2 * PAGE // 512
    assert p.read_bytes() == b"k" * 5000


def test_libpmem_sees_a_dax_file(daxfs):
    """pmem_map_file asks for MAP_SYNC: under daxfs-run it gets it, so
    libpmem takes the file for pmem and persists with cache flushes."""
    p = daxfs.mnt / "pm"
    p.write_bytes(b"." * (2 * PAGE))
    r = subprocess.run([str(PROBE), "pmem", str(p)], capture_output=True, text=True, timeout=60)
    assert r.stdout == f"is_pmem 0 len {2 * PAGE}\n"
    assert p.read_bytes()[:4] == b"MSYN"
    r = under_run([PROBE, "pmem", p])
    assert r.stdout == f"is_pmem 1 len {2 * PAGE}\n"
    assert p.read_bytes()[:4] == b"PMEM"


def test_mtime_and_ctime_follow_writes(daxfs):
    """A write marks mtime and ctime: the writer's own stat sees them, and
    another process's at the latest when the writer closes the file."""
    p = daxfs.mnt / "f"
    p.write_bytes(b"0" * 100)
    old = 1_000_000_000
    os.utime(p, (old, old))
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        os.pwrite(fd, b"1", 10)                 # within the size: no size change
        st = os.fstat(fd)
        print(int(st.st_mtime) > 1_000_000_000, int(st.st_ctime) > 1_000_000_000)
        os.close(fd)
        """, p)
    assert r.stdout == "True True\n"
    st = os.stat(p)
    assert st.st_mtime > old + 1000 and st.st_ctime > old + 1000


def test_the_launcher_says_what_is_wrong():
    run = tool("daxfs-run")
    r = subprocess.run([run], capture_output=True, text=True)
    assert r.returncode == 2 and "daxfs-run: no command given" in r.stderr
    r = subprocess.run([run, "--frob", "true"], capture_output=True, text=True)
    assert r.returncode == 2 and "daxfs-run: unknown option --frob" in r.stderr
    r = subprocess.run([run, "/nonexistent/prog"], capture_output=True, text=True)
    assert r.returncode == 127
    assert r.stderr == "daxfs-run: /nonexistent/prog: No such file or directory\n"
    r = subprocess.run([run, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: daxfs-run [--sync] [--debug] COMMAND")
    # the library comes first, so that its read and write are the ones called,
    # after a sanitizer runtime only, which refuses to start unless it is first
    r = subprocess.run([run, "sh", "-c", 'echo "$LD_PRELOAD $DAXFS_RUN_SYNC"', "--sync"],
                       capture_output=True, text=True, env=run_env(debug=False))
    preload = r.stdout.split()[0].split(":")
    runtime = sanitizer_preload()
    assert preload[:-1] == ([runtime] if runtime else [])
    assert preload[-1].endswith("/libdaxfs-run.so")
    # with no preload of the caller's, a sanitizer build's launcher puts the
    # runtime first itself (a program died at once without it)
    env = dict(run_env(debug=False), ASAN_OPTIONS="detect_leaks=0")
    env.pop("LD_PRELOAD", None)
    r = subprocess.run([run, "sh", "-c", 'echo "$LD_PRELOAD"'], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().split(":")[:-1] == ([runtime] if runtime else [])
    if not runtime:
        r = subprocess.run([run, "sh", "-c", 'echo "$LD_PRELOAD"'], capture_output=True,
                           text=True, env=run_env(debug=False, extra={"LD_PRELOAD": "libc.so.6"}))
        assert r.stdout.endswith("/libdaxfs-run.so:libc.so.6\n"), r.stdout
    r = subprocess.run([run, "--sync", "--", "sh", "-c", 'echo "$DAXFS_RUN_SYNC"'],
                       capture_output=True, text=True, env=run_env(debug=False))
    assert r.stdout == "1\n"


def test_o_append_writers_never_overwrite_each_other(daxfs):
    """Two processes under daxfs-run and one without the library append to
    one file at once: every record lands whole, none is lost."""
    p = daxfs.mnt / "log"
    p.write_bytes(b"")
    code = textwrap.dedent("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
        for i in range(300):
            rec = f"{sys.argv[2]}{i:05d}\\n".encode()
            assert os.write(fd, rec) == len(rec)
        """)
    procs = [subprocess.Popen([str(BUILD_DIR / "tools/daxfs-run"), sys.executable, "-c", code,
                               str(p), tag], env=run_env(), stderr=subprocess.PIPE, text=True)
             for tag in "AB"]
    procs.append(subprocess.Popen([sys.executable, "-c", code, str(p), "C"],
                                  env=run_env(False), stderr=subprocess.PIPE, text=True))
    logs = []
    for w in procs:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        logs.append(err)
    assert all("served directly" in log for log in logs[:2])
    lines = p.read_text().splitlines()
    assert sorted(lines) == sorted(f"{t}{i:05d}" for t in "ABC" for i in range(300))
    for t in "AB":                      # each writer's own records in order
        mine = [line for line in lines if line[0] == t]
        assert mine == sorted(mine)


@contextlib.contextmanager
def plain_process_until_stopped(p, name, script):
    """A process without the library runs script (argv: p, then a stop file)
    until the stop file appears; yields its Popen, whose stdout is in
    .output once the block ends."""
    stop = p.parent.parent / f"stop-{name}-{p.name}"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(p), str(stop)],
                            env=run_env(False), stdout=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        stop.write_text("")
        proc.output = proc.communicate(timeout=60)[0]
        stop.unlink()


def plain_writer_coming_and_going(p):
    """Another process opens p for writing and closes it again and again:
    each open sends daxfs-run's extending writes through the daemon, each
    close lets them store directly again while writes of theirs that fell
    back are still on their way."""
    return plain_process_until_stopped(p, "opener", """
        import os, sys
        while not os.path.exists(sys.argv[2]):
            os.close(os.open(sys.argv[1], os.O_WRONLY))
        """)


APPENDER = """
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(3000):
    rec = f"{sys.argv[2]}{i:05d}\\n".encode()
    assert os.write(fd, rec) == len(rec)
"""


# Reads the whole file through the page cache again and again until told to
# stop; exits 1 at the first snapshot in which a record shows twice. An append
# through the page cache would be copied into the kernel's cached pages at the
# end the kernel knew of, which daxfs-run's direct appends may have moved on:
# the record at its real place and again at that one (docs/DESIGN.md,
# "O_DIRECT opens").
SNAPSHOT_READER = """
import os, sys
while not os.path.exists(sys.argv[2]):
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    seen = set()
    for r in data.split(b"\\n")[:-1]:
        if len(r) == 6 and r in seen:
            print("record", r.decode(), "twice in a snapshot of", len(data), "bytes")
            sys.exit(1)
        seen.add(r)
"""


@pytest.mark.parametrize("round_", range(3))
def test_appends_while_plain_writers_come_and_go_lose_nothing(daxfs, round_):
    """Two daxfs-run appenders while a plain writer comes and goes: the
    daemon's append must not take the same end as a direct one (a record
    lost), and a plain reader never sees the kernel's copy of a record at the
    end the kernel thought it had (a record twice). Each round is a new race."""
    p = daxfs.mnt / f"log{round_}"
    p.write_bytes(b"")
    with plain_process_until_stopped(p, "reader", SNAPSHOT_READER) as reader, \
            plain_writer_coming_and_going(p):
        procs = [subprocess.Popen([str(BUILD_DIR / "tools/daxfs-run"), sys.executable, "-c", APPENDER,
                                   str(p), tag], env=run_env(), stderr=subprocess.PIPE, text=True)
                 for tag in "AB"]
        logs = [w.communicate(timeout=120)[1] for w in procs]
    assert reader.returncode == 0, reader.output
    assert [w.returncode for w in procs] == [0, 0], logs
    assert all("served directly" in log for log in logs)
    lines = p.read_text().splitlines()
    assert sorted(lines) == sorted(f"{t}{i:05d}" for t in "AB" for i in range(3000))
    for t in "AB":
        mine = [line for line in lines if line[0] == t]
        assert mine == sorted(mine)


INTERLEAVED_WRITERS = """
import os, random, sys
p = sys.argv[1]
pids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_WRONLY)     # each its own open file, closed when done
        for k in range(16):      # each past EOF, with the others' chunks in between
            n = k * 4 + i
            os.pwrite(fd, random.Random(n).randbytes(64 << 10), n << 16)
        os.close(fd)
        os._exit(0)
    pids.append(pid)
assert all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in pids)
"""


@pytest.mark.parametrize("round_", range(16))
def test_writers_past_eof_in_several_processes_keep_every_byte(daxfs, round_):
    """Four processes under daxfs-run write 64 KiB chunks of one file, each
    past EOF with the others' chunks between: a size change must not zero
    another's chunk it has stored but not yet told (the gap past EOF), nor a
    process's close give back blocks another is storing into (what it
    allocated ahead). Each round is a new race."""
    import random
    p = daxfs.mnt / f"f{round_}"
    p.write_bytes(b"")
    py_run(INTERLEAVED_WRITERS, p, debug=False)
    data = p.read_bytes()
    assert len(data) == 64 << 16
    bad = [n for n in range(64) if data[n << 16:(n + 1) << 16] != random.Random(n).randbytes(64 << 10)]
    assert bad == []


def test_o_append_leaves_the_offset_at_the_end_and_pwrite_appends(daxfs):
    p = daxfs.mnt / "log"
    p.write_bytes(b"start\n")
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"one\\n")
        print(os.lseek(fd, 0, os.SEEK_CUR))
        os.pwrite(fd, b"two\\n", 0)          # Linux: appended, offset unchanged
        print(os.lseek(fd, 0, os.SEEK_CUR), os.fstat(fd).st_size)
        """, p)
    assert "served directly" in r.stderr
    assert r.stdout == "10\n10 14\n"
    assert p.read_bytes() == b"start\none\ntwo\n"


def test_a_signal_handler_reading_the_file_during_copies(daxfs):
    """A 20 us timer interrupts the program's own reads and writes (in the
    library, mid-copy or holding its locks); its handler reads the file too,
    which then goes the ordinary way: every byte read is right, nothing
    hangs."""
    r = under_run([PROBE, "signals", daxfs.mnt / "sig"], timeout=300)
    assert r.stdout == "signals handled ok\n"


def test_a_write_only_open_is_written_with_stores(tmp_path):
    """open(O_WRONLY) is how most programs write: its writes must not go
    through the daemon (no WRITE request in its log)."""
    from test_fuse_caching import RequestLog
    fs = Daxfs(tmp_path)
    try:
        fs.mkfs()
        log = RequestLog(fs)
        fs.mount("debug")
        p = fs.mnt / "w"
        p.write_bytes(b"." * (16 * PAGE))
        log.mark()
        py_run("""
            import os, sys
            fd = os.open(sys.argv[1], os.O_WRONLY)
            for i in range(16):
                assert os.pwrite(fd, b"%x" % i * PAGE, i * PAGE) == PAGE
            os.close(fd)
        """.replace("PAGE", str(PAGE)), p)
        assert "opcode: WRITE" not in fs.stderr()[log.pos:]
        assert p.read_bytes() == b"".join(b"%x" % i * PAGE for i in range(16))
    finally:
        fs.cleanup()


def test_a_mount_that_takes_the_device_number_of_one_gone_is_served_from_its_own_table(tmp_path):
    """A FUSE mount's device number goes to the next mount once the first is
    gone; the library keeps the old mount's table mapped, with a slot the
    killed daemon never freed. The new mount's file must be read with its own
    size, not the dead daemon's."""
    from mount import Daxfs
    from run_util import Stepper
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    old, new = Daxfs(tmp_path / "a"), Daxfs(tmp_path / "b")
    try:
        old.mkfs()
        old.mount()
        (old.mnt / "f").write_bytes(b"1" * 5000)
        with Stepper(old.mnt / "f", os.O_RDONLY) as s:
            assert s.step("os.pread(fd, 4, 0)") == "b'1111'"
            dev = s.step("os.fstat(fd).st_dev")
            old.terminate(signal.SIGKILL)     # the slot stays taken in its table
            assert s.step("os.close(fd)") == "None"
            new.mkfs()
            new.mount()
            (new.mnt / "f").write_bytes(b"2" * 3000)
            # (the device number is most often the old one; when a mount
            # elsewhere took it first, this checks less, and still holds)
            s.step(f"globals().__setitem__('g', os.open({str(new.mnt / 'f')!r}, os.O_RDONLY))")
            assert s.step("len(os.pread(g, 8192, 0)), os.pread(g, 4, 0)") == "(3000, b'2222')"
            same = s.step("os.fstat(g).st_dev") == dev
            err = s.finish()
        assert err.count("served directly") == 2, err
        assert "no longer the inode's" not in err, (same, err)
    finally:
        new.cleanup()
        old.cleanup()


def test_a_write_that_fits_a_nearly_full_filesystem_is_not_refused(daxfs):
    """The library allocates whole chunks and more ahead; when those do not
    fit, the write's own pages must still be tried, as the kernel would."""
    from test_client_lease import fill_until_enospc
    small = daxfs.mnt / "small"
    small.write_bytes(b"s" * (4 * PAGE))
    fill_until_enospc(daxfs.mnt / "fill", 0xAA)
    small.unlink()                  # four pages free, no chunk
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
        print(os.write(fd, b"x" * 5000))
        os.close(fd)
    """, daxfs.mnt / "new")
    assert r.stdout == "5000\n", r.stderr
    assert "served directly" in r.stderr
    assert (daxfs.mnt / "new").read_bytes() == b"x" * 5000


def test_writes_into_holes_allocate_about_what_they_write(daxfs_factory):
    """Writes into holes allocate their own pages, as the kernel's DAX path
    does, so that a sparse file stays sparse: sixteen 4 KiB writes 64 MiB
    apart into a 1 GiB sparse file take sixteen pages, not chunks and more
    ahead each (which filled the filesystem with zeroes); a sparse file
    filled in order gets blocks ahead, but not much more than it was
    written; a write past EOF allocates no holes below EOF it leaves
    alone, and when it lands beyond blocks an append allocated ahead, those
    go back rather than stay in the file as zeroes. What was written reads
    back."""
    daxfs = daxfs_factory(size=256 * MIB)
    daxfs.mkfs()
    daxfs.mount()
    rnd, seq, past = daxfs.mnt / "random", daxfs.mnt / "in-order", daxfs.mnt / "past"
    gap = daxfs.mnt / "gap"
    for p, size in ((rnd, 1024 * MIB), (seq, 1024 * MIB), (past, 3 * MIB + 100), (gap, 0)):
        with open(p, "wb") as f:
            f.truncate(size)
    r = py_run("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY)
        for i in range(16):
            os.pwrite(fd, bytes([i + 1]) * 4096, (i << 26) + 8192)
        os.close(fd)
        fd = os.open(sys.argv[2], os.O_WRONLY)
        for i in range(24 * 16):
            os.write(fd, bytes([i % 251 + 1]) * 65536)
        os.close(fd)
        fd = os.open(sys.argv[3], os.O_WRONLY)
        os.pwrite(fd, b"end", 3 * (1 << 20) + 8192)
        os.close(fd)
        fd = os.open(sys.argv[4], os.O_RDWR)
        os.write(fd, b"head")                   # an append: blocks ahead
        os.lseek(fd, 10 << 20, os.SEEK_SET)
        os.writev(fd, [b"x" * 5000, b"y" * 7000])
        assert os.pread(fd, 8, 0) == b"head" + bytes(4)
        os.close(fd)
        """, rnd, seq, past, gap)
    assert "served directly" in r.stderr
    allocated = {p: os.stat(p).st_blocks * 512 for p in (rnd, seq, past, gap)}
    assert allocated[rnd] == 16 * PAGE, allocated
    assert 24 * MIB <= allocated[seq] <= 2 * 24 * MIB, allocated
    # the page written and the one between it and the old EOF's page
    assert allocated[past] <= 2 * PAGE, allocated
    with open(rnd, "rb") as f:
        for i in range(16):
            f.seek((i << 26) + 4096)
            assert f.read(3 * 4096) == bytes(4096) + bytes([i + 1]) * 4096 + bytes(4096), i
    with open(seq, "rb") as f:
        for i in range(24 * 16):
            assert f.read(65536) == bytes([i % 251 + 1]) * 65536, i
        assert f.read(MIB) == bytes(MIB)
    assert past.read_bytes() == bytes(3 * MIB + 8192) + b"end"
    # the head's page and the three the writev covers
    assert allocated[gap] == 4 * PAGE, allocated
    assert gap.read_bytes() == b"head" + bytes(10 * MIB - 4) + b"x" * 5000 + b"y" * 7000


@pytest.mark.parametrize("then", ["close", "gap", "gap-into-it", "other"])
def test_space_the_user_reserved_past_eof_stays_reserved(daxfs, then):
    """The blocks an append allocated ahead go back at the last close, or
    before a write past them with a gap: but fallocate(FALLOC_FL_KEEP_SIZE)
    over them and past makes them a reservation, which stays with the file
    as without the library (it was given back with them, and a write into
    it met ENOSPC later), also when another process made it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    p = daxfs.mnt / "f"
    r = py_start("""
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
        fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, b"a" * 100, 0)                # an append: blocks ahead
        if sys.argv[2] != "other":
            assert libc.fallocate(fd, 1, 0, 8 << 20) == 0
        print("reserved", flush=True)
        sys.stdin.readline()
        if sys.argv[2] == "gap":
            os.pwrite(fd, b"b" * 5000, 10 << 20)
        elif sys.argv[2] == "gap-into-it":
            os.pwrite(fd, b"b" * 5000, 6 << 20)
        os.close(fd)
        print("closed", flush=True)
        """, p, then)
    assert r.stdout.readline() == "reserved\n"
    if then == "other":                             # a process without the library
        fd = os.open(p, os.O_RDWR)
        try:
            assert libc.fallocate(fd, 1, 0, 8 * MIB) == 0
        finally:
            os.close(fd)
    r.stdin.write("\n")
    r.stdin.flush()
    assert r.stdout.readline() == "closed\n"
    assert r.wait(timeout=60) == 0
    written = {"gap": 2 * PAGE, "gap-into-it": 0}.get(then, 0)
    assert os.stat(p).st_blocks * 512 == 8 * MIB + written
    assert p.read_bytes()[:PAGE] == (b"a" * 100 + bytes(PAGE))[:min(PAGE, p.stat().st_size)]


def test_a_mapping_of_a_sparse_file_too_large_for_the_free_space_takes_none(daxfs_factory):
    """A writable mapping allocates its holes before mmap returns (MAP_SYNC);
    when they do not fit, the mapping falls back to the page cache, and the
    allocation takes nothing: it once filled the filesystem with the file's
    zeroes first, so that every other file met ENOSPC."""
    daxfs = daxfs_factory(size=64 * MIB)
    daxfs.mkfs()
    daxfs.mount()
    p = daxfs.mnt / "sparse"
    with open(p, "wb") as f:
        f.truncate(256 * MIB)
    free = os.statvfs(daxfs.mnt).f_bfree
    r = py_run("""
        import mmap, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        m = mmap.mmap(fd, 256 << 20)
        m[5000:5003] = b"abc"
        m.flush()
        m.close()
        os.close(fd)
        """, p)
    assert "mmap: No space left on device: the page cache instead" in r.stderr
    assert os.statvfs(daxfs.mnt).f_bfree >= free - 8
    assert os.stat(p).st_blocks * 512 <= 4 * PAGE
    with open(p, "rb") as f:
        assert f.read(5003) == bytes(5000) + b"abc"
    other = daxfs.mnt / "other"
    other.write_bytes(b"o" * (32 * MIB))        # room left for the others
    assert other.stat().st_size == 32 * MIB


def test_a_signal_handler_opening_and_closing_files_during_opens_and_closes(daxfs):
    """close() in a handler that interrupted the library's own open or close
    (which hold the descriptor table's lock) must neither hang nor leave the
    table wrong."""
    p = daxfs.mnt / "s"
    p.write_bytes(b"x" * 4096)
    r = under_run([PROBE, "sigclose", p], debug=False, timeout=60)
    assert r.stdout == "sigclose handled ok\n", r.stderr


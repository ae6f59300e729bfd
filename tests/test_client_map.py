"""libdaxfs: a direct mapping and the kernel's paths (read, write, page-cache mmap) show the same bytes."""
import mmap
import os
import subprocess
import sys
import textwrap

from client_util import create, dmaps, pattern  # noqa: F401  (fixture)
from mount import MIB, PAGE, daxfs, daxfs_factory  # noqa: F401  (fixture)

SIZE = 16 * PAGE


def in_other_process(code, *args):
    """Runs python code in a fresh process; returns its stdout."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def mmap_read_elsewhere(path, off, length):
    out = in_other_process("""
        import mmap, sys
        with open(sys.argv[1], "rb") as f:
            m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
            off, n = int(sys.argv[2]), int(sys.argv[3])
            print(m[off:off + n].hex())
        """, path, off, length)
    return bytes.fromhex(out.strip())


def test_direct_stores_are_read_back_by_read_after_persist(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, bytes(SIZE))
    d = dmaps(path)
    assert d.map(0, SIZE) == (True, "")
    d.fill(100, 50, 0xAB)
    d.persist(100, 50)
    with open(path, "rb") as f:
        data = f.read()
    assert data[100:150] == b"\xab" * 50
    assert data[:100] == bytes(100) and data[150:] == bytes(SIZE - 150)


def test_direct_stores_replace_pages_read_into_the_cache_before(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, b"x" * SIZE)
    with open(path, "rb") as f:
        assert f.read() == b"x" * SIZE          # cached before the mapping
        d = dmaps(path)
        assert d.map(0, SIZE)[0]
        d.fill(PAGE, 10, ord("y"))
        d.persist(PAGE, 10)
        f.seek(0)
        assert f.read()[PAGE:PAGE + 11] == b"y" * 10 + b"x"


def test_persist_replaces_pages_read_into_the_cache_while_mapped(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, b"x" * SIZE)
    d = dmaps(path)
    assert d.map(0, SIZE)[0]
    with open(path, "rb") as f:
        assert f.read() == b"x" * SIZE          # cached while mapped
        d.fill(2 * PAGE, 10, ord("y"))
        d.persist(2 * PAGE, 10)
        f.seek(0)
        assert f.read()[2 * PAGE:2 * PAGE + 11] == b"y" * 10 + b"x"


def test_direct_stores_are_seen_by_a_page_cache_mmap_in_another_process(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, bytes(SIZE))
    assert mmap_read_elsewhere(path, 0, 16) == bytes(16)     # faulted into the cache
    d = dmaps(path)
    assert d.map(0, SIZE)[0]
    d.pattern(0, SIZE, 7)
    d.persist(0, SIZE)
    assert mmap_read_elsewhere(path, 0, SIZE) == pattern(0, SIZE, 7)


def mapped_zeroes(daxfs, dmaps):
    """A file of SIZE zero bytes and a Dmap with all of it mapped: (path, dmap)."""
    path = daxfs.mnt / "f"
    create(path, bytes(SIZE))
    d = dmaps(path)
    assert d.map(0, SIZE)[0]
    return path, d


def test_write_by_another_process_is_seen_through_the_mapping_at_once(daxfs, dmaps):
    path, d = mapped_zeroes(daxfs, dmaps)
    in_other_process("""
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY)
        os.pwrite(fd, b"written", 3 * 4096 + 5)
        os.close(fd)
        """, path)
    assert d.read(3 * PAGE + 5, 7) == b"written"


def test_page_cache_mmap_stores_are_seen_through_the_mapping_after_msync(daxfs, dmaps):
    path, d = mapped_zeroes(daxfs, dmaps)
    in_other_process("""
        import mmap, sys
        with open(sys.argv[1], "r+b") as f:
            m = mmap.mmap(f.fileno(), 0)
            m[2 * 4096:2 * 4096 + 6] = b"mmaped"
            m.flush()
            m.close()
        """, path)
    assert d.read(2 * PAGE, 6) == b"mmaped"


def test_alloc_growth_is_known_to_page_cache_mmap_faults_of_the_same_process(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path, b"a" * PAGE)
    d = dmaps(path)
    assert d.map(0, SIZE, alloc=True)[0]
    d.fill(SIZE - PAGE, PAGE, ord("b"))
    d.persist(SIZE - PAGE, PAGE)
    # The kernel must have the new size: a fault past the old EOF is SIGBUS.
    assert bytes.fromhex(d.ok(f"pcread {SIZE - PAGE} 4")) == b"bbbb"


def test_an_alloc_past_eof_zeroes_what_was_stored_past_the_old_eof(daxfs, dmaps):
    """Stores into the page of EOF past it never become the file's (POSIX
    mmap): a DAXFS_MAP_ALLOC that grows the file past them shows zeroes
    there, as a truncate up does on a DAX filesystem."""
    path = daxfs.mnt / "f"
    create(path, b"a" * 100)
    d = dmaps(path)
    assert d.map(0, PAGE) == (True, "")
    d.fill(100, PAGE - 100, ord("X"))
    d.persist(100, PAGE - 100)
    assert d.map(2 * PAGE, PAGE, alloc=True) == (True, "")
    data = path.read_bytes()
    assert len(data) == 3 * PAGE
    assert data[:100] == b"a" * 100 and data[100:] == bytes(3 * PAGE - 100)


def test_mapping_data_survives_unmount_and_remount(daxfs, dmaps):
    path = daxfs.mnt / "f"
    create(path)
    d = dmaps(path)
    assert d.map(0, SIZE, alloc=True) == (True, "")
    d.pattern(0, SIZE, 3)
    d.persist(0, SIZE)
    d.ok("unmap")
    d.close()
    daxfs.remount()
    with open(path, "rb") as f:
        assert f.read() == pattern(0, SIZE, 3)


def test_mapping_keeps_working_after_the_caller_closes_its_fd(daxfs, dmaps):
    path, d = mapped_zeroes(daxfs, dmaps)
    d.ok("close")
    d.fill(0, 4, ord("z"))
    d.persist(0, 4)
    with open(path, "rb") as f:
        assert f.read(5) == b"zzzz\0"


# Two linear targets, then one striped over two more devices in 32 KiB chunks.
CHAIN = ("0 4096 linear {0} 0\n4096 4096 linear {1} 0\n"
         "8192 16384 striped 2 64 {2} 0 {3} 0\n")


def test_mapping_across_linear_and_striped_targets_is_one_range_landing_where_the_chain_says(
        daxfs_factory, dmaps):
    fs = daxfs_factory(files=["p0", "p1", "p2", "p3"], size=4 * MIB, table=CHAIN)
    fs.mkfs()
    fs.mount()
    path = fs.mnt / "big"
    create(path)
    st = os.statvfs(fs.mnt)
    length = (st.f_bavail * st.f_frsize - 256 * 1024) // PAGE * PAGE
    d = dmaps(path)
    assert d.map(0, length, alloc=True) == (True, "")
    d.pattern(0, length, 11)
    d.persist(0, length)
    want = pattern(0, length, 11)
    data, devices = fs.backing_bytes(path, 0, length)
    assert data == want
    assert devices == set(fs.files), "the file must reach every target of the chain"
    with open(path, "rb") as f:
        assert f.read() == want


def test_example_stores_persists_and_shows_the_chain(daxfs):
    from conftest import BUILD_DIR, tool
    path = daxfs.mnt / "ex"
    r = subprocess.run([str(BUILD_DIR / "examples" / "daxfs-map-example"), str(path), "hi there"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, DAXFS_CTL=tool("daxfs-ctl")))
    assert r.returncode == 0, r.stderr
    assert "persisted" in r.stdout and daxfs.files[0] in r.stdout
    with open(path, "rb") as f:
        assert f.read(9) == b"hi there\0"

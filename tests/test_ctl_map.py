"""daxfs-ctl map: a mounted file's extents followed down to the backing files."""
import errno
import json
import os

import pytest

from conftest import ctl_fails, ctl_ok, run_ctl
from mount import MIB, PAGE, daxfs_factory, fragmented  # noqa: F401  (fixture)

# 8 MiB linear on pmem0, then 16 MiB striped over pmem1 and pmem2 in 32 KiB chunks
TABLE = "0 16384 linear {0} 0\n16384 32768 striped 2 64 {1} 0 {2} 0\n"
CHUNK = 64 * 512


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(files=["pmem0", "pmem1", "pmem2"], size=8 * MIB, table=TABLE)
    d.mkfs()
    d.mount()
    return d


def write_file(path, chunks):
    """chunks: [(offset, bytes)]; written, then fsync'd so the daemon has them."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        for off, data in chunks:
            assert os.pwrite(fd, data, off) == len(data)
        os.fsync(fd)
    finally:
        os.close(fd)


def map_json(path, *args):
    r = run_ctl("map", path, "--json", *args)
    assert r.stdout.count("\n") == 1, r.stdout + r.stderr
    return r, json.loads(r.stdout)


def test_map_pieces_hold_the_file_bytes(fs):
    data = os.urandom(12 * MIB)
    path = fs.mnt / "big"
    write_file(path, [(0, data)])
    r, m = map_json(path)
    assert r.returncode == 0, r.stderr
    assert m["size"] == len(data) and m["source"] == fs.source
    pos = 0
    for ext in m["extents"]:
        assert ext["offset"] == pos
        covered = ext["offset"]
        for p in ext["pieces"]:
            assert p["offset"] == covered
            with open(p["device"]["path"], "rb") as f:
                f.seek(p["device"]["offset"])
                assert f.read(p["length"]) == data[p["offset"]:p["offset"] + p["length"]]
            covered += p["length"]
        assert covered == ext["offset"] + ext["length"]
        pos += ext["length"]
    assert pos == len(data)


def test_map_splits_striped_extents_at_chunk_boundaries(fs):
    path = fs.mnt / "big"
    write_file(path, [(0, os.urandom(12 * MIB))])
    r, m = map_json(path)
    assert r.returncode == 0, r.stderr
    striped = [p for e in m["extents"] for p in e["pieces"] if p["stripe"] is not None]
    assert striped, "12 MiB must reach the striped target"
    assert all(p["length"] <= CHUNK for p in striped)
    assert {p["device"]["path"] for p in striped} == set(fs.files[1:])
    assert {p["stripe"] for p in striped} == {0, 1}


def test_map_reports_holes_without_pieces(fs):
    path = fs.mnt / "sparse"
    write_file(path, [(3 * PAGE, b"x" * PAGE)])
    r, m = map_json(path)
    assert r.returncode == 0, r.stderr
    assert m["extents"][0] == {"offset": 0, "length": 3 * PAGE, "type": "hole",
                               "md_offset": None, "pieces": []}
    last = m["extents"][-1]
    assert last["type"] == "mapped" and last["offset"] + last["length"] == 4 * PAGE


def test_map_text_names_each_extent_and_device(fs):
    path = fs.mnt / "sparse"
    write_file(path, [(3 * PAGE, b"x" * PAGE)])
    out = ctl_ok("map", path)
    lines = out.splitlines()
    assert lines[0] == f"{path}: {4 * PAGE} bytes on {fs.source}"
    assert lines[1] == f"  0+{3 * PAGE} hole"
    assert lines[2].startswith(f"  {3 * PAGE}+{PAGE} mapped at ")
    assert lines[3].startswith(f"    {3 * PAGE}+{PAGE} -> {fs.files[0]} offset ")
    assert lines[3].endswith("(target 0 linear)")


def map_through_error_table(fs, tmp_path, name, size, text):
    """`map --json` of a new file of size bytes through the table text of
    error targets: it fails (1); its result and map's answer."""
    path = fs.mnt / name
    write_file(path, [(0, b"e" * size)])
    err_table = tmp_path / "error.table"
    err_table.write_text(text)
    r, m = map_json(path, "--table", err_table)
    assert r.returncode == 1
    return path, r, m


def test_map_through_an_error_table_reports_each_failing_piece(fs, tmp_path):
    _, r, m = map_through_error_table(fs, tmp_path, "small", 2 * PAGE, "0 49152 error\n")
    pieces = [p for e in m["extents"] for p in e["pieces"]]
    assert pieces and all(p["error"] == "EIO" for p in pieces)
    assert all(p["reason"] == "target 0 is an error target" for p in pieces), pieces
    assert sum(p["length"] for p in pieces) == 2 * PAGE
    assert "did not resolve" in r.stderr


def test_map_through_an_error_table_reports_one_failing_piece_per_target(fs, tmp_path):
    # The error target fails every page alike: one piece to its end, not a
    # line per page (a large file over it printed millions).
    path, r, m = map_through_error_table(fs, tmp_path, "spans", 12 * MIB,
                                         "0 16384 error\n16384 32768 error\n")
    boundary = 16384 * 512
    for ext in m["extents"]:
        start, end = ext["md_offset"], ext["md_offset"] + ext["length"]
        targets = 1 + (start < boundary < end)
        assert len(ext["pieces"]) == targets, ext
        assert all(p["error"] == "EIO" for p in ext["pieces"])
        assert sum(p["length"] for p in ext["pieces"]) == ext["length"]
    pieces = sum(len(e["pieces"]) for e in m["extents"])
    assert r.stderr.strip().endswith(f"{path}: {pieces} piece{'s' if pieces > 1 else ''} "
                                     "did not resolve")


def test_map_with_table_option_resolves_the_same_way(fs):
    path = fs.mnt / "small"
    write_file(path, [(0, b"z" * PAGE)])
    _, by_mount = map_json(path)
    _, by_table = map_json(path, "--table", fs.table)
    assert by_table["extents"] == by_mount["extents"]


def test_map_file_outside_daxfs_has_no_extent_map(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("not on daxfs\n")
    assert f"{plain}: no extent map" in ctl_fails("map", plain)


def test_map_directory_has_no_extent_map(fs):
    d = fs.mnt / "dir"
    d.mkdir()
    assert "no extent map" in ctl_fails("map", d)


def test_map_missing_file_is_reported(tmp_path):
    assert "No such file or directory" in ctl_fails("map", tmp_path / "absent")


@pytest.mark.parametrize("args,message", [
    ([], "missing FILE"),
    (["a", "b"], "too many arguments"),
    (["a", "--table"], "--table needs a TABLE"),
    (["a", "--yaml"], "unknown option"),
], ids=["no-file", "two-files", "table-without-value", "unknown-option"])
def test_map_usage_error_exits_2(args, message):
    err = ctl_fails("map", *args, status=2)
    assert message in err
    assert "usage: daxfs-ctl map FILE [--table TABLE] [--json]" in err


def test_map_follows_the_live_table_after_a_reload(fs, tmp_path):
    """The daemon resolves against the table live now, not the SOURCE the
    mount started with: after both targets are swapped for error targets,
    every piece fails; after the swap back, they resolve again."""
    path = fs.mnt / "big"
    write_file(path, [(0, os.urandom(12 * MIB))])
    _, before = map_json(path)
    fs.allow_stderr(r"Input/output error")
    err_table = tmp_path / "error.table"
    err_table.write_text("0 16384 error\n16384 32768 error\n")
    good_table = tmp_path / "good.table"
    good_table.write_text(TABLE.format(*fs.files))
    r = run_ctl("reload", fs.mnt, err_table)
    assert r.returncode == 0, r.stderr
    r, m = map_json(path)
    assert r.returncode == 1
    pieces = [p for e in m["extents"] for p in e["pieces"]]
    assert pieces and all(p["error"] == "EIO" for p in pieces)
    r = run_ctl("reload", fs.mnt, good_table)
    assert r.returncode == 0, r.stderr
    r, m = map_json(path)
    assert r.returncode == 0, r.stderr
    assert m == before


def test_map_fails_only_the_poisoned_page_of_an_extent(fs):
    path = fs.mnt / "four"
    write_file(path, [(0, b"p" * (4 * PAGE))])
    _, m = map_json(path)
    (ext,) = m["extents"]
    (piece,) = ext["pieces"]
    bad = (piece["device"]["offset"] + 2 * PAGE) // 512
    assert run_ctl("badblocks", fs.mnt, piece["device"]["path"], "add", bad, 8).returncode == 0
    r, m = map_json(path)
    assert r.returncode == 1
    pieces = m["extents"][0]["pieces"]
    assert [(p["offset"], p["length"], p.get("error")) for p in pieces] == [
        (0, 2 * PAGE, None), (2 * PAGE, PAGE, "EHWPOISON"), (3 * PAGE, PAGE, None)]
    assert pieces[1]["reason"] == (f"a bad block of {piece['device']['path']} at byte "
                                   f"{piece['device']['offset'] + 2 * PAGE}")
    assert pieces[0]["device"]["offset"] == piece["device"]["offset"]


def test_map_of_a_file_of_many_extents_comes_a_page_at_a_time(fs):
    """A file written a block at a time from its end back is in hundreds of
    one-block extents: the map's text passes the 64 KiB one attribute value
    may hold (getxattr gives E2BIG), so daxfs-ctl reads it a page at a time
    (system.daxfs.map@OFFSET) and shows all of it."""
    a, b = fs.mnt / "a", fs.mnt / "b"
    fragmented(a, b, 800)
    os.unlink(b)
    with pytest.raises(OSError) as e:
        os.getxattr(a, "system.daxfs.map")
    assert e.value.errno == errno.E2BIG
    for args in ((), ("--table", fs.table)):
        r, m = map_json(a, *args)
        assert r.returncode == 0, r.stderr
        assert len(m["extents"]) >= 400, len(m["extents"])
        assert m["extents"][0]["offset"] == 0
        for prev, ext in zip(m["extents"], m["extents"][1:]):
            assert ext["offset"] == prev["offset"] + prev["length"]
        assert sum(ext["length"] for ext in m["extents"]) == 800 * PAGE
        assert all("error" not in p for ext in m["extents"] for p in ext["pieces"])
    r = run_ctl("map", a)
    assert r.returncode == 0 and r.stdout.count(" -> ") >= 400, r.stderr


def test_map_of_one_extent_in_thousands_of_pieces_comes_a_page_at_a_time(daxfs_factory):
    """A striped table of 4 KiB chunks splits one large extent into a piece
    per block: its lines alone pass the 64 KiB an attribute value may hold.
    The pages end between its pieces, and daxfs-ctl joins them into the one
    extent they are."""
    d = daxfs_factory(files=["pmem0", "pmem1"], size=16 * MIB,
                      table="0 65536 striped 2 8 {0} 0 {1} 0\n")
    d.mkfs()
    d.mount()
    path = d.mnt / "big"
    data = os.urandom(8 * MIB)
    write_file(path, [(0, data)])
    with pytest.raises(OSError) as e:
        os.getxattr(path, "system.daxfs.map")
    assert e.value.errno == errno.E2BIG
    r, m = map_json(path)
    assert r.returncode == 0, r.stderr
    assert sum(len(ext["pieces"]) for ext in m["extents"]) >= 2048
    pos = 0
    for ext in m["extents"]:
        assert ext["offset"] == pos and ext["type"] == "mapped"
        for p in ext["pieces"]:
            assert p["offset"] == pos and p["length"] == PAGE, p
            with open(p["device"]["path"], "rb") as f:
                f.seek(p["device"]["offset"])
                assert f.read(PAGE) == data[pos:pos + PAGE]
            pos += PAGE
        assert pos == ext["offset"] + ext["length"]
    assert pos == len(data)
    # the extents as the filesystem has them: none split where a page ended
    iomap = os.getxattr(path, "system.daxfs.iomap").decode().splitlines()
    assert [[int(w) for w in line.split()[:2]] for line in iomap] == [
        [ext["offset"], ext["length"]] for ext in m["extents"]]

"""The crash-state generator and the oracle on synthetic traces (tools/crash)."""
import sys

import pytest

from conftest import SOURCE_DIR

sys.path.insert(0, str(SOURCE_DIR / "tools" / "crash"))
import oracle  # noqa: E402
import persist_trace as pt  # noqa: E402
import workloads as wl  # noqa: E402

DEV = "/dev/pmem x"   # a space, to exercise the escaping
SIZE = 4096


def flush(off, data, mode="pmem", dev=DEV):
    return f"F 1 1 {mode} {pt.escape(dev)} {SIZE} {off} {len(data)} {data.hex()}\n"


def drain(mode="pmem", dev=DEV):
    return f"S 1 1 {mode} {pt.escape(dev)}\n"


def parse(*lines):
    return pt.parse(pt.HEADER + "\n" + "".join(lines))


def images_of(records, seed=1, nrandom=4):
    out = []
    for point in pt.crash_points(records, {DEV: bytes(SIZE)}):
        out.append({st.name: bytes(st.images()[DEV]) for st in pt.states(point, seed, nrandom)})
    return out


# ---- parsing ----------------------------------------------------------------

def test_parse_reads_flush_drain_and_mark_with_escaped_names():
    recs = parse(flush(8, b"ab"), drain(), pt.mark_line("step 1 end"))
    assert [type(r).__name__ for r in recs] == ["Flush", "Drain", "Mark"]
    assert recs[0].dev == DEV and recs[0].off == 8 and recs[0].data == b"ab"
    assert recs[2].label == "step 1 end"


@pytest.mark.parametrize("text, why", [
    ("F 1 1 pmem d 4096 0 1 00\n", "not a daxfs persistence trace"),
    (pt.HEADER + "\nS 1 1 pmem d", "truncated record"),
    (pt.HEADER + "\nF 1 1 pmem d 4096 0 2 00\n", "1 bytes of data for length 2"),
    (pt.HEADER + "\nF 1 1 pmem d 4096 4095 2 0000\n", "beyond the device end"),
    (pt.HEADER + "\nF 1 1 pmem d 4096 0 1 zz\n", "line 2"),
    (pt.HEADER + "\nX 1 1\n", "unknown record kind"),
    (pt.HEADER + "\nS 1 1 nvme d\n", "unknown persist mode"),
], ids=["header", "truncated", "short-data", "beyond-end", "bad-hex", "kind", "mode"])
def test_parse_rejects_malformed_trace_naming_the_problem(text, why):
    with pytest.raises(pt.TraceError, match=why):
        pt.parse(text)


# ---- crash states -------------------------------------------------------------

def test_unflushed_store_never_reaches_any_state():
    # a store that was never flushed is simply not in the trace
    (end,) = images_of(parse(pt.mark_line("nothing")))
    assert end == {"none": bytes(SIZE)}


def test_flush_before_drain_is_pending_then_durable():
    points = images_of(parse(flush(0, b"A"), drain(), flush(1, b"B")))
    assert points[0]["none"][:2] == b"\0\0" and points[0]["all"][:2] == b"A\0"
    assert points[1]["none"][:2] == b"A\0" and points[1]["all"][:2] == b"AB"


def test_few_pending_flushes_enumerate_every_subset():
    (p, _) = images_of(parse(flush(0, b"A"), flush(1, b"B"), drain()))
    assert sorted(img[:2] for img in p.values()) == [b"\0\0", b"\0B", b"A\0", b"AB"]


def test_msync_flush_is_durable_at_once():
    (end,) = images_of(parse(flush(0, b"A", mode="msync"), drain(mode="msync")))
    assert end["none"][:1] == b"A"


def test_memory_flush_is_durable_at_once():
    (end,) = images_of(parse(flush(0, b"A", mode="memory"), drain(mode="memory")))
    assert end["none"][:1] == b"A"


def test_torn_state_keeps_whole_cache_lines_only():
    data = bytes(range(1, 129)) * 4      # 512 bytes, 8 cache lines
    recs = parse(*[flush(i * 512, data) for i in range(6)], drain())
    point = next(pt.crash_points(recs, {DEV: bytes(SIZE)}))
    torn = [st for st in pt.states(point, 7, 4) if st.name.startswith("torn")]
    assert torn
    for st in torn:
        img = st.images()[DEV]
        for line in range(0, 6 * 512, pt.CACHE_LINE):
            chunk = img[line:line + pt.CACHE_LINE]
            assert chunk in (bytes(pt.CACHE_LINE), data[line % 512:line % 512 + pt.CACHE_LINE])


def test_random_states_depend_only_on_the_seed():
    recs = parse(*[flush(i * 64, b"x" * 64) for i in range(12)], drain())
    assert images_of(recs, seed=5) == images_of(recs, seed=5)
    assert images_of(recs, seed=5) != images_of(recs, seed=6)


def test_drain_of_one_device_leaves_the_other_pending():
    other = "/dev/pmem1"
    recs = pt.parse(pt.HEADER + "\n" + flush(0, b"A") + flush(0, b"B", dev=other) + drain())
    points = list(pt.crash_points(recs, {DEV: bytes(SIZE), other: bytes(SIZE)}))
    assert points[-1].durable[DEV][:1] == b"A"
    assert points[-1].durable[other][:1] == b"\0"
    assert [fl.dev for fl in points[-1].pending] == [other]


def test_flush_of_unknown_device_is_an_error():
    with pytest.raises(pt.TraceError, match="no base image"):
        list(pt.crash_points(parse(flush(0, b"A", dev="/other")), {DEV: bytes(SIZE)}))


# ---- the oracle -------------------------------------------------------------------

def entry(ino, kind="reg", data=b"", parent=1, mode=0o644, **kw):
    e = {"ino": ino, "parent": parent, "type": kind, "mode": mode, "uid": 0, "gid": 0,
         "size": len(data), "nlink": 1, "xattrs": {}}
    if kind == "reg":
        e["data"] = data
    e.update(kw)
    return e


ROOT = entry(1, "dir", parent=1)


def recording(*snaps, acks=None):
    return {"snaps": list(snaps), "acks": acks or [(None, None)] * len(snaps)}


def test_oracle_accepts_either_side_of_an_unacknowledged_rename():
    before = {".": ROOT, "a": entry(2)}
    after = {".": ROOT, "b": entry(2)}
    rec = recording(before, after)
    assert oracle.check(rec, 1, 0, before) == []
    assert oracle.check(rec, 1, 0, after) == []


def test_oracle_rejects_a_rename_showing_both_names():
    rec = recording({".": ROOT, "a": entry(2)}, {".": ROOT, "b": entry(2)})
    (p,) = oracle.check(rec, 1, 0, {".": ROOT, "a": entry(2), "b": entry(2)})
    assert p.startswith("names:")


def test_oracle_rejects_losing_a_directory_fsync():
    s0 = {".": ROOT}
    s1 = {".": ROOT, "f": entry(2)}
    rec = recording(s0, s1, s1, acks=[(None, None), (None, None), (wl.SYNC_DIR, 1)])
    assert oracle.check(rec, 2, 1, s0) == []          # fsyncdir had not returned
    assert oracle.check(rec, 2, 2, s0)[0].startswith("names:")


def test_oracle_rejects_a_byte_no_write_put_there():
    s0 = {".": ROOT, "f": entry(2)}
    s1 = {".": ROOT, "f": entry(2, data=b"\x05" * 100)}
    rec = recording(s0, s1)
    stale = {".": ROOT, "f": entry(2, data=b"\x05" * 50 + b"\x99" + b"\x05" * 49)}
    (p,) = oracle.check(rec, 1, 1, stale)
    assert "1 bad byte(s), first at offset 50" in p and "no write put there" in p


def test_oracle_allows_zeroes_where_data_was_not_acknowledged():
    s0 = {".": ROOT, "f": entry(2)}
    s1 = {".": ROOT, "f": entry(2, data=b"\x05" * 100)}
    rec = recording(s0, s1)
    assert oracle.check(rec, 1, 1, {".": ROOT, "f": entry(2, data=bytes(100))}) == []


def test_oracle_rejects_zeroes_where_fsync_acknowledged_data():
    s1 = {".": ROOT, "f": entry(2, data=b"\x05" * 100)}
    rec = recording({".": ROOT, "f": entry(2)}, s1, s1,
                    acks=[(None, None), (None, None), (wl.SYNC_FILE, 2)])
    (p,) = oracle.check(rec, 2, 2, {".": ROOT, "f": entry(2, data=bytes(100))})
    assert "acknowledged byte lost" in p


def test_oracle_rejects_a_size_the_file_never_had():
    s0 = {".": ROOT, "f": entry(2)}
    s1 = {".": ROOT, "f": entry(2, data=b"\x05" * 100)}
    (p,) = oracle.check(recording(s0, s1), 1, 1, {".": ROOT, "f": entry(2, data=b"\x05" * 60)})
    assert "size 60 was never its size" in p


def test_oracle_rejects_a_mode_lost_after_fsync():
    s0 = {".": ROOT, "f": entry(2)}
    s1 = {".": ROOT, "f": entry(2, mode=0o600)}
    rec = recording(s0, s1, s1, acks=[(None, None), (None, None), (wl.SYNC_FILE, 2)])
    assert oracle.check(rec, 2, 1, s0) == []
    (p,) = oracle.check(rec, 2, 2, s0)
    assert "mode 0o644 was never set" in p


def test_thread_scope_drain_leaves_other_threads_flushes_pending():
    recs = parse(flush(0, b"A").replace("F 1 1", "F 1 2"), flush(1, b"B"), drain())
    (point, end) = pt.crash_points(recs, {DEV: bytes(SIZE)}, scope="thread")
    assert end.durable[DEV][:2] == b"\0B"
    assert [fl.data for fl in end.pending] == [b"A"]
    (point, end) = pt.crash_points(recs, {DEV: bytes(SIZE)}, scope="device")
    assert end.durable[DEV][:2] == b"AB" and end.pending == []


def test_single_pending_block_flush_still_gets_torn_states():
    recs = parse(flush(0, bytes(range(1, 256)) * 16), drain())
    point = next(pt.crash_points(recs, {DEV: bytes(SIZE)}))
    names = [st.name for st in pt.states(point, 1, 4)]
    assert names[:2] == ["none", "all"] and "torn:0" in names and "torn:1" in names


def test_pending_flush_never_overwrites_newer_durable_bytes():
    # thread 2 flushes old bytes; thread 1 later flushes new bytes over part of
    # them and drains: the old flush keeps only the bytes nobody replaced
    recs = parse(flush(0, b"oooo").replace("F 1 1", "F 1 2"), flush(1, b"NN"), drain())
    (_, end) = pt.crash_points(recs, {DEV: bytes(SIZE)}, scope="thread")
    assert end.durable[DEV][:4] == b"\0NN\0"
    assert sorted((fl.off, fl.data) for fl in end.pending) == [(0, b"o"), (3, b"o")]


def test_oracle_allows_a_size_inside_a_write_in_flight_only():
    s0 = {".": ROOT, "f": entry(2)}
    s1 = {".": ROOT, "f": entry(2, data=b"\x05" * 100)}
    rec = recording(s0, s1)
    rec["steps"] = [("write", "f", 0, 100, 1)]
    part = {".": ROOT, "f": entry(2, data=b"\x05" * 60)}
    assert oracle.check(rec, 1, 0, part) == []          # the write had not returned
    (p,) = oracle.check(rec, 1, 1, part)
    assert "size 60 was never its size" in p

"""daxfs-ctl resolve: every step of dm_dax_direct_access, as text and as JSON."""
import json

import pytest

from conftest import PMEM_SIZE, ctl_fails, ctl_ok, run_ctl, sparse_file


def resolve_json(*args, status=0):
    """`resolve --json` of ARGS, which exits with status: its one JSON line."""
    r = run_ctl("resolve", *args, "--json")
    assert r.returncode == status, r.stderr
    assert r.stdout.count("\n") == 1, r.stdout
    return json.loads(r.stdout)


# §3.1 of kernel-chain.md: pgoff 300 -> S=2400 -> target 1, off 352 -> B pgoff 44, 212 pages
TWO_LINEAR = "0 2048 linear {A} 8\n2048 2048 linear {B} 0\n"
# §3.2: S=3000 -> chunk 2, offset 952 -> stripe 0 (A), sector 1976, pgoff 247, 9 pages
STRIPED = "0 8192 striped 2 1024 {A} 0 {B} 0\n"


def test_resolve_json_two_linear_targets_matches_kernel_example(table, pmem):
    obj = resolve_json(table(TWO_LINEAR), 300, 1000)
    assert obj == {
        "pgoff": 300, "sector": 2400,
        "target": {"index": 1, "type": "linear", "begin": 2048, "len": 2048},
        "stripe": None,
        "device": {"path": pmem["B"], "sector": 352, "pgoff": 44},
        "pages": 212,
    }


def test_resolve_json_linear_offset_shifts_device_pgoff(table, pmem):
    obj = resolve_json(table(TWO_LINEAR), 0)
    assert obj["target"]["index"] == 0
    assert obj["device"] == {"path": pmem["A"], "sector": 8, "pgoff": 1}
    assert obj["pages"] == 1


def test_resolve_json_striped_matches_kernel_example(table, pmem):
    obj = resolve_json(table(STRIPED), 375, 100)
    assert obj == {
        "pgoff": 375, "sector": 3000,
        "target": {"index": 0, "type": "striped", "begin": 0, "len": 8192},
        "stripe": 0,
        "device": {"path": pmem["A"], "sector": 1976, "pgoff": 247},
        "pages": 9,
    }


def test_resolve_json_striped_second_chunk_lands_on_second_stripe(table, pmem):
    obj = resolve_json(table(STRIPED), 128, 1000)
    assert obj["stripe"] == 1
    assert obj["device"] == {"path": pmem["B"], "sector": 0, "pgoff": 0}
    assert obj["pages"] == 128


def test_resolve_clamps_at_target_boundary(tmp_path, pmem):
    # two linear targets of 1000 pages; 600 pages at page 700 -> 300 (§7 item 8)
    path = tmp_path / "t.table"
    path.write_text(f"0 8000 linear {pmem['A']} 0\n8000 8000 linear {pmem['B']} 0\n")
    obj = resolve_json(path, 700, 600)
    assert obj["pages"] == 300


@pytest.mark.parametrize("text, pgoff", [
    ("0 2048 linear {A} 0\n2048 2048 error\n", 300),    # on an error target
    (TWO_LINEAR, 512),                                     # past the end
    ("0 2048 zero\n", 0),                                 # on a zero target
], ids=["error-target", "past-the-end", "zero-target"])
def test_resolve_where_no_device_is_reports_eio(table, text, pgoff):
    obj = resolve_json(table(text), pgoff, status=1)
    assert obj == {"pgoff": pgoff, "error": "EIO"}


def test_resolve_last_page_resolves(table, pmem):
    obj = resolve_json(table(TWO_LINEAR), 511, 8)
    assert obj["device"] == {"path": pmem["B"], "sector": 2040, "pgoff": 255}
    assert obj["pages"] == 1


def test_resolve_json_escapes_device_path(tmp_path):
    odd = tmp_path / 'pm"em\u00e9'
    sparse_file(odd, PMEM_SIZE)
    path = tmp_path / "t.table"
    path.write_text(f"0 2048 linear {odd} 0\n")
    out = ctl_ok("resolve", path, 3, "--json")
    assert json.loads(out)["device"]["path"] == str(odd)
    assert 'pm\\"em' in out


def test_resolve_invalid_table_prints_error_object(table):
    path = table("0 8 linear {A}\n")
    r = run_ctl("resolve", path, 0, "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"pgoff": 0, "error": "EINVAL"}
    assert f"{path}:1: linear: Invalid argument count" in r.stderr


def test_resolve_text_prints_every_step(table, pmem):
    out = ctl_ok("resolve", table(TWO_LINEAR), 300, 1000)
    assert out.splitlines() == [
        "pgoff 300 -> sector 2400",
        "  target 1: linear, begin 2048, len 2048, offset 352",
        f"  device {pmem['B']}: sector 352, pgoff 44",
        "  pages 212 of 1000 requested",
    ]


def test_resolve_text_striped_names_the_stripe(table, pmem):
    out = ctl_ok("resolve", table(STRIPED), 375, 100)
    assert out.splitlines() == [
        "pgoff 375 -> sector 3000",
        "  target 0: striped, begin 0, len 8192, offset 3000",
        "  stripe 0",
        f"  device {pmem['A']}: sector 1976, pgoff 247",
        "  pages 9 of 100 requested",
    ]


def test_resolve_text_error_target_ends_with_the_errno(table):
    r = run_ctl("resolve", table("0 2048 linear {A} 0\n2048 2048 error\n"), 300)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "pgoff 300 -> sector 2400"
    assert "  target 1: error, begin 2048, len 2048, offset 352" in lines
    assert lines[-1] == "error: EIO (Input/output error)"


def test_resolve_text_past_the_end_has_no_target(table):
    r = run_ctl("resolve", table(TWO_LINEAR), 600)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "pgoff 600 -> sector 4800",
        "  no target maps sector 4800",
        "error: EIO (Input/output error)",
    ]


def test_resolve_accepts_hex_page_offset(table):
    obj = resolve_json(table(TWO_LINEAR), "0x12c", 1000)
    assert obj["pgoff"] == 300 and obj["pages"] == 212


@pytest.mark.parametrize("args,message", [
    ([], "missing TABLE"),
    (["t"], "missing PGOFF"),
    (["t", "abc"], "PGOFF 'abc'"),
    (["t", "1x"], "PGOFF '1x'"),
    (["t", "5", "-1"], "unknown option"),
    (["t", "5", "1", "2"], "too many arguments"),
    (["t", "5", "99999999999999999999"], "NR_PAGES"),
    (["--yaml", "t", "5"], "unknown option"),
], ids=["no-args", "no-pgoff", "pgoff-not-number", "pgoff-junk", "negative-count",
        "too-many", "count-too-big", "unknown-option"])
def test_resolve_usage_error_exits_2(args, message):
    err = ctl_fails("resolve", *args, status=2)
    assert message in err
    assert "usage: daxfs-ctl resolve TABLE PGOFF [NR_PAGES] [--json]" in err


def test_resolve_help_shows_json_shape():
    out = ctl_ok("resolve", "--help")
    assert out.startswith("usage: daxfs-ctl resolve TABLE PGOFF")
    assert '"stripe": K or null' in out

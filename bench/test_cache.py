"""Tests of daxfs-bench-cache and of caching.sh's command line: the helper must
do what it says on the files it says, check what it read, and fail loudly. No
timing is tested."""
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(os.environ.get("DAXFS_BENCH_DIR", Path(__file__).parent))
sys.path.insert(0, str(BENCH))
from helpers import built, check_script_usage, run  # noqa: E402


@pytest.fixture
def cache():
    return built("DAXFS_BENCH_CACHE")


def test_fill_creates_the_files_with_their_size(cache, tmp_path):
    res = run(cache, "fill", tmp_path, 5, 10000)
    assert res.returncode == 0, res.stderr
    op, n, secs, rate = res.stdout.split()
    assert (op, n) == ("fill", "5") and float(secs) >= 0 and float(rate) >= 0
    assert sorted(os.listdir(tmp_path)) == [f"f{i:07d}" for i in range(5)]
    assert all((tmp_path / f).read_bytes() == b"d" * 10000 for f in os.listdir(tmp_path))


@pytest.mark.parametrize("op", ["read", "mmap", "lsl"])
def test_ops_go_through_every_file(cache, tmp_path, op):
    assert run(cache, "fill", tmp_path, 7, 8192).returncode == 0
    res = run(cache, op, tmp_path, 7, 8192)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[:2] == [op, "7"]


def test_read_fails_on_a_short_file(cache, tmp_path):
    assert run(cache, "fill", tmp_path, 3, 4096).returncode == 0
    os.truncate(tmp_path / "f0000001", 100)
    res = run(cache, "read", tmp_path, 3, 4096)
    assert res.returncode == 1
    assert f"read {tmp_path}/f0000001: 100 bytes, expected 4096" in res.stderr


def test_lsl_checks_the_entry_count(cache, tmp_path):
    assert run(cache, "fill", tmp_path, 3, 1).returncode == 0
    res = run(cache, "lsl", tmp_path, 4, 1)
    assert res.returncode == 1 and f"lsl {tmp_path}: 3 entries and 2 dot entries, expected 4 and 2" in res.stderr


@pytest.mark.parametrize("args, msg", [
    ([], "usage:"),
    (["frob", "/tmp", "1", "1"], "unknown operation 'frob'"),
    (["read", "/tmp", "0", "1"], "invalid count '0'"),
    (["read", "/tmp", "1", "x"], "invalid size 'x'"),
    (["read", "/tmp", "1", "99999999999"], "invalid size '99999999999'"),
])
def test_usage_errors(cache, args, msg):
    res = run(cache, *args)
    assert res.returncode == 2
    assert msg in res.stderr


def test_caching_sh_usage():
    check_script_usage("caching.sh", "usage: bash bench/caching.sh [--quick] [--out DIR]")

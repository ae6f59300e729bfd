"""mkfs.daxfs: SOURCE forms, -s file creation, -f, -L, -U, the summary and usage errors."""
import os
import re

import pytest

from conftest import PMEM_SIZE, run_tool as run, sparse_file
from mount import daxfs  # noqa: F401  (the mounted-filesystem fixture)

SIZE = 64 << 20
UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0"


def summary(stdout):
    """The 'key: value' lines of the summary as a dict."""
    return dict(line.split(": ", 1) for line in stdout.splitlines() if ": " in line)


@pytest.fixture
def files(tmp_path):
    """Two not-yet-existing pmem file paths, as one comma-separated SOURCE."""
    a, b = tmp_path / "pmem0", tmp_path / "pmem1"
    return a, b, f"{a},{b}"


def test_mkfs_creates_missing_files_sparse_of_size(files):
    a, b, source = files
    r = run("mkfs.daxfs", "-s", "64M", source)
    assert r.returncode == 0, r.stderr
    for f in (a, b):
        st = os.stat(f)
        assert st.st_size == SIZE
        assert st.st_blocks * 512 < SIZE, "the file should be sparse"


def test_mkfs_summary_reports_size_blocks_uuid_and_label(files):
    _, _, source = files
    r = run("mkfs.daxfs", "-s", "64M", "-U", UUID, "-L", "scratch", source)
    assert r.returncode == 0, r.stderr
    s = summary(r.stdout)
    assert s["size"] == f"{2 * SIZE} bytes ({2 * SIZE // 512} sectors)"
    m = re.fullmatch(r"(\d+) of 4096 bytes", s["blocks"])
    assert m and 0 < int(m.group(1)) <= 2 * SIZE // 4096
    assert s["uuid"] == UUID
    assert s["label"] == "scratch"


def test_mkfs_without_uuid_picks_a_random_one_each_time(files):
    _, _, source = files
    first = run("mkfs.daxfs", "-s", "64M", source)
    second = run("mkfs.daxfs", "-f", source)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    u1, u2 = summary(first.stdout)["uuid"], summary(second.stdout)["uuid"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u1)
    assert u1 != u2


def test_mkfs_refuses_an_existing_daxfs_without_force(files):
    a, _, source = files
    assert run("mkfs.daxfs", "-s", "64M", "-U", UUID, "-L", "old", source).returncode == 0
    r = run("mkfs.daxfs", source)
    assert r.returncode == 1
    assert r.stderr == (f"mkfs.daxfs: {a} holds a daxfs (format 2, uuid {UUID}, label 'old'); "
                        "use -f to overwrite it\n")
    assert r.stdout == ""


def test_mkfs_force_overwrites_an_existing_daxfs(files):
    _, _, source = files
    assert run("mkfs.daxfs", "-s", "64M", "-L", "old", source).returncode == 0
    r = run("mkfs.daxfs", "-f", "-L", "new", source)
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)["label"] == "new"


def test_mkfs_on_a_table_file(table):
    r = run("mkfs.daxfs", table(f"# one file\n0 {PMEM_SIZE // 512} linear {{A}} 0\n"))
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)["size"] == f"{PMEM_SIZE} bytes ({PMEM_SIZE // 512} sectors)"


def test_mkfs_grows_a_smaller_existing_file_to_size(tmp_path):
    a, b = tmp_path / "pmem0", tmp_path / "pmem1"
    sparse_file(a, SIZE // 2)
    r = run("mkfs.daxfs", "-s", "64M", f"{a},{b}")
    assert r.returncode == 0, r.stderr
    assert os.stat(a).st_size == SIZE
    assert os.stat(b).st_size == SIZE
    assert summary(r.stdout)["size"] == f"{2 * SIZE} bytes ({2 * SIZE // 512} sectors)"


def test_mkfs_leaves_a_larger_existing_file_its_size(tmp_path):
    a = tmp_path / "pmem0"
    sparse_file(a, 2 * SIZE)
    r = run("mkfs.daxfs", "-s", "64M", a)
    assert r.returncode == 0, r.stderr
    assert os.stat(a).st_size == 2 * SIZE


def test_mkfs_missing_file_without_size_names_it(files):
    a, _, source = files
    r = run("mkfs.daxfs", source)
    assert r.returncode == 1
    assert str(a) in r.stderr
    assert not a.exists()


def test_mkfs_invalid_table_names_its_line(table):
    path = table("0 8 linear {A} 0\n16 8 linear {A} 8\n", "bad.table")
    r = run("mkfs.daxfs", path)
    assert r.returncode == 1
    assert f"{path}:2: linear: Gap in table" in r.stderr


def test_mkfs_refuses_a_device_too_small_for_a_filesystem(tmp_path):
    pmem = tmp_path / "tiny"
    r = run("mkfs.daxfs", "-s", "4K", pmem)
    assert r.returncode == 1
    assert "cannot make a daxfs on" in r.stderr
    assert not pmem.exists(), "a failed mkfs removes the file it created"



@pytest.mark.parametrize("args,message", [
    ([], "missing SOURCE"),
    (["a", "b"], "too many arguments"),
    (["-L", "x" * 64, "src"], "longer than 63 bytes"),
    (["-U", "not-a-uuid", "src"], "is not a uuid"),
    (["-U", UUID + "0", "src"], "is not a uuid"),
    (["-s", "12Q", "src"], "SIZE '12Q'"),
    (["-s", "0", "src"], "SIZE '0'"),
    (["-s", "1000", "src"], "SIZE '1000'"),
    (["-s", "-1G", "src"], "SIZE '-1G'"),
    (["-s", "99999999T", "src"], "SIZE '99999999T' is too large (more than 16 EiB)"),
    (["-s"], "needs an argument"),
    (["--bogus", "src"], "unknown option"),
], ids=["no-source", "two-sources", "long-label", "bad-uuid", "long-uuid", "bad-suffix",
        "zero-size", "unaligned-size", "negative-size", "huge-size", "size-without-value",
        "unknown-option"])
def test_mkfs_usage_error_exits_2(args, message):
    r = run("mkfs.daxfs", *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_mkfs_refuses_the_nil_uuid_as_ctl_uuid_does(files):
    a, b, source = files
    r = run("mkfs.daxfs", "-s", "64M", "-U", "00000000-0000-0000-0000-000000000000", source)
    assert r.returncode == 1
    assert r.stderr == "mkfs.daxfs: the nil uuid names no filesystem\n"
    assert r.stdout == ""
    assert not a.exists() and not b.exists(), "nothing is created for a refused uuid"


def test_mkfs_label_of_63_bytes_is_accepted(files):
    _, _, source = files
    r = run("mkfs.daxfs", "-s", "64M", "-L", "l" * 63, source)
    assert r.returncode == 0, r.stderr
    assert summary(r.stdout)["label"] == "l" * 63


def test_mkfs_help_lists_options():
    r = run("mkfs.daxfs", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: mkfs.daxfs [-f] [-n] [-L label] [-U uuid] [-s SIZE] [--prealloc] "
                               "SOURCE")
    assert "  --prealloc\n" in r.stdout


def test_mkfs_version():
    r = run("mkfs.daxfs", "--version")
    assert r.returncode == 0
    assert r.stdout.startswith("mkfs.daxfs (daxfs-fuse) ")


def test_mkfs_refuses_a_mounted_filesystem(daxfs):
    (daxfs.mnt / "precious").write_text("keep me\n")
    r = run("mkfs.daxfs", "-f", daxfs.source)
    assert r.returncode == 1
    assert f"{daxfs.files[0]}: in use by another daxfs mount" in r.stderr
    assert (daxfs.mnt / "precious").read_text() == "keep me\n"


@pytest.mark.parametrize("tail,message", [
    ("zero", "target 1 (zero) at sector 16384 drops writes"),
    ("error", "target 1 (error) at sector 16384 fails every access"),
], ids=["zero", "error"])
def test_mkfs_refuses_a_table_with_a_target_that_cannot_store_data(tmp_path, tail, message):
    pmem = tmp_path / "pmem"
    sparse_file(pmem, SIZE // 8)
    table = tmp_path / "t.table"
    table.write_text(f"0 16384 linear {pmem} 0\n16384 8 {tail}\n")
    r = run("mkfs.daxfs", table)
    assert r.returncode == 1
    assert f"{table}: {message}; every target of a daxfs must store data" in r.stderr


@pytest.mark.parametrize("size", ["64M", "64MiB", "64m", "65536K", "67108864", "0x4000000",
                                  "67108864B"])
def test_mkfs_size_accepts_suffixes_and_hex(tmp_path, size):
    pmem = tmp_path / "pmem"
    r = run("mkfs.daxfs", "-s", size, pmem)
    assert r.returncode == 0, r.stderr
    assert os.stat(pmem).st_size == SIZE


def test_fsck_and_mkfs_report_their_version():
    for name in ("mkfs.daxfs", "fsck.daxfs"):
        r = run(name, "-V")
        assert r.returncode == 0
        assert r.stdout.startswith(f"{name} (daxfs-fuse) ")

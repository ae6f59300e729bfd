"""fsck.daxfs: e2fsck exit codes, problem reports, -n never writes."""
import hashlib

import pytest

from conftest import run_tool as run, sparse_file
from mount import daxfs  # noqa: F401  (the mounted-filesystem fixture)

SIZE = 64 << 20


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fs(tmp_path):
    """A freshly made daxfs on one 64 MiB pmem file; returns its path."""
    pmem = tmp_path / "pmem"
    r = run("mkfs.daxfs", "-s", "64M", pmem)
    assert r.returncode == 0, r.stderr
    return pmem


def test_fsck_fresh_filesystem_is_clean(fs):
    r = run("fsck.daxfs", "-n", fs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == f"{fs}: clean"


def test_fsck_defaults_to_check_only(fs):
    r = run("fsck.daxfs", fs)
    assert r.returncode == 0, r.stdout + r.stderr


def test_fsck_repair_of_clean_filesystem_exits_0(fs):
    r = run("fsck.daxfs", "-y", fs)
    assert r.returncode == 0, r.stdout + r.stderr


def test_fsck_check_only_never_writes(fs):
    before = digest(fs)
    run("fsck.daxfs", "-n", fs)
    assert digest(fs) == before


def test_fsck_without_filesystem_is_an_operational_error(tmp_path):
    pmem = tmp_path / "blank"
    sparse_file(pmem, SIZE)
    r = run("fsck.daxfs", "-n", pmem)
    assert r.returncode == 8
    assert str(pmem) in r.stderr


def test_fsck_missing_source_is_an_operational_error(tmp_path):
    r = run("fsck.daxfs", "-n", tmp_path / "absent")
    assert r.returncode == 8
    assert "absent" in r.stderr


@pytest.mark.parametrize("args,message", [
    ([], "missing SOURCE"),
    (["a", "b"], "too many arguments"),
    (["-n", "-y", "a"], "-n and -y exclude each other"),
    (["-x", "a"], "unknown option"),
], ids=["no-source", "two-sources", "n-and-y", "unknown-option"])
def test_fsck_usage_error_exits_16(args, message):
    r = run("fsck.daxfs", *args)
    assert r.returncode == 16
    assert message in r.stderr


def test_fsck_help_states_exit_codes():
    r = run("fsck.daxfs", "--help")
    assert r.returncode == 0
    assert "4 problems left uncorrected" in r.stdout


def damage_backup_superblock(pmem):
    """Overwrites the start of block 1 (the backup superblock, FORMAT.md)."""
    with open(pmem, "r+b") as f:
        f.seek(4096)
        f.write(b"\xa5" * 64)


def test_fsck_check_only_reports_damage_and_exits_4(fs):
    damage_backup_superblock(fs)
    r = run("fsck.daxfs", "-n", fs)
    assert r.returncode == 4, r.stdout + r.stderr
    assert any(line.startswith("backup superblock: ") and not line.endswith("(repaired)")
               for line in r.stdout.splitlines())
    assert r.stdout.splitlines()[-1] == f"{fs}: 1 problem found, 0 repaired"


def test_fsck_check_only_leaves_damage_in_place(fs):
    damage_backup_superblock(fs)
    before = digest(fs)
    run("fsck.daxfs", "-n", fs)
    assert digest(fs) == before


def test_fsck_repairs_a_damaged_backup_superblock_and_exits_1(fs):
    damage_backup_superblock(fs)
    r = run("fsck.daxfs", "-y", fs)
    assert r.returncode == 1, r.stdout + r.stderr
    assert any(line.startswith("backup superblock: ") and line.endswith(" (repaired)")
               for line in r.stdout.splitlines())
    assert r.stdout.splitlines()[-1] == f"{fs}: 1 problem found, 1 repaired"


def test_fsck_after_repair_finds_the_filesystem_clean(fs):
    damage_backup_superblock(fs)
    run("fsck.daxfs", "-y", fs)
    r = run("fsck.daxfs", "-n", fs)
    assert r.returncode == 0, r.stdout + r.stderr


def test_fsck_refuses_a_mounted_filesystem(daxfs):
    r = run("fsck.daxfs", "-n", daxfs.source)
    assert r.returncode == 8
    assert f"{daxfs.files[0]}: in use by another daxfs mount" in r.stderr

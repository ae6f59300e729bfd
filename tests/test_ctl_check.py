"""daxfs-ctl check: table validation, printed table, size and DAX capability."""
import os
import shutil
import subprocess

import pytest

from conftest import PMEM_SIZE, ctl_fails, ctl_ok, run_ctl, sparse_file


def test_check_prints_linear_table_size_and_dax_yes(table, pmem):
    r = run_ctl("check", table("0 2048 linear {A} 8\n2048 2048 linear {B} 0\n"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"0 2048 linear {pmem['A']} 8",
        f"2048 2048 linear {pmem['B']} 0",
        "size: 4096 sectors",
        "type: dax",
        "dax: yes",
    ]
    assert r.stderr == ""


def test_check_ignores_comments_and_blank_lines(table, pmem):
    out = ctl_ok("check", table("# two stripes\n\n0 8192 striped 2 1024 {A} 0 {B} 0\n\n"))
    assert out.splitlines() == [
        f"0 8192 striped 2 1024 {pmem['A']} 0 {pmem['B']} 0",
        "size: 8192 sectors",
        "type: dax",
        "dax: yes",
    ]


def test_check_output_table_round_trips(tmp_path, table):
    first = run_ctl("check", table("0   16 linear {A}   0\n16 16 striped 2 8 {A} 16 {B} 0\n"
                                   "32 8 error\n"))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()[:-3]
    again = tmp_path / "again.table"
    again.write_text("\n".join(lines) + "\n")
    second = run_ctl("check", again)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_check_accepts_striped_chunk_that_is_not_a_power_of_two(table):
    out = ctl_ok("check", table("0 4000 striped 2 1000 {A} 0 {B} 0\n"))
    assert "size: 4000 sectors" in out.splitlines()


def test_check_zero_target_is_not_dax(table):
    out = ctl_ok("check", table("0 2048 linear {A} 0\n2048 2048 zero\n"))
    assert out.splitlines()[-2] == "type: bio"
    dax = out.splitlines()[-1]
    assert dax.startswith("dax: no (")
    assert "zero" in dax and "direct_access" in dax


def test_check_error_target_counts_as_dax_for_the_filesystem(table):
    out = ctl_ok("check", table("0 2048 linear {A} 0\n2048 2048 error\n"))
    assert out.splitlines()[-1] == "dax: yes"


def test_check_error_beside_a_device_makes_a_bio_type_device(table):
    # the kernel's dm_table_determine_type: a wildcard target never makes a DAX table
    out = ctl_ok("check", table("0 2048 linear {A} 0\n2048 2048 error\n"))
    assert out.splitlines()[-2] == "type: bio"


def test_check_bare_error_table_has_no_devices_and_is_bio_type_when_fresh(table):
    out = ctl_ok("check", table("0 2048 error\n"))
    assert out.splitlines()[-2:] == ["type: bio", "dax: yes"]


def test_check_error_target_with_device_prints_it_bare(table):
    # the kernel's error target has no status function: `dmsetup table`
    # shows no arguments for it, whatever it was loaded with
    out = ctl_ok("check", table("0 2048 error {A} 0\n2048 8 error x y z\n"))
    assert out.splitlines()[:2] == ["0 2048 error", "2048 8 error"]


def test_check_unaligned_table_without_dax_is_valid(table):
    out = ctl_ok("check", table("0 12 zero\n12 4 zero\n"))
    assert out.splitlines()[-3] == "size: 16 sectors"
    assert out.splitlines()[-1].startswith("dax: no (")


# (id, table text, line number, target type, the kernel's reason)
TABLE_ERRORS = [
    ("gap", "0 8 linear {A} 0\n16 8 linear {A} 8\n", 2, "linear", "Gap in table"),
    ("overlap", "0 16 linear {A} 0\n8 8 linear {A} 8\n", 2, "linear", "Gap in table"),
    ("first-not-zero", "8 8 linear {A} 0\n", 1, "linear", "Gap in table"),
    ("descending", "8 8 linear {A} 8\n0 8 linear {A} 0\n", 1, "linear", "Gap in table"),
    ("zero-length", "0 0 linear {A} 0\n", 1, "linear", "zero-length target"),
    ("unknown-type", "0 8 mirror {A} 0\n", 1, "mirror", "unknown target type"),
    ("linear-one-arg", "0 8 linear {A}\n", 1, "linear", "Invalid argument count"),
    ("linear-three-args", "0 8 linear {A} 0 0\n", 1, "linear", "Invalid argument count"),
    ("linear-junk-offset", "0 8 linear {A} 8x\n", 1, "linear", "Invalid device sector"),
    ("linear-negative-offset", "0 8 linear {A} -8\n", 1, "linear", "Invalid device sector"),
    ("linear-missing-device", "0 8 linear /nonexistent/pmem 0\n", 1, "linear",
     "Device lookup failed"),
    ("striped-zero-stripes", "0 8 striped 0 8\n", 1, "striped", "Invalid stripe count"),
    ("striped-zero-chunk", "0 16 striped 2 0 {A} 0 {B} 0\n", 1, "striped",
     "Invalid chunk_size"),
    ("striped-len-not-multiple-of-stripes", "0 3001 striped 2 500 {A} 0 {B} 0\n", 1,
     "striped", "Target length not divisible by number of stripes"),
    ("striped-width-not-multiple-of-chunk", "0 3000 striped 2 1024 {A} 0 {B} 0\n", 1,
     "striped", "Target length not divisible by chunk size"),
    ("striped-too-few-devices", "0 4096 striped 2 1024 {A} 0\n", 1, "striped",
     "Not enough destinations specified"),
    ("zero-with-args", "0 8 zero {A} 0\n", 1, "zero", "No arguments required"),
    ("start-not-a-number", "0 8 linear {A} 0\nx 8 linear {A} 8\n", 2, "linear",
     'Invalid start sector "x"'),
    ("length-with-junk", "0 8y linear {A} 0\n", 1, "linear", 'Invalid length "8y"'),
    ("start-plus-len-overflows", "0 18446744073709551615 zero\n", 1, "zero", "too large device"),
    ("linear-offset-overflows", "0 8 linear {A} 99999999999999999999\n", 1, "linear",
     "Invalid device sector"),
    ("striped-count-not-a-number", "0 16 striped x 8 {A} 0\n", 1, "striped",
     "Invalid stripe count"),
    ("striped-chunk-with-junk", "0 16 striped 2 8x {A} 0 {B} 0\n", 1, "striped",
     "Invalid chunk_size"),
    ("striped-too-many-devices", "0 16 striped 2 8 {A} 0 {B} 0 {B} 8\n", 1, "striped",
     "Not enough destinations specified"),
    ("error-on-line-after-comment", "# c\n0 8 linear {A} 0\n\n8 8 linear {A}\n", 4, "linear",
     "Invalid argument count"),
]


@pytest.mark.parametrize("text,line,ttype,reason",
                         [e[1:] for e in TABLE_ERRORS], ids=[e[0] for e in TABLE_ERRORS])
def test_check_table_error_names_line_type_and_reason(table, text, line, ttype, reason):
    path = table(text)
    r = run_ctl("check", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"{path}:{line}: {ttype}: {reason}" in r.stderr


def test_check_line_without_type_names_its_line(table):
    path = table("0 8 linear {A} 0\n8 8\n")
    assert f"{path}:2: Invalid format: expected" in ctl_fails("check", path)


def test_check_error_target_ignores_other_argument_counts_as_the_kernel(table):
    out = ctl_ok("check", table("0 8 error foo\n"))
    assert out.splitlines()[0] == "0 8 error"


def test_check_empty_table_has_no_targets(table):
    path = table("# nothing but a comment\n\n")
    r = run_ctl("check", path)
    assert r.returncode == 1
    assert path in r.stderr and "no targets" in r.stderr


def test_check_missing_table_file_is_reported(tmp_path):
    path = tmp_path / "absent.table"
    assert str(path) in ctl_fails("check", path)


def test_check_target_past_device_end_names_line_and_device(table, pmem):
    # 16384 sectors per file: the target ends 8 sectors past the end of A
    path = table("0 8 linear {A} 0\n8 16384 linear {A} 8\n")
    r = run_ctl("check", path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"{path}:2: target 1 (linear): {pmem['A']} too small for target" in r.stderr


@pytest.mark.parametrize("text, where", [
    # a boundary off a page
    ("0 12 linear {A} 0\n12 4 linear {B} 0\n",
     "1: a DAX table must be page-aligned: target 0 (linear)"),
    # the line named is the target's, past comments and blank lines
    ("# c\n0 8 linear {A} 0\n\n  # indented comment\n8 12 linear {A} 8\n",
     "5: a DAX table must be page-aligned: target 1 (linear)"),
    # a linear offset off a page
    ("0 8 linear {A} 1\n", "1: a DAX table must be page-aligned"),
    # a stripe chunk off a page
    ("0 3000 striped 2 500 {A} 0 {B} 0\n",
     "1: a DAX table must be page-aligned: target 0 (striped)"),
], ids=["boundary", "after-comments", "linear-offset", "stripe-chunk"])
def test_check_dax_table_off_a_page_is_refused_naming_its_line(table, text, where):
    path = table(text)
    assert f"{path}:{where}" in ctl_fails("check", path)


@pytest.fixture
def loop_device(tmp_path):
    """A loop device over a sparse file, or a skip when loop devices are unavailable."""
    losetup = shutil.which("losetup")
    if not losetup or os.geteuid() != 0:
        pytest.skip("loop devices need losetup and root")
    backing = tmp_path / "loop.img"
    sparse_file(backing, PMEM_SIZE)
    r = subprocess.run([losetup, "--find", "--show", str(backing)], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"cannot attach a loop device: {r.stderr.strip()}")
    dev = r.stdout.strip()
    yield dev
    subprocess.run([losetup, "--detach", dev], check=True, timeout=60)


def test_check_block_device_is_not_dax(tmp_path, loop_device):
    path = tmp_path / "loop.table"
    path.write_text(f"0 2048 linear {loop_device} 0\n")
    out = ctl_ok("check", path)
    dax = out.splitlines()[-1]
    assert dax.startswith("dax: no (") and loop_device in dax


@pytest.mark.parametrize("args", [[], ["a", "b"], ["--bogus", "a"]],
                         ids=["no-table", "two-tables", "unknown-option"])
def test_check_usage_error_exits_2(args):
    err = ctl_fails("check", *args, status=2)
    assert "usage: daxfs-ctl check TABLE" in err


def test_check_help_describes_exit_status():
    out = ctl_ok("check", "--help")
    assert out.startswith("usage: daxfs-ctl check TABLE")
    assert "Exit status" in out


def test_ctl_help_lists_commands():
    out = ctl_ok("--help")
    assert "check TABLE" in out and "resolve TABLE PGOFF" in out


def test_ctl_without_command_is_a_usage_error():
    err = ctl_fails(status=2)
    assert "usage: daxfs-ctl COMMAND" in err


def test_ctl_unknown_command_is_a_usage_error():
    err = ctl_fails("frobnicate", status=2)
    assert "unknown command 'frobnicate'" in err


def test_ctl_version_prints_project_version():
    out = ctl_ok("--version")
    assert out.startswith("daxfs-ctl (daxfs-fuse) ")

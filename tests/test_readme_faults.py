"""The README's fault-injection examples, run as they are written: an error table fails reads and
the good table brings them back; a metadata write on the error table shuts the filesystem down,
and an unmount and a mount of the good table (the journal replays) bring everything back."""
import os
import re
import subprocess

import pytest

from conftest import BUILD_DIR, SOURCE_DIR
from faults import allow_faults
from mount import MIB, daxfs_factory, flock_free, is_mounted, lazy_unmount, wait_until  # noqa: F401

MARKER = "<!-- tests/test_readme_faults.py runs the two examples below, command by command -->"
README_MNT = "/mnt/daxfs"
README_SOURCE = "./pmem/daxfs.table"


def readme_examples():
    """The two ```sh blocks after the marker, as lists of (command, comment)."""
    text = (SOURCE_DIR / "README.md").read_text()
    assert MARKER in text, "the README lost its fault-injection examples"
    blocks = re.findall(r"```sh\n(.*?)```", text.split(MARKER, 1)[1], re.S)[:2]
    assert len(blocks) == 2
    out = []
    for block in blocks:
        lines = []
        for line in block.splitlines():
            cmd, _, comment = line.partition("  # ")
            lines.append((cmd.strip(), comment.strip()))
        out.append(lines)
    return out


def test_readme_examples_are_what_this_test_runs():
    first, second = readme_examples()
    assert [c for c, _ in first][:4] == [
        f"echo hello > {README_MNT}/hello",
        f"daxfs-ctl table {README_MNT} > good.table",
        "sed 's/linear.*/error/' good.table > bad.table",
        f"daxfs-ctl reload {README_MNT} bad.table"]
    assert f"daxfs-fuse {README_SOURCE} {README_MNT}" in [c for c, _ in second]


@pytest.fixture
def fs(daxfs_factory):
    d = daxfs_factory(size=64 * MIB, table="0 131072 linear {0} 0\n")
    d.mkfs()
    d.mount()
    allow_faults(d)
    yield d
    if is_mounted(d.mnt):
        subprocess.run(["fusermount3", "-u", str(d.mnt)], capture_output=True)
        lazy_unmount(d.mnt)
    # a daemon the README started runs in the background: it has exited
    # once it lets go of its backing file
    wait_until(lambda: flock_free(d.files[0]), 20, "the README's daemon to exit")


def run(d, cmd):
    """One README command, with the README's mount point and SOURCE made
    this test's, and the built tools first on PATH."""
    cmd = cmd.replace(README_MNT, str(d.mnt)).replace(README_SOURCE, d.source)
    env = dict(os.environ, PATH=f"{BUILD_DIR / 'tools'}:{BUILD_DIR / 'src/fuse'}:"
                               f"{os.environ['PATH']}")
    return subprocess.run(["bash", "-c", cmd], cwd=d.tmp, env=env, capture_output=True,
                          text=True, timeout=60)


def check(d, cmd, comment):
    r = run(d, cmd)
    where = f"README: {cmd!r}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    if "Input/output error" in comment:
        assert r.returncode != 0 and "Input/output error" in r.stderr, where
    elif comment.startswith("hello"):
        assert (r.returncode, r.stdout) == (0, "hello\n"), where
    else:
        assert r.returncode == 0, where
    return r


def test_readme_error_table_fails_reads_and_the_good_table_restores_them(fs):
    first, _ = readme_examples()
    for cmd, comment in first:
        check(fs, cmd, comment)
    assert (fs.tmp / "bad.table").read_text() == "0 131072 error\n"
    fs.unmount()               # clean: no metadata was written on the error table


def test_readme_metadata_write_on_error_table_shuts_down_and_remount_recovers(fs):
    first, second = readme_examples()
    for cmd, comment in first:
        check(fs, cmd, comment)
    for cmd, comment in second:
        check(fs, cmd, comment)
        if cmd.startswith("touch") and "Input/output error" in comment:
            info = run(fs, f"daxfs-ctl info {README_MNT} --verbose").stdout
            assert "shut down after an I/O error" in info
        if cmd.startswith("fusermount3"):
            # the daemon the fixture started reports the shutdown
            proc, fs.proc = fs.proc, None
            assert proc.wait(timeout=20) == 1
            wait_until(lambda: flock_free(fs.files[0]), 20, "the daemon to let go of its file")
    assert (fs.mnt / "new").exists()
    assert (fs.mnt / "hello").read_text() == "hello\n"
    subprocess.run(["fusermount3", "-u", str(fs.mnt)], check=True)
    wait_until(lambda: flock_free(fs.files[0]), 20, "the README's daemon to exit")
    fs.fsck()

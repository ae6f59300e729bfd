"""Tables that map one range of a device twice are refused: check, mkfs, mount and live load.

The kernel's dm accepts such a table (docs/targets); a filesystem on it would
write its own superblock with file data. Different paths to one file (a hard
link, a symbolic link) are the same device.
"""
import os
import subprocess

import pytest

from conftest import run_tool as run, sparse_file
from faults import ctl, live_table, write_table
from mount import MIB, daxfs_factory  # noqa: F401  (fixture)

SIZE = 64 * MIB
SECTORS = SIZE // 512
TAIL = "; a table must not map a byte of a device twice"


@pytest.fixture
def pmem(tmp_path):
    """A 64 MiB pmem file, a hard link and a symbolic link to it."""
    f = tmp_path / "pmem"
    sparse_file(f, SIZE)
    os.link(f, tmp_path / "hard")
    os.symlink(f, tmp_path / "soft")
    return f


def overlap(later, sectors, path, earlier, as_path=None):
    same = f", as {as_path} (the same file)" if as_path else ""
    return (f"{later}: sectors {sectors} of {path} are mapped twice: {earlier} maps them "
            f"too{same}{TAIL}")


# (id, table text with {f}, {hard}, {soft}; line of the later target; the message after it)
CASES = [
    ("linear-twice", "0 131072 linear {f} 0\n131072 8 linear {f} 0\n", 2,
     lambda p: overlap("target 1 (linear)", "0-7", p["f"], "target 0 (linear)")),
    ("linear-overlap", "0 1024 linear {f} 0\n1024 1024 linear {f} 512\n", 2,
     lambda p: overlap("target 1 (linear)", "512-1023", p["f"], "target 0 (linear)")),
    ("stripes-overlap", f"0 {SECTORS} striped 2 8 {{f}} 0 {{f}} 16\n", 1,
     lambda p: overlap("target 0 (striped) stripe 1", f"16-{SECTORS // 2 - 1}", p["f"],
                       "target 0 (striped) stripe 0")),
    ("linear-and-stripe", f"0 1024 linear {{f}} 4096\n1024 {SECTORS // 2} striped 2 8 "
     f"{{f}} {SECTORS // 2} {{f}} 0\n", 2,
     lambda p: overlap("target 1 (striped) stripe 1", "4096-5119", p["f"], "target 0 (linear)")),
    ("hard-link", "0 1024 linear {f} 0\n1024 1024 linear {hard} 1000\n", 2,
     lambda p: overlap("target 1 (linear)", "1000-1023", p["hard"], "target 0 (linear)",
                       p["f"])),
    ("symlink", "0 1024 linear {soft} 0\n1024 1024 linear {f} 8\n", 2,
     lambda p: overlap("target 1 (linear)", "8-1023", p["f"], "target 0 (linear)", p["soft"])),
]


def paths(pmem):
    return {"f": str(pmem), "hard": str(pmem.parent / "hard"), "soft": str(pmem.parent / "soft")}


# (the tool and its arguments before the table, what its message starts with)
REFUSERS = {
    "check": (["daxfs-ctl", "check"], "daxfs-ctl check: {table}:{line}: "),
    "mkfs": (["mkfs.daxfs", "-f"], "mkfs.daxfs: daxfs: "),
}


@pytest.mark.parametrize("tool_name", REFUSERS)
@pytest.mark.parametrize("text,line,why", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_and_mkfs_refuse_a_table_mapping_a_range_twice(tmp_path, pmem, tool_name, text,
                                                            line, why):
    p = paths(pmem)
    table = tmp_path / "t.table"
    table.write_text(text.format(**p))
    cmd, prefix = REFUSERS[tool_name]
    r = run(*cmd, table)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == prefix.format(table=table, line=line) + f"{why(p)}\n"
    assert open(pmem, "rb").read(4096) == bytes(4096), "nothing was written"


def test_check_accepts_adjacent_ranges_of_one_file(tmp_path, pmem):
    table = tmp_path / "t.table"
    table.write_text(f"0 1024 linear {pmem} 1024\n1024 1024 linear {tmp_path / 'hard'} 0\n")
    r = run("daxfs-ctl", "check", table)
    assert r.returncode == 0, r.stderr


def test_list_naming_one_file_twice_by_a_hard_link_is_refused(tmp_path, pmem):
    source = f"{pmem},{tmp_path / 'hard'}"
    r = run("mkfs.daxfs", "-f", source)
    assert r.returncode == 1
    assert r.stderr == (f"mkfs.daxfs: {tmp_path / 'hard'}: the same file as {pmem}, listed twice "
                        f"in {source}\n")


def test_mount_refuses_a_table_mapping_a_range_twice(daxfs_factory):
    d = daxfs_factory(size=SIZE)
    d.mkfs()
    table = write_table(d, "twice.table", f"0 {SECTORS - 8} linear {d.files[0]} 0\n"
                                          f"{SECTORS - 8} 8 linear {d.files[0]} 0\n")
    err = d.mount_fails(source=str(table))
    assert err == (f"daxfs-fuse: {table}: daxfs: "
                   f"{overlap('target 1 (linear)', '0-7', d.files[0], 'target 0 (linear)')}\n")


def test_live_load_refuses_a_table_mapping_a_range_twice(daxfs_factory):
    d = daxfs_factory(files=["a", "b"], size=SIZE // 2)
    d.mkfs()
    d.mount()
    good = live_table(d)
    half = SECTORS // 2
    table = write_table(d, "twice.table", f"0 {half} linear {d.files[0]} 0\n"
                                          f"{half} {half} linear {d.files[0]} 8\n")
    r = ctl("load", d.mnt, table, check=False)
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl load: {d.mnt}: daxfs: "
                        f"{overlap('target 1 (linear)', f'8-{half - 1}', d.files[0], 'target 0 (linear)')}\n")
    assert live_table(d) == good


def test_check_refuses_an_overlap_through_a_bind_mount(tmp_path, pmem):
    """A bind mount shows the same file under another path: same device and inode."""
    if os.geteuid() != 0:
        pytest.skip("bind mounts need root")
    other = tmp_path / "bound"
    other.mkdir()
    subprocess.run(["mount", "--bind", str(tmp_path), str(other)], check=True, timeout=60)
    try:
        alias = other / "pmem"
        table = tmp_path / "t.table"
        table.write_text(f"0 1024 linear {pmem} 0\n1024 1024 linear {alias} 512\n")
        r = run("daxfs-ctl", "check", table)
        assert r.returncode == 1
        assert r.stderr == (f"daxfs-ctl check: {table}:2: "
                            f"{overlap('target 1 (linear)', '512-1023', alias, 'target 0 (linear)', pmem)}\n")
    finally:
        subprocess.run(["umount", str(other)], timeout=60)

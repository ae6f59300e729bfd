"""daxfs-ctl export: the NFS-Ganesha configuration it writes and what it refuses.
Serving with it is tested in test_nfs_ganesha.py."""
import os
import subprocess

import pytest

from mount import daxfs, need  # noqa: F401  (fixture)


def export(*args):
    return subprocess.run([need("daxfs-ctl"), "export", *map(str, args)],
                          capture_output=True, text=True)


def test_export_writes_the_configuration_and_prints_how_to_start(daxfs, tmp_path):
    res = export(daxfs.mnt, tmp_path / "g", "--port", "2050", "--clients",
                 "10.0.0.0/8,host.example", "--squash", "all", "--pseudo", "/pmem")
    assert res.returncode == 0, res.stderr
    d = tmp_path / "g"
    conf = (d / "ganesha.conf").read_text()
    assert f"  ganesha.nfsd -F -f {d}/ganesha.conf -L {d}/ganesha.log -p {d}/ganesha.pid\n" \
        in res.stdout
    assert "nfs-ls 'nfs://SERVER/pmem?version=4&nfsport=2050'" in res.stdout
    for line in ("Protocols = 4;", "NFS_Port = 2050;", "Bind_Addr = 0.0.0.0;",
                 f'Path = "{daxfs.mnt}";', 'Pseudo = "/pmem";', "Clients = 10.0.0.0/8,host.example;",
                 "Squash = all_squash;", "Name = VFS;", "Only_Numeric_Owners = true;",
                 "Grace_Period = 90;", f'RecoveryRoot = "{d}/recovery";', "SecType = sys;"):
        assert f"\t{line}\n" in conf or f"\t\t{line}\n" in conf, line
    assert (d / "recovery").is_dir()
    assert os.stat(d).st_mode & 0o777 == 0o700
    # mounted without allow_other: only root's requests would get through
    assert res.stderr == (f"daxfs-ctl export: warning: {daxfs.mnt} is not mounted with "
                          "-o allow_other: only root's NFS requests can reach it "
                          "(others get NFS4ERR_ACCESS)\n")


def test_export_grace_zero_turns_the_grace_period_off(daxfs, tmp_path):
    assert export(daxfs.mnt, tmp_path / "g", "--grace", "0").returncode == 0
    conf = (tmp_path / "g" / "ganesha.conf").read_text()
    assert "\tGraceless = true;\n" in conf and "Grace_Period" not in conf


def test_export_refuses_what_is_not_a_daxfs_mount(tmp_path):
    res = export(tmp_path, tmp_path / "g")
    assert res.returncode == 1
    assert res.stderr == f"daxfs-ctl export: {tmp_path}: not the mount point of a daxfs-fuse mount\n"
    assert not (tmp_path / "g" / "ganesha.conf").exists()


def test_export_refuses_a_subdirectory_of_the_mount(daxfs, tmp_path):
    (daxfs.mnt / "sub").mkdir()
    res = export(daxfs.mnt / "sub", tmp_path / "g")
    assert res.returncode == 1
    assert "not the mount point of a daxfs-fuse mount" in res.stderr


@pytest.mark.parametrize("args, msg", [
    (["--port", "0"], "--port must be 1-65535, not '0'"),
    (["--port", "70000"], "--port must be 1-65535, not '70000'"),
    (["--squash", "some"], "--squash must be root, all or none, not 'some'"),
    (["--clients", "a;b"], "--clients: 'a;b' is not a comma-separated list"),
    (["--clients", 'x"'], "--clients: 'x\"' is not a comma-separated list"),
    (["--pseudo", "export"], "--pseudo: 'export' is not an absolute path"),
    (["--pseudo", "/a/../b"], "--pseudo: '/a/../b' is not an absolute path"),
    (["--bind", "localhost"], "--bind: 'localhost' is not an IPv4 or IPv6 address"),
    (["--grace", "181"], "--grace must be 0-180 seconds, not '181'"),
    (["--frob"], "unknown option '--frob'"),
], ids=["port0", "port-big", "squash", "clients-semicolon", "clients-quote", "pseudo-relative",
        "pseudo-dotdot", "bind-name", "grace", "unknown"])
def test_export_usage_errors(daxfs, tmp_path, args, msg):
    res = export(daxfs.mnt, tmp_path / "g", *args)
    assert res.returncode == 2
    assert res.stderr.startswith(f"daxfs-ctl export: {msg}")
    assert not (tmp_path / "g").exists()


def test_export_needs_two_arguments(tmp_path):
    res = export(tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("daxfs-ctl export: missing DIR\n")

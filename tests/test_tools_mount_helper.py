"""mount.daxfs and fstab: mount -t daxfs, LABEL=/UUID= from the sources file, nofail, x-systemd.*.

mount(8) runs helpers only from /sbin, so each test that goes through
mount(8) runs in a private mount namespace (unshare -m) where an overlay puts
this build's mount.daxfs and daxfs-fuse into /usr/sbin, with a temporary
fstab (mount -T). Nothing of it is visible outside; the script unmounts what
it mounted, and the test waits for the daemons to let go of their files.
"""
import os
import shutil
import subprocess

import pytest

from conftest import tool
from mount import Daxfs, MIB, EXIT_TIMEOUT, MOUNT_TIMEOUT, flock_free, lazy_unmount, wait_until

UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.fixture
def sbin(tmp_path):
    """A directory with copies of mount.daxfs and daxfs-fuse side by side, as
    an installation has them (the helper runs the daxfs-fuse next to it)."""
    d = tmp_path / "sbin"
    d.mkdir()
    for name in ("mount.daxfs", "daxfs-fuse"):
        shutil.copy2(tool(name), d / name)
    return d


@pytest.fixture
def make_fs(tmp_path):
    made = []

    def make(name, *mkfs_args):
        sub = tmp_path / name
        sub.mkdir()
        d = Daxfs(sub, size=32 * MIB)
        d.mkfs(*mkfs_args)
        made.append(d)
        return d
    yield make
    for d in made:
        lazy_unmount(d.mnt)
        wait_until(lambda: flock_free(d.files[0]), EXIT_TIMEOUT, "the daemons to exit")
        d.fsck()


def need_namespace():
    if os.geteuid() != 0:
        pytest.skip("mount(8) and unshare need root")
    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux)")
    with open("/proc/filesystems") as f:
        if not any(line.split()[-1] == "overlay" for line in f):
            pytest.skip("needs overlayfs to put the helper into /sbin")


def in_namespace(tmp_path, sbin, script, env=None):
    """Runs script (bash) in a private mount namespace whose /usr/sbin also
    holds sbin's programs; every mount under tmp_path is undone at its end."""
    need_namespace()
    prologue = f"""
set -u
mount -t overlay overlay -o lowerdir={sbin}:/usr/sbin /usr/sbin || exit 99
cleanup() {{
    findmnt -rn -o TARGET | grep '^{tmp_path}/' | sort -r | while read -r m; do
        umount -l "$m"
    done
}}
trap cleanup EXIT
"""
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c",
                        prologue + script], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})), timeout=120)
    assert r.returncode != 99, f"overlay on /usr/sbin failed: {r.stderr}"
    return r


def fstab(tmp_path, *lines):
    path = tmp_path / "fstab"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def sources_file(tmp_path, *lines):
    path = tmp_path / "sources"
    path.write_text("# candidates for LABEL= and UUID=\n\n" + "".join(l + "\n" for l in lines))
    return {"DAXFS_SOURCES": str(path)}


def mount_and_write(tmp_path, sbin, command, mnt, env=None):
    """Runs command (a mount) in a namespace, then writes "written" to f on
    mnt and prints the mount's source and type, then f."""
    return in_namespace(tmp_path, sbin, f"""
{command} || exit 1
echo written > {mnt}/f
findmnt -rn -o SOURCE,FSTYPE "{mnt}" && cat "{mnt}/f"
""", env)


def test_mount_t_daxfs_mounts_a_source(tmp_path, sbin, make_fs):
    fs = make_fs("a")
    r = mount_and_write(tmp_path, sbin, f"mount -t daxfs {fs.source} {fs.mnt}", fs.mnt)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{fs.source} fuse.daxfs-fuse\nwritten\n"
    assert r.stderr == "" or "no syslog" in r.stderr


def test_fstab_line_with_nofail_and_systemd_options_mounts(tmp_path, sbin, make_fs):
    fs = make_fs("a")
    tab = fstab(tmp_path, f"{fs.source} {fs.mnt} daxfs "
                          "nofail,x-systemd.requires=/dev/shm,dax=never,noatime 0 0")
    r = mount_and_write(tmp_path, sbin, f"mount -v -T {tab} {fs.mnt}", fs.mnt)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(f"{fs.source} fuse.daxfs-fuse\nwritten\n")
    # mount(8) keeps x-* to itself; the helper drops nofail, daxfs-fuse gets the rest
    # (the one next to the helper: both are in /usr/sbin here)
    assert f"/usr/sbin/daxfs-fuse {fs.source} {fs.mnt} -o rw,noatime,dax=never\n" in r.stderr


def test_fstab_label_is_found_among_the_listed_sources(tmp_path, sbin, make_fs):
    alpha, beta = make_fs("alpha", "-L", "alpha"), make_fs("beta", "-L", "beta")
    env = sources_file(tmp_path, f"{tmp_path}/alpha/pmem*", beta.source)
    tab = fstab(tmp_path, f"daxfs:LABEL=beta {alpha.mnt} daxfs defaults 0 0")
    r = mount_and_write(tmp_path, sbin, f"mount -T {tab} {alpha.mnt}", alpha.mnt, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{beta.source} fuse.daxfs-fuse\nwritten\n"


def test_fstab_uuid_is_found_among_the_listed_sources(tmp_path, sbin, make_fs):
    fs = make_fs("u", "-U", UUID)
    make_fs("other")
    env = sources_file(tmp_path, f"{tmp_path}/*/pmem0")
    tab = fstab(tmp_path, f"daxfs:UUID={UUID.upper()} {fs.mnt} daxfs defaults 0 0")
    r = mount_and_write(tmp_path, sbin, f"mount -T {tab} {fs.mnt}", fs.mnt, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{fs.source} fuse.daxfs-fuse\nwritten\n"


def test_bare_label_in_fstab_is_resolved_by_mount_itself_and_fails(tmp_path, sbin, make_fs):
    """Why the fstab spelling is daxfs:LABEL=: util-linux resolves LABEL=
    with libblkid, which knows block devices only, before any helper runs."""
    fs = make_fs("a", "-L", "bare")
    env = sources_file(tmp_path, fs.source)
    tab = fstab(tmp_path, f"LABEL=bare {fs.mnt} daxfs defaults 0 0")
    r = in_namespace(tmp_path, sbin, f"mount -T {tab} {fs.mnt}\n", env)
    assert r.returncode != 0
    assert "can't find LABEL=bare" in r.stderr


def test_nofail_lets_mount_a_pass_over_a_missing_source(tmp_path, sbin, make_fs):
    fs = make_fs("a")
    tab = fstab(tmp_path, f"{tmp_path}/gone/pmem0 {fs.mnt} daxfs nofail 0 0")
    r = in_namespace(tmp_path, sbin, f"mount -a -T {tab} && findmnt -rn {fs.mnt}\n")
    assert r.returncode == 1            # mount -a succeeded, findmnt found nothing
    assert r.stdout == "" and "gone" not in r.stderr


def test_without_nofail_a_missing_source_fails_the_mount(tmp_path, sbin, make_fs):
    fs = make_fs("a")
    tab = fstab(tmp_path, f"{tmp_path}/gone/pmem0 {fs.mnt} daxfs defaults 0 0")
    r = in_namespace(tmp_path, sbin, f"mount -a -T {tab}\n")
    assert r.returncode == 32
    assert f"daxfs-fuse: {tmp_path}/gone/pmem0: No such file or directory" in r.stderr


def test_nofail_lets_a_label_nobody_has_pass(tmp_path, sbin, make_fs):
    fs = make_fs("a", "-L", "present")
    env = sources_file(tmp_path, fs.source)
    tab = fstab(tmp_path, f"daxfs:LABEL=absent {fs.mnt} daxfs nofail 0 0",
                f"daxfs:LABEL=absent {tmp_path}/b daxfs defaults 0 0")
    r = in_namespace(tmp_path, sbin, f"mount -T {tab} {fs.mnt}; echo $?; "
                                     f"mount -T {tab} {tmp_path}/b; echo $?\n", env)
    assert r.stdout == "0\n32\n", r.stderr
    assert r.stderr == (f"mount.daxfs: daxfs:LABEL=absent: no daxfs with that label among the "
                        f"sources listed in {tmp_path}/sources\n")


def test_fuse_type_line_runs_daxfs_fuse_from_the_path(tmp_path, sbin, make_fs):
    """The other way, without mount.daxfs: mount.fuse3 runs the program the
    type names (fuse.daxfs-fuse) through the shell, so it must be on PATH."""
    fs = make_fs("a")
    tab = fstab(tmp_path, f"{fs.source} {fs.mnt} fuse.daxfs-fuse defaults,dax=inode,nofail 0 0")
    bindir = os.path.dirname(tool("daxfs-fuse"))
    r = mount_and_write(tmp_path, sbin, f"PATH={bindir}:$PATH mount -T {tab} {fs.mnt}", fs.mnt)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{fs.source} fuse.daxfs-fuse\nwritten\n"


# ---- mount.daxfs run directly ------------------------------------------------

def helper(sbin, *args, env=None):
    return subprocess.run([str(sbin / "mount.daxfs"), *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ, **(env or {})), timeout=MOUNT_TIMEOUT)


def test_helper_fake_run_shows_what_daxfs_fuse_gets(tmp_path, sbin, make_fs):
    fs = make_fs("a")
    r = helper(sbin, "-f", fs.source, fs.mnt, "-o",
               "rw,nofail,x-systemd.automount,comment=x,defaults,auto,_netdev,dax=never,ro")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{sbin}/daxfs-fuse {fs.source} {fs.mnt} -o rw,dax=never,ro\n"


def test_helper_resolves_a_bare_label_when_run_directly(tmp_path, sbin, make_fs):
    fs = make_fs("a", "-L", "direct")
    env = sources_file(tmp_path, "# nothing here", f"{tmp_path}/nowhere/*.table", fs.source)
    r = helper(sbin, "-v", "LABEL=direct", fs.mnt, env=env)
    try:
        assert r.returncode == 0, r.stderr
        assert f"mount.daxfs: LABEL=direct is {fs.source}\n" in r.stderr
        assert os.path.ismount(fs.mnt)
    finally:
        subprocess.run(["fusermount3", "-u", str(fs.mnt)])


def test_helper_refuses_an_ambiguous_label(tmp_path, sbin, make_fs):
    a, b = make_fs("a", "-L", "twin"), make_fs("b", "-L", "twin")
    env = sources_file(tmp_path, a.source, b.source)
    r = helper(sbin, "daxfs:LABEL=twin", a.mnt, "-o", "nofail", env=env)
    assert r.returncode == 32
    assert r.stderr == (f"mount.daxfs: LABEL=twin is ambiguous: it names {a.source} and "
                        f"{b.source} (in {tmp_path}/sources)\n")
    assert not os.path.ismount(a.mnt)


def test_helper_skips_a_member_of_a_larger_filesystem(tmp_path, sbin):
    d = Daxfs(tmp_path, files=["m0", "m1"], size=32 * MIB)
    d.mkfs("-L", "pair")
    env = sources_file(tmp_path, f"{tmp_path}/m*")     # each member alone: no match
    r = helper(sbin, "-v", "-f", "LABEL=pair", d.mnt, env=env)
    assert r.returncode == 32
    assert (f"mount.daxfs: {tmp_path}/m0: skipped: its daxfs was made on another table "
            "(a member of a larger filesystem?)") in r.stderr


def test_helper_without_a_sources_file_says_where_it_looked(tmp_path, sbin):
    r = helper(sbin, "LABEL=x", tmp_path, env={"DAXFS_SOURCES": str(tmp_path / "none")})
    assert r.returncode == 32
    assert r.stderr == (f"mount.daxfs: LABEL=x: cannot read the list of sources to search, "
                        f"{tmp_path}/none: No such file or directory\n")


def test_helper_that_cannot_run_daxfs_fuse_is_a_system_error(tmp_path, sbin, make_fs):
    """mount(8)'s status 2 (the man page's "cannot run daxfs-fuse"), not 32,
    which says the mount itself failed."""
    fs = make_fs("a")
    (sbin / "daxfs-fuse").write_bytes(b"\x7fELF broken")      # executable, not a program
    r = helper(sbin, fs.source, fs.mnt)
    assert r.returncode == 2
    assert r.stderr == f"mount.daxfs: cannot run {sbin}/daxfs-fuse: Exec format error\n"
    assert not os.path.ismount(fs.mnt)


@pytest.mark.parametrize("kind", ["device", "fifo", "large"])
def test_helper_refuses_a_sources_file_that_is_no_list(tmp_path, sbin, kind):
    """/dev/zero filled memory and a FIFO held the mount for good: the list
    must be a regular file of at most 1 MiB."""
    path = tmp_path / "sources"
    if kind == "device":
        path = "/dev/zero"
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b"#" * (1 << 20) + b"\n")
    r = helper(sbin, "LABEL=x", tmp_path, env={"DAXFS_SOURCES": str(path)})
    assert r.returncode == 32
    reason = "larger than 1 MiB" if kind == "large" else "not a regular file"
    assert r.stderr == (f"mount.daxfs: LABEL=x: {path} is not a list of sources to search: "
                        f"{reason}\n")


def test_helper_refuses_an_empty_label(tmp_path, sbin, make_fs):
    fs = make_fs("a")                      # unlabelled: LABEL= must not pick it
    env = sources_file(tmp_path, fs.source)
    r = helper(sbin, "daxfs:LABEL=", fs.mnt, env=env)
    assert r.returncode == 32
    assert r.stderr == "mount.daxfs: LABEL= needs a name\n"


def test_helper_refuses_a_malformed_uuid(tmp_path, sbin):
    r = helper(sbin, "UUID=1234", tmp_path)
    assert r.returncode == 32
    assert "UUID=1234: not a uuid" in r.stderr


@pytest.mark.parametrize("args,message", [
    ([], "missing SOURCE or MOUNTPOINT"),
    (["a"], "missing SOURCE or MOUNTPOINT"),
    (["a", "b", "c"], "too many arguments"),
    (["-N", "1", "a", "b"], "-N (another mount namespace) is not supported"),
    (["-x", "a", "b"], "unknown option"),
], ids=["none", "one", "three", "namespace", "unknown"])
def test_helper_usage_errors_exit_1(sbin, args, message):
    r = helper(sbin, *args)
    assert r.returncode == 1
    assert message in r.stderr

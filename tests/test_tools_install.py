"""meson install: tools, man pages, headers, libdaxfs and daxfs.pc, usable by a program."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD_DIR, build_sanitizers

PROGRAM = r"""
#include <stdio.h>
#include <daxfs/dm.h>
#include <daxfs/err.h>

int main(void)
{
	struct mapped_device *md;
	struct dm_table *t;

	if (dm_md_create("installed", &md) || dm_table_parse(md, "0 16 zero\n", "inline", &t)) {
		fprintf(stderr, "%s\n", daxfs_errormsg());
		return 1;
	}
	printf("%llu\n", (unsigned long long)dm_table_size(t));
	dm_table_put(&t);
	dm_md_destroy(&md);
	return 0;
}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not (BUILD_DIR / "tools" / "daxfs-ctl").exists():
        pytest.fail(f"daxfs-ctl not built in {BUILD_DIR}")
    root = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", str(BUILD_DIR), "--no-rebuild", "--quiet",
                        "--destdir", str(root)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    yield root
    shutil.rmtree(root)


def sanitize_flags():
    """The build's -Db_sanitize, which a program linking its library must share."""
    value = build_sanitizers()
    return [f"-fsanitize={value}"] if value else []


def installed_file(root, name):
    found = [p for p in root.rglob(name)]
    assert found, f"{name} not installed under {root}"
    return found[0]


@pytest.mark.parametrize("name", ["daxfs-ctl", "daxfs-ctl.1", "mkfs.daxfs.8", "fsck.daxfs.8",
                                  "daxfs-fuse.8", "mount.daxfs.8", "mount.daxfs",
                                  "err.h", "dax.h", "dm.h", "fs.h", "ioctl.h", "daxfs.pc",
                                  "daxfs-run", "daxfs-run.1", "libdaxfs-run.so"])
def test_install_puts_file_in_place(installed, name):
    installed_file(installed, name)


def test_mount_helper_is_installed_next_to_the_daemon_it_runs(installed):
    """mount.daxfs runs the daxfs-fuse beside its own file."""
    assert installed_file(installed, "mount.daxfs").parent == \
        installed_file(installed, "daxfs-fuse").parent


def test_install_headers_live_in_daxfs_subdirectory(installed):
    assert installed_file(installed, "dm.h").parent.name == "daxfs"


def test_installed_library_links_a_program_through_pkg_config(installed, tmp_path):
    cc = shutil.which("cc")
    pkgconf = shutil.which("pkg-config")
    if not cc or not pkgconf:
        pytest.skip("needs cc and pkg-config")
    pc = installed_file(installed, "daxfs.pc")
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc.parent),
               PKG_CONFIG_SYSROOT_DIR=str(installed))
    flags = subprocess.run([pkgconf, "--cflags", "--libs", "daxfs"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert flags.returncode == 0, flags.stderr
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "prog"
    r = subprocess.run([cc, "-std=c11", str(src), "-o", str(exe), *sanitize_flags(),
                        *flags.stdout.split()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lib = installed_file(installed, "libdaxfs.so").parent
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, LD_LIBRARY_PATH=str(lib)))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "16\n"

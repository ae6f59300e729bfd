"""The build enforces the layers: each library compiles against src/include/<layer>,
which holds the public headers of the layers below it and its own private ones,
so that an upward include does not compile."""
import re
import shutil
import subprocess

import pytest

from conftest import SOURCE_DIR

# what each layer may include, and a header of each layer above it
LAYERS = {
    "util": (["daxfs/err.h", "util/err.h"], ["daxfs/dax.h", "dax/device.h"]),
    "dax": (["daxfs/dax.h", "dax/device.h", "util/err.h"], ["daxfs/dm.h", "dm/md.h"]),
    "dm": (["daxfs/dm.h", "dm/md.h", "daxfs/dax.h"], ["daxfs/fs.h", "fs/internal.h", "dax/device.h"]),
    "fs": (["daxfs/fs.h", "fs/internal.h", "daxfs/dm.h"],
           ["daxfs/ioctl.h", "fuse/dfuse.h", "dm/md.h", "dax/device.h"]),
    "fuse": (["fuse/dfuse.h", "daxfs/ioctl.h", "daxfs/fs.h"], ["fs/internal.h", "dm/md.h"]),
    "client": (["daxfs/client.h", "client/internal.h"], ["daxfs/fs.h", "fuse/dfuse.h"]),
    "preload": (["preload/run.h", "daxfs/client.h", "client/internal.h", "daxfs/ioctl.h"],
                ["daxfs/fs.h", "fuse/dfuse.h", "fuse/run.h", "dm/md.h"]),
}


def compiles(layer, header, tmp_path):
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    src = tmp_path / "probe.c"
    src.write_text(f'#include "{header}"\n')
    # the system headers the daemon builds with (fuse_lowlevel.h)
    flags = subprocess.run(["pkg-config", "--cflags", "fuse3"], capture_output=True,
                           text=True).stdout.split()
    r = subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-fsyntax-only", *flags, "-I",
                        str(SOURCE_DIR / "src" / "include" / layer), str(src)],
                       capture_output=True, text=True)
    return r.returncode == 0, r.stderr


@pytest.mark.parametrize("layer,header", [(lay, h) for lay, (ok, _) in LAYERS.items() for h in ok])
def test_layer_sees_its_own_and_lower_headers(layer, header, tmp_path):
    ok, err = compiles(layer, header, tmp_path)
    assert ok, err


@pytest.mark.parametrize("layer,header", [(lay, h) for lay, (_, up) in LAYERS.items() for h in up])
def test_upward_or_private_include_does_not_compile(layer, header, tmp_path):
    ok, err = compiles(layer, header, tmp_path)
    assert not ok
    assert "No such file or directory" in err, err


# ---- the daemon is a client of dm's command layer ---------------------------
# What src/fuse may call of dm and dax directly, each for the reason DESIGN.md
# ("What the daemon calls of dm") gives; everything else about the mapped
# device, its lifetime included, is a request of dm_ioctl.
FUSE_DM_ALLOWED = {
    "dm_ioctl": "the command layer",
    "dm_ioctl_result_free": "the command layer",
    "dm_ioctl_result_encode": "the command layer's answer as bytes for the channel",
    "dm_dax_resolve_range": "the data path: a range through the live table",
    "dm_dax_report_range": "the reports of the same, members' current ends included",
    "dm_source_absolute": "SOURCE's text made absolute, before any device",
}


def strip_c(text):
    """C text without its comments and string and character literals."""
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                  lambda m: " " if m.group(0).startswith("/") else '""', text, flags=re.S)


def public_functions(header):
    """The functions a public header declares."""
    text = strip_c(header.read_text())
    return set(re.findall(r"\b((?:dm|dax)_\w+)\s*\(", text)) - set(
        re.findall(r"\(\s*\*\s*((?:dm|dax)_\w+)\s*\)", text))


def fuse_uses(functions):
    """(file:line, name) of every use in src/fuse of one of functions."""
    pattern = re.compile(r"\b(" + "|".join(sorted(functions)) + r")\b")
    uses = []
    for path in sorted((SOURCE_DIR / "src" / "fuse").glob("*.[ch]")):
        for no, line in enumerate(strip_c(path.read_text()).splitlines(), 1):
            uses += [(f"{path.name}:{no}", m.group(1)) for m in pattern.finditer(line)]
    return uses


def test_fuse_calls_dm_and_dax_only_through_the_command_layer():
    include = SOURCE_DIR / "include" / "daxfs"
    functions = public_functions(include / "dm.h") | public_functions(include / "dax.h")
    assert {"dm_md_create", "dm_md_resume", "dax_device_path"} <= functions
    assert set(FUSE_DM_ALLOWED) <= functions
    stray = [(where, name) for where, name in fuse_uses(functions)
             if name not in FUSE_DM_ALLOWED]
    assert not stray, f"src/fuse calls dm or dax past the command layer: {stray}"
    # each allowed call is used (else it leaves the list) and documented
    used = {name for _, name in fuse_uses(functions)}
    assert used == set(FUSE_DM_ALLOWED), used
    design = (SOURCE_DIR / "docs" / "DESIGN.md").read_text()
    section = design.split("### What the daemon calls of dm", 1)[1].split("\n#", 1)[0]
    for name in FUSE_DM_ALLOWED:
        assert f"`{name}`" in section, name


def test_the_allow_list_check_sees_a_stray_call():
    """The check cannot pass by seeing nothing: a call in code counts, the same
    name in a comment or a string does not."""
    code = 'x = dm_md_resume(md, 0); /* dm_md_open(md) */ s = "dax_device_path(d)";'
    assert re.findall(r"\b(dm_md_resume|dm_md_open|dax_device_path)\b", strip_c(code)) == \
        ["dm_md_resume"]

"""The build enforces the layers: each library compiles against src/include/<layer>,
which holds the public headers of the layers below it and its own private ones,
so that an upward include does not compile."""
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

"""Fails when a tests/test_*.py is not among the files meson registered at
configure time (argv[2:]): a file added since would silently not run."""
import pathlib
import sys

have = sorted(p.name for p in pathlib.Path(sys.argv[1]).glob("test_*.py"))
new = [f for f in have if f not in sys.argv[2:]]
if new:
    sys.exit("not registered with meson (run `meson setup --reconfigure BUILDDIR`): " +
             ", ".join(new))

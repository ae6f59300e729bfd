"""What the tests of the benchmark's helpers share: running a helper, and
finding one meson built (bench/meson.build passes their paths)."""
import os
import subprocess

import pytest


def run(*cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


def built(env):
    """The helper whose path is in environment variable env; the test is
    skipped when it is not built (the tests run outside meson too)."""
    path = os.environ.get(env)
    if not path or not os.path.exists(path):
        pytest.skip(f"not built (set {env})")
    return path

"""What the tests of the benchmark's helpers share: running a helper, and
finding one meson built (bench/meson.build passes their paths)."""
import os
import subprocess
from pathlib import Path

import pytest


def run(*cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


def check_script_usage(script, usage):
    """bench/SCRIPT --help prints usage and exits 0; an unknown argument is
    refused with it, exit status 2."""
    path = Path(__file__).parent / script
    res = run("bash", path, "--help")
    assert res.returncode == 0
    assert usage in res.stdout
    res = run("bash", path, "--frob")
    assert res.returncode == 2 and "unknown argument '--frob'" in res.stderr
    assert usage in res.stderr


def built(env):
    """The helper whose path is in environment variable env; the test is
    skipped when it is not built (the tests run outside meson too)."""
    path = os.environ.get(env)
    if not path or not os.path.exists(path):
        pytest.skip(f"not built (set {env})")
    return path

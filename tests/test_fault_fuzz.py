"""The fuzz targets (fuzz/run.sh): built with clang and libFuzzer, run from the seed corpus without a finding.

The suite runs them for a few seconds (DAXFS_FUZZ_SECONDS, default 6); the
documented run is `fuzz/run.sh` (60 seconds).
"""
import os
import subprocess

import pytest

from conftest import BUILD_DIR, SOURCE_DIR


def test_fuzz_targets_run_without_a_finding(tmp_path):
    secs = os.environ.get("DAXFS_FUZZ_SECONDS", "6")
    env = dict(os.environ, DAXFS_FUZZ_BUILD=str(BUILD_DIR / "fuzz-build"))
    r = subprocess.run([str(SOURCE_DIR / "fuzz" / "run.sh"), secs], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=900)
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stdout + r.stderr
    for target in ("table", "image"):
        assert f"fuzz/run.sh: {target} for" in r.stdout
    assert r.stdout.count("number_of_executed_units") == 2
    assert not list(tmp_path.iterdir()), "a crash input was left behind"

"""The fuzz targets (fuzz/, docs/DESIGN.md "Fuzzing").

Every saved input - the corpora in fuzz/corpus/<target>/ and the inputs of
fixed crashes in fuzz/regressions/<target>/ - is replayed through its target
by the replay executable of the normal build: no mutation, no time limit,
so the result is the same on every run and under every sanitizer build. Then
fuzz/run.sh builds the libFuzzer executables (clang, every object
instrumented) and runs each target for DAXFS_FUZZ_SECONDS (default 5).
"""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

TARGETS = ("table", "image", "journal", "ioctl", "print")
RUN_SH = SOURCE_DIR / "fuzz" / "run.sh"


@pytest.fixture
def scratch():
    """Where the targets make their images: tmpfs when there is one, and
    checked empty afterwards (each process removes its own directory)."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    path = tempfile.mkdtemp(prefix="daxfs-fuzz-test.", dir=base)
    try:
        yield path
        assert os.listdir(path) == [], "a target left its scratch directory behind"
    finally:
        shutil.rmtree(path, ignore_errors=True)


def saved_inputs(target):
    dirs = [SOURCE_DIR / "fuzz" / kind / target for kind in ("corpus", "regressions")]
    return [d for d in dirs if d.is_dir()]


@pytest.mark.parametrize("target", TARGETS)
def test_saved_inputs_replay_without_a_finding(target, scratch):
    replay = BUILD_DIR / "fuzz" / f"fuzz-replay-{target}"
    dirs = saved_inputs(target)
    count = sum(1 for d in dirs for f in d.iterdir() if not f.name.startswith("."))
    assert count > 0, f"no saved inputs for {target}"
    r = subprocess.run([str(replay)] + [str(d) for d in dirs], capture_output=True,
                       env=dict(os.environ, DAXFS_FUZZ_TMPDIR=scratch), timeout=600)
    # the targets' messages quote the inputs' bytes, which need not be UTF-8
    out, err = (b.decode(errors="replace") for b in (r.stdout, r.stderr))
    assert r.returncode == 0, out + err[-4000:]
    assert out.strip() == f"replayed {count} inputs"


def test_regression_inputs_are_kept_per_target():
    regressions = SOURCE_DIR / "fuzz" / "regressions"
    for d in regressions.iterdir():
        assert d.name in TARGETS, f"fuzz/regressions/{d.name}: no such target"
        assert (SOURCE_DIR / "fuzz" / f"fuzz_{d.name}.c").is_file()


@pytest.mark.parametrize("args, message", [
    (["abc"], "fuzz/run.sh: SECONDS must be a positive whole number, not 'abc'"),
    (["0"], "fuzz/run.sh: SECONDS must be a positive whole number, not '0'"),
    (["1", "nosuch"], "fuzz/run.sh: no target 'nosuch' (targets: table image journal ioctl print)"),
], ids=["not-a-number", "zero", "unknown-target"])
def test_run_sh_refuses_bad_arguments(args, message, tmp_path):
    r = subprocess.run([str(RUN_SH)] + args, capture_output=True, text=True, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == message


def test_run_sh_leaves_a_build_of_another_configuration_alone(tmp_path):
    other = tmp_path / "build"
    other.mkdir()
    (other / "build.ninja").write_text("rule cc\n command = cc -c $in\n")
    r = subprocess.run([str(RUN_SH), "1", "table"], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, DAXFS_FUZZ_BUILD=str(other)), timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == (f"fuzz/run.sh: {other} is not a fuzz build; "
                                "set DAXFS_FUZZ_BUILD to a new directory")
    assert (other / "build.ninja").read_text() == "rule cc\n command = cc -c $in\n"


def test_fuzz_targets_run_without_a_finding(tmp_path):
    secs = os.environ.get("DAXFS_FUZZ_SECONDS", "5")
    env = dict(os.environ, DAXFS_FUZZ_BUILD=str(BUILD_DIR / "fuzz-build"))
    r = subprocess.run([str(RUN_SH), secs], capture_output=True, text=True, cwd=tmp_path,
                       env=env, timeout=1800)
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stdout + r.stderr
    for target in TARGETS:
        m = re.search(rf"^fuzz/run.sh: {target}: start cov: (\d+) ft: \d+; "
                      rf"end cov: (\d+) ft: \d+; execs: (\d+); new inputs: \d+$", r.stdout, re.M)
        assert m, f"no summary for {target}:\n{r.stdout}"
        start, end, execs = map(int, m.groups())
        # The harness alone has a few dozen edges: hundreds mean the
        # libraries' code is instrumented and reached.
        assert start >= 200, f"{target}: coverage {start} from its corpus"
        assert end >= start and execs > 0
    assert not list(tmp_path.iterdir()), "a crash input was left behind"

"""The build exists where the suite expects it, and the other build types compile too."""
import subprocess

from conftest import BUILD_DIR, SOURCE_DIR


def test_build_dir_is_configured():
    assert (BUILD_DIR / "build.ninja").exists(), f"no meson build in {BUILD_DIR}"


def test_release_build_compiles(tmp_path):
    """-O3 finds uses it cannot prove initialised that -O2 does not, and the
    build turns warnings into errors: a user's release build must not stop."""
    build = tmp_path / "release"
    for argv in (["meson", "setup", str(build), str(SOURCE_DIR), "--buildtype=release"],
                 ["meson", "compile", "-C", str(build)]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, f"{' '.join(argv)}:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"

"""The build exists where the suite expects it."""
from conftest import BUILD_DIR


def test_build_dir_is_configured():
    assert (BUILD_DIR / "build.ninja").exists(), f"no meson build in {BUILD_DIR}"

"""Shared pytest fixtures for daxfs-fuse: paths to the built tools."""
import os
import pathlib

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("DAXFS_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parent.parent))
BUILD_DIR = pathlib.Path(os.environ.get("DAXFS_BUILD_DIR", SOURCE_DIR / "build"))


def tool(name):
    """Path of a built tool. A missing tool is a failure, not a skip: a suite
    that quietly skips everything would hide a broken build."""
    for sub in ("tools", "src/fuse"):
        path = BUILD_DIR / sub / name
        if path.exists():
            return str(path)
    pytest.fail(f"{name} not built in {BUILD_DIR}: run `meson compile -C {BUILD_DIR}`")


def pytest_configure(config):
    """DAXFS_RUN=1: the suite runs under daxfs-run (tests/test_run_suite.py
    starts it so): the pytest process and every process a test starts have
    libdaxfs-run preloaded, and their files on daxfs-fuse mounts are served
    with loads and stores. Refuse to claim that when it is not so."""
    if os.environ.get("DAXFS_RUN") == "1" and "libdaxfs-run" not in os.environ.get("LD_PRELOAD", ""):
        raise pytest.UsageError("DAXFS_RUN=1 but libdaxfs-run is not in LD_PRELOAD: start "
                                "the suite with `daxfs-run python3 -m pytest ...`")

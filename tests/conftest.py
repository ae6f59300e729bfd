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

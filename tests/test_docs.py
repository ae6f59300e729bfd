"""The README and the docs point at things that exist and name commands that exist."""
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import SOURCE_DIR, tool

README = (SOURCE_DIR / "README.md").read_text()


def anchors(markdown):
    """GitHub's anchors of the headings."""
    out = set()
    for m in re.finditer(r"^#+ (.*)$", markdown, re.M):
        out.add(re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-"))
    return out


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\]\(([^)\s]+)\)", README))))
def test_readme_link_leads_somewhere(target):
    if target.startswith(("http://", "https://")):
        return
    path, _, anchor = target.partition("#")
    if path:
        assert (SOURCE_DIR / path).exists(), f"README links to missing {path}"
    if anchor and not path:
        assert anchor in anchors(README), f"README links to missing heading #{anchor}"


def test_stack_picture_is_an_svg_with_a_title():
    root = ET.parse(SOURCE_DIR / "docs" / "stack.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title").text == "The daxfs-fuse stack"
    assert "](docs/stack.svg)" in README and "](bench/results.png)" in README


def test_readme_names_only_daxfs_ctl_commands_that_exist():
    help_text = subprocess.run([tool("daxfs-ctl"), "--help"], capture_output=True,
                               text=True).stdout
    commands = set(re.findall(r"^  (\w+) ", help_text, re.M))
    named = set(re.findall(r"daxfs-ctl (\w+) (?:/|\S+\.table|MOUNTPOINT|SOURCE)", README))
    assert named and named <= commands, named - commands


def test_license_is_the_one_meson_declares():
    assert "license : 'MIT'" in (SOURCE_DIR / "meson.build").read_text()
    assert (SOURCE_DIR / "LICENSE").read_text().startswith("MIT License\n")


@pytest.mark.parametrize("page", ["daxfs-ctl.1", "mkfs.daxfs.8", "fsck.daxfs.8", "daxfs-fuse.8",
                                  "mount.daxfs.8", "daxfs-run.1"])
def test_every_program_has_an_installed_man_page(page):
    assert (SOURCE_DIR / "docs" / page).exists()
    assert f"'{page}'" in (SOURCE_DIR / "docs" / "meson.build").read_text()


def status_table_references():
    """(file, test) pairs named in the tests column of kernel-chain.md's
    status tables: `file.py`: `test_a`, `test_b`; dm `file.c`: `test_c`."""
    text = (SOURCE_DIR / "docs" / "kernel-chain.md").read_text()
    section = text[text.index("### 7.1 Status in daxfs-fuse"):]
    refs = []
    for row in re.findall(r"^\|.*\|$", section, re.M):
        cell = row.rstrip("|").rsplit("|", 1)[-1]
        current = None
        for layer, name in re.findall(r"(?:(dax|dm|fs) )?`([\w./]+)`", cell):
            if name.endswith((".py", ".c")):
                current = ("tests/unit/%s/%s" % (layer, name)) if name.endswith(".c") else "tests/" + name
            elif name.startswith("test_") and current:
                refs.append((current, name))
    return refs


def test_kernel_chain_status_names_tests_that_exist():
    refs = status_table_references()
    assert len(refs) > 100
    missing = []
    for path, name in refs:
        src = SOURCE_DIR / path
        if not src.exists():
            missing.append(f"{path} (no such file)")
            continue
        body = src.read_text()
        pattern = r"def %s\b" % name if path.endswith(".py") else r"\b%s\s*\(" % name
        if not re.search(pattern, body):
            missing.append(f"{path}: {name}")
    assert missing == []

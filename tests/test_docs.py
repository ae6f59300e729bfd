"""The README and the docs point at things that exist and name commands that exist."""
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import BUILD_DIR, SOURCE_DIR, tool

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


# ---- docs/FORMAT.md and the codec's offsets -------------------------------

WIDTHS = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "s64": 8}


def width_bytes(text):
    """A width column's bytes: u32, 16, 42 x 96, s64+u32; 0 when another
    field gives it (name_len)."""
    total = 0
    for part in text.split("+"):
        part = part.strip()
        if " x " in part:
            n, each = part.split(" x ")
            total += int(n) * width_bytes(each)
        elif part in WIDTHS:
            total += WIDTHS[part]
        elif part.isdigit():
            total += int(part)
        else:
            return 0
    return total


def format_tables(markdown):
    """{title: [(off, width, field)]} for every `| off | width | field |`
    table, titled by the `**Bold**` lead or `## Heading` (without its
    parenthesis) nearest above it."""
    tables, title, rows = {}, None, None
    for n, line in enumerate(markdown.splitlines(), 1):
        if rows is not None:
            if line.startswith("|"):
                if not line.startswith("|--"):
                    off, width, field = (c.strip() for c in line.strip("|").split("|")[:3])
                    rows.append((int(off), width_bytes(width), field, n))
                continue
            rows = None
        m = re.match(r"(?:#+ |\*\*)([^*(]+?)(?:\*\*| \(|$)", line)
        if m:
            title = m.group(1).strip()
        if line.startswith("| off | width | field |"):
            assert title not in tables, f"FORMAT.md:{n}: a second table for {title}"
            rows = tables[title] = []
    return tables


def code_layouts():
    """{title: (size, [(off, width, field)])} as format.h names them."""
    exe = BUILD_DIR / "tests/layout/format-layout"
    if not exe.exists():
        pytest.fail(f"{exe} not built: run `meson compile -C {BUILD_DIR}`")
    out, cur = {}, None
    for line in subprocess.run([str(exe)], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        if line.startswith("\t"):
            field, off, width = line[1:].split("\t")
            cur[1].append((int(off), int(width), field))
        else:
            title, size = line.split("\t")
            cur = out[title] = (int(size), [])
    return out


def layout_mismatches(doc, code):
    """Where FORMAT.md's tables (format_tables) and format.h's layouts
    (code_layouts) differ: each structure has a table with the same fields
    at the same offsets and widths, whose other rows are reserved, and whose
    rows tile the structure; no table is left over."""
    bad = [f"{t}: a table in FORMAT.md, not in format.h" for t in sorted(set(doc) - set(code))]
    bad += [f"{t}: in format.h, no table in FORMAT.md" for t in sorted(set(code) - set(doc))]
    for title in sorted(set(doc) & set(code)):
        size, fields = code[title]
        rows = doc[title]
        named = [(off, width, field) for off, width, field, _ in rows
                 if not field.startswith("reserved")]
        if named != fields:
            bad.append(f"{title}: FORMAT.md has {sorted(set(named) - set(fields))}, "
                       f"format.h {sorted(set(fields) - set(named))}")
        at = 0
        for off, width, field, n in rows:
            if off != at:
                bad.append(f"FORMAT.md:{n}: {title}.{field} at {off}, the row above ends at {at}")
            at = off + width if width else None
        if at != (size or None):
            bad.append(f"FORMAT.md: {title}'s rows end at {at}, not at {size}")
    return bad


def test_format_md_tables_are_the_codes_offsets():
    doc = format_tables((SOURCE_DIR / "docs/FORMAT.md").read_text())
    assert layout_mismatches(doc, code_layouts()) == []


def test_format_md_check_finds_a_moved_field():
    """The check above fails on a table that moved a field and on one a
    field left."""
    text = (SOURCE_DIR / "docs/FORMAT.md").read_text()
    moved = text.replace("| 16 | u32 | bitmap_crc |", "| 20 | u32 | bitmap_crc |", 1)
    found = [re.sub(r"^FORMAT.md:\d+", "FORMAT.md:N", m)
             for m in layout_mismatches(format_tables(moved), code_layouts())]
    assert found == [
        "Group descriptor table: FORMAT.md has [(20, 4, 'bitmap_crc')], "
        "format.h [(16, 4, 'bitmap_crc')]",
        "FORMAT.md:N: Group descriptor table.bitmap_crc at 20, the row above ends at 16",
        "FORMAT.md:N: Group descriptor table.reserved at 20, the row above ends at 24"]
    gone = text.replace("| 8 | u64 | next | next chain block, 0 = last |\n", "", 1)
    assert layout_mismatches(format_tables(gone), code_layouts())[0] == \
        "Extent chain block: FORMAT.md has [], format.h [(8, 8, 'next')]"

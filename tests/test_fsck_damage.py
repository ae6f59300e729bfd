"""Damaged images: fsck repairs what it reports, and nothing crashes on the way.

A populated image of format 2 on three member files (tests/damage/daxfs-image.c:
files, directories, symlinks, xattrs, a chain of extent blocks; a label in each
member, in both groups) is damaged in copies, one structure of docs/FORMAT.md
at a time: the journal's in an image that ends with a
committed transaction the journal still holds, the others in one unmounted
cleanly (where the journal would not overwrite them),
by a bit flip, a run of random bytes, a zeroed block or two swapped blocks
(tests/damage.py). For every copy:

- fsck.daxfs -n exits 0 or 4, writes nothing, and a read-only mount (through
  the fs library, no FUSE: fast) writes nothing either; no program crashes or
  trips a sanitizer, whatever they make of the damage;
- fsck -n reports what fsck -y repairs (the same problems);
- fsck -p repairs all of it (then -n exits 0) or, when a problem needs a
  human, writes nothing and exits 4 saying so (the first seed of each case);
- after fsck -y, fsck -n exits 0, or 4 with only problems -y left over;
  a filesystem fsck -n calls clean mounts and every file, directory,
  symlink and xattr reads without an error, and stays clean after a
  read-write mount that changes it;
- the damaged copy mounted read-write as it is (the mount refuses, or works
  around the damage) can still be repaired the same way.

One outcome is not a repair: a label block zeroed or exchanged with another
block loses the label without a trace (or shows another member's), which fsck
cannot tell from a file out of place. fsck -n and -y then refuse (exit 8,
naming the member), and nothing - fsck, a mount - writes anything. Member 0's
label is the exception, the superblock at the member's start telling whose it
was, unless it was exchanged with the member table: that loses both copies of
member 0's entry.

Cases are named STRUCTURE-KIND-N; the seed and the damage are in every
failure message. DAXFS_SOAK=1 runs many more seeds of each.
"""
import os
import re
import subprocess

import pytest

import damage
from conftest import BUILD_DIR, tool

SOAK = os.environ.get("DAXFS_SOAK") == "1"
SEEDS = 50 if SOAK else 4
PREEN_SEEDS = SEEDS if SOAK else 1      # -p is a check and a -y: one seed shows its choice
# Three members, two groups: group 0 holds members 0 and 1 (both labels), group
# 1 is member 2, whose label is the group's first block (its bitmap comes next)
# and which holds a bitmap, files and a directory.
MEMBER_MIB = (64, 64, 32)
TIMEOUT = 120
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")


def image_tool():
    path = BUILD_DIR / "tests" / "damage" / "daxfs-image"
    if not path.exists():
        pytest.fail(f"daxfs-image not built in {BUILD_DIR}: run `meson compile -C {BUILD_DIR}`")
    return str(path)


# The images are scratch files: libpmem's stores without msync are what a
# crash-free run needs, and many times faster.
ENV = dict(os.environ, PMEM_IS_PMEM_FORCE="1")


def run(*args):
    return subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=TIMEOUT,
                          env=ENV)


def members(stem):
    """The member files of an image called stem, and its SOURCE."""
    paths = [stem.with_name(f"{stem.name}.{i}") for i in range(len(MEMBER_MIB))]
    return paths, ",".join(map(str, paths))


class Pristine:
    """A populated image and the map of its metadata."""

    def __init__(self, stem, how):
        paths, source = members(stem)
        r = run(image_tool(), "make", source, ",".join(map(str, MEMBER_MIB)), 1, how)
        assert r.returncode == 0, r.stderr
        m = run(image_tool(), "map", source)
        assert m.returncode == 0, m.stderr
        self.image = damage.Image.read(paths)
        self.structures = damage.parse_map(m.stdout)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Both images, made once: {"clean": ..., "pending": ...}."""
    d = tmp_path_factory.mktemp("pristine")
    return {how: Pristine(d / how, how) for how in ("clean", "pending")}


def image_for(images, structure):
    """The journal's structures live only while it holds a transaction."""
    return images["pending" if structure.startswith("journal-") else "clean"]


def sound(r, what, dmg):
    """The run ended by itself (no signal) and no sanitizer spoke."""
    text = f"{what}: {dmg}\nexit {r.returncode}\n{r.stdout}{r.stderr}"
    assert r.returncode >= 0, "killed by a signal: " + text
    assert not any(s in r.stderr for s in SANITIZER), text
    return text


def fsck(path, mode, dmg):
    r = run(tool("fsck.daxfs"), mode, path)
    text = sound(r, f"fsck.daxfs {mode}", dmg)
    assert r.returncode in ((0, 4) if mode == "-n" else (0, 1, 4)), text
    return r, text


def loses_a_label(pristine, dmg):
    """Whether dmg takes a label block's contents whole: zeroed, or exchanged
    with another block. Member 0's label is the exception (its superblock
    tells), unless it is exchanged with the member table: then both copies of
    its entry are gone."""
    labels = {b for b, _ in pristine.structures["label"]}
    first = min(labels)          # member 0's: the first past the fixed metadata
    table = {b for b, _ in pristine.structures["member-table"]}
    hit = {dmg.block, dmg.other}
    return dmg.kind in ("zero", "swap") and bool(hit & labels - {first} or
                                                  (first in hit and hit & table))


def refused(path, mode, dmg):
    """fsck refuses a member it cannot tell from another file, naming the
    member (and where each member is, when the member table says); it must
    not have repaired or reordered anything."""
    r = run(tool("fsck.daxfs"), mode, path)
    text = sound(r, f"fsck.daxfs {mode}", dmg)
    assert (r.returncode, r.stdout) == (8, ""), text
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"fsck.daxfs: {path}: ") and re.search(r"member \d\b", first), text
    if "the filesystem's members are" in r.stderr:
        assert r.stderr.endswith("fsck.daxfs: nothing was checked or changed\n"), text


def problems(r, stem=None):
    """The problem lines of an fsck run, without the summary and '(repaired)',
    with the image's name (stem) as IMAGE: two copies compare equal."""
    lines = r.stdout.splitlines()[:-1]
    if stem is not None:
        lines = [line.replace(str(stem), "IMAGE") for line in lines]
    return [line.removesuffix(" (repaired)") for line in lines]


# What fsck.daxfs(8) says -p repairs without asking: what is derived, or a copy
# rewritten from a sound other.
PREEN_SAFE = re.compile("|".join([
    r"(primary|backup) superblock: ",
    r"journal header \(block \d+\) is damaged; recovered from the log",
    r"group \d+: ",
    r"inode \d+: (extent|xattr) block \d+ checksum mismatch; its (extents|entries) check out",
    r"inode \d+: block count \d+, extents map \d+$",
    r"inode \d+: checksum mismatch; the rest checks out",
    r"directory \d+: block \d+ \(\d+\) checksum mismatch; its entries check out",
    r"symlink \d+: target block \d+ checksum mismatch",
    r"orphan list is damaged at inode \d+",
    r"inode \d+ is marked orphan but is not on the orphan list",
    r"inode \d+: link count \d+, should be \d+$",
]))
# ...but a superblock found by a guess (the copies swapped, or both damaged)
# makes every superblock line a decision.
GUESSED_SUPER = re.compile(r"(primary|backup) superblock: .*(both copies are damaged|is in its place)")


def preen_safe(line, found):
    if line.startswith(("primary superblock: ", "backup superblock: ")) and \
            any(GUESSED_SUPER.match(f) for f in found):
        return False
    return bool(PREEN_SAFE.match(line))


def check_preened(tmp_path, img, check, dmg):
    """fsck -p: all or nothing, as the man page's list of safe repairs
    says, and what it names is what -n found."""
    paths, path = members(tmp_path / "c")
    img.write(paths)
    before = damage.digest(paths)
    p, text = fsck(path, "-p", dmg)
    lines = p.stdout.splitlines()
    if check.returncode == 0:
        assert (p.returncode, lines) == (0, [f"{path}: clean"]), text
        assert damage.digest(paths) == before, "fsck -p of a clean image wrote to it:\n" + text
        return
    found = problems(check, tmp_path / "a")
    safe = all(preen_safe(line, found) for line in found)
    assert p.returncode == (1 if safe else 4), f"-n found:\n{check.stdout}\n-p:\n{text}"
    named = [line.removeprefix(f"{path}: ").removesuffix(" (repaired)")
             .replace(str(tmp_path / "c"), "IMAGE") for line in lines]
    if p.returncode == 4:
        assert damage.digest(paths) == before, "fsck -p stopped but wrote to the image:\n" + text
        assert lines[-2:] == [f"{path}: UNEXPECTED INCONSISTENCY; RUN fsck.daxfs MANUALLY.",
                              "\t(i.e., without -a or -p options)"], text
        assert re.fullmatch(rf"{len(found)} problems? found, 0 repaired \(\d+ not safe to repair "
                            r"without asking\)", named[-3]), text
        assert named[:-3] and set(named[:-3]) <= set(found), text
        assert not any(preen_safe(line, found) for line in named[:-3]), text
        return
    assert p.returncode == 1, text
    assert named[:-1] == found, f"-n and -p disagree:\n-n:\n{check.stdout}\n-p:\n{text}"
    n, text = fsck(path, "-n", dmg)
    assert n.returncode == 0, "fsck -p repaired, yet -n finds:\n" + text


def walk(path, mode, dmg):
    r = run(image_tool(), "walk", path, mode)
    text = sound(r, f"walk {mode}", dmg)
    assert r.returncode in (0, 1, 2, 3), text
    return r, text


def check_repaired(path, y, dmg):
    """After fsck -y: clean, or only what -y left over; clean means usable."""
    n, text = fsck(path, "-n", dmg)
    if y.returncode in (0, 1):
        assert n.returncode == 0, f"fsck -y exited {y.returncode} but -n finds:\n{text}\n-y said:\n{y.stdout}"
    else:
        left = {line for line in y.stdout.splitlines()[:-1] if not line.endswith(" (repaired)")}
        assert n.returncode == 4, text
        assert set(problems(n)) <= left, f"-n finds problems -y did not leave:\n{text}\n-y said:\n{y.stdout}"
        return
    w, text = walk(path, "rw", dmg)
    assert w.returncode == 0, "a clean filesystem fails to walk:\n" + text
    n, text = fsck(path, "-n", dmg)
    assert n.returncode == 0, "a read-write mount left a clean filesystem unclean:\n" + text


CASES = [(s, k, i) for s in damage.STRUCTURES for k in damage.KINDS for i in range(SEEDS)]


@pytest.mark.parametrize("structure,kind,n", CASES, ids=[f"{s}-{k}-{i}" for s, k, i in CASES])
def test_damaged_image_is_repaired_and_nothing_crashes(tmp_path, images, structure, kind, n):
    pristine = image_for(images, structure)
    assert pristine.structures.get(structure), f"the image has no {structure}"
    img = pristine.image.copy()
    dmg = damage.plan(pristine.structures, structure, kind, damage.seed_of(structure, kind, n), img)
    dmg.apply(img)

    a_paths, a = members(tmp_path / "a")
    img.write(a_paths)
    before = damage.digest(a_paths)
    if loses_a_label(pristine, dmg):
        for mode in ("-n", "-y"):
            refused(a, mode, dmg)
        for mode in ("ro", "rw"):
            w, text = walk(a, mode, dmg)
            assert w.returncode == 2, "a mount took a member it cannot tell:\n" + text
        assert damage.digest(a_paths) == before, "a refusal wrote to the image"
        return
    check, text = fsck(a, "-n", dmg)
    assert damage.digest(a_paths) == before, "fsck -n wrote to the image:\n" + text
    ro, text = walk(a, "ro", dmg)
    assert damage.digest(a_paths) == before, "a read-only mount wrote to the image:\n" + text
    if check.returncode == 0:
        assert ro.returncode == 0, "fsck -n calls it clean, yet the walk fails:\n" + text

    # repaired as it is: -y repairs what -n reports
    b_paths, b = members(tmp_path / "b")
    img.write(b_paths)
    y, text = fsck(b, "-y", dmg)
    assert problems(y, tmp_path / "b") == problems(check, tmp_path / "a"), f"-n and -y disagree:\n-n:\n{check.stdout}\n-y:\n{text}"
    assert (y.returncode == 0) == (check.returncode == 0), text
    check_repaired(b, y, dmg)
    if n < PREEN_SEEDS:
        check_preened(tmp_path, img, check, dmg)

    # mounted read-write as it is first: refused, or no worse than before
    rw, text = walk(a, "rw", dmg)
    if check.returncode == 0:
        assert rw.returncode == 0, "fsck -n calls it clean, yet the walk fails:\n" + text
    y, text = fsck(a, "-y", dmg)
    check_repaired(a, y, dmg)


def test_the_images_hold_every_structure(images):
    missing = [s for s in damage.STRUCTURES if not image_for(images, s).structures.get(s)]
    assert not missing, f"daxfs-image make left out {missing}"
    # more than one of those a swap or a chain is about
    for s in ("extent-chain", "dir", "journal-logged", "xattr", "label"):
        assert len(image_for(images, s).structures[s]) > 1, s
    # a label in each member, in more than one group
    labels = [b for b, _ in images["clean"].structures["label"]]
    assert len(labels) == len(MEMBER_MIB)
    assert len({b // 32768 for b in labels}) > 1, labels


@pytest.mark.parametrize("how", ["clean", "pending"])
def test_the_undamaged_image_is_clean_and_walks(tmp_path, images, how):
    paths, path = members(tmp_path / "image")
    images[how].image.write(paths)
    r = run(tool("fsck.daxfs"), "-n", path)
    assert r.returncode == 0, r.stdout + r.stderr
    w = run(image_tool(), "walk", path, "rw")
    assert w.returncode == 0, w.stdout + w.stderr
    assert "walked" in w.stdout and ", 0 calls failed" in w.stdout, w.stdout


def test_damage_is_the_same_for_the_same_seed(images):
    pristine = images["clean"]
    a = damage.plan(pristine.structures, "dir", "byterun", 7, pristine.image)
    b = damage.plan(pristine.structures, "dir", "byterun", 7, pristine.image)
    assert str(a) == str(b)

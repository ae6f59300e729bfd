"""daxfs-ctl's side of the control channel against a daemon that speaks another version or lies:
the answer's layout as include/daxfs/ioctl.h documents it, in pieces, and every malformed answer
refused with what is wrong (tests/ctl/daemon_shim.c stands in for the daemon)."""
import json
import struct
import subprocess

import pytest

from conftest import BUILD_DIR, tool
from run_util import sanitizer_preload

MAGIC = 0x52495744
NONE = 0xFFFFFFFF


def s(text):
    """A string of the layout: u32 length, bytes, NUL; None: none."""
    if text is None:
        return struct.pack("<I", NONE)
    return struct.pack("<I", len(text)) + text.encode() + b"\0"


def encode(text=None, targets=(), badblocks=(), version=1):
    """A result as include/daxfs/ioctl.h lays it out, named "dev", type "dax"."""
    body = s("dev") + s("dax")
    body += struct.pack("<IIQIQIIII", 2, 1, 0, len(targets), 512, 256, 253, 0, 0) + s("")
    body += struct.pack("<II", 0, 0) + s(text)
    body += struct.pack("<I", len(targets))
    for i, (begin, length, kind, args) in enumerate(targets):
        body += struct.pack("<IIQQQQ", i, 1, begin, length, 0, 0) + s(kind) + s(args)
    body += struct.pack("<I", 0)
    body += struct.pack("<I", len(badblocks))
    body += b"".join(struct.pack("<QQ", a, b) for a, b in badblocks)
    return struct.pack("<III", MAGIC, version, 12 + len(body)) + body


def run(tmp_path, *args, answer=None, **shim):
    env = {"DAXFS_SHIM_" + k.upper(): str(v) for k, v in shim.items()}
    if answer is not None:
        (tmp_path / "answer").write_bytes(answer)
        env["DAXFS_SHIM_ANSWER"] = str(tmp_path / "answer")
    shim_lib = BUILD_DIR / "tests" / "ctl" / "libctl-daemon-shim.so"
    env["LD_PRELOAD"] = " ".join(filter(None, [sanitizer_preload(), str(shim_lib)]))
    return subprocess.run([tool("daxfs-ctl"), *args[:1], str(tmp_path), *args[1:]],
                          capture_output=True, text=True, timeout=60,
                          env=dict(env, ASAN_OPTIONS="detect_leaks=0", PATH="/usr/bin:/bin"))


def test_an_older_daemon_is_named_with_both_versions(tmp_path):
    r = run(tmp_path, "info", version=1)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"daxfs-ctl info: {tmp_path}: the daemon speaks version 1 of the control "
                        "channel, daxfs-ctl version 2\n")


def test_a_daemon_of_no_known_version_is_refused(tmp_path):
    r = run(tmp_path, "status", version=0)
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl status: {tmp_path}: the daemon does not speak version 2 of "
                        "the control channel, daxfs-ctl's\n")


def test_a_result_in_small_pieces_prints_whole(tmp_path):
    bb = encode(badblocks=[(8, 8), (64, 1)])
    r = run(tmp_path, "badblocks", "/dev/pmem0", answer=bb, piece=7)
    assert (r.returncode, r.stdout, r.stderr) == (0, "8 8\n64 1\n", "")
    r = run(tmp_path, "badblocks", "/dev/pmem0", "--json", answer=bb, piece=7)
    assert json.loads(r.stdout) == [{"sector": 8, "len": 8}, {"sector": 64, "len": 1}]
    table = encode(text="0 8 linear /p 0\n8 8 error\n",
                   targets=[(0, 8, "linear", "/p 0"), (8, 8, "error", "")])
    r = run(tmp_path, "table", answer=table, piece=5)
    assert r.stdout == "0 8 linear /p 0\n8 8 error\n"
    r = run(tmp_path, "table", "--json", answer=table, piece=5)
    assert r.stdout == ('{"slot":"live","targets":[{"start":0,"len":8,"type":"linear","args":'
                        '"/p 0"},{"start":8,"len":8,"type":"error","args":""}],"text":'
                        '"0 8 linear /p 0\\n8 8 error\\n"}\n')


def lie(data, at, value):
    return data[:at] + struct.pack("<I", value) + data[at + 4:]


def with_len(data):
    return lie(data, 8, len(data))


GOOD = encode()
GARBAGE = [
    ("empty", b"", "the daemon answered without the result this command has"),
    ("short", GOOD[:4], "answer: 4 bytes, shorter than the 12-byte header"),
    ("wrong magic", b"XXXX" + GOOD[4:], "answer: magic 0x58585858 is not 0x52495744: not a dm result"),
    ("another version", encode(version=9),
     "answer: the daemon encodes results in version 9, this reader knows version 1"),
    ("length lies", GOOD[:-1], "answer: the header says 101 bytes, 100 arrived"),
    ("truncated", with_len(GOOD[:50]), "answer: truncated at byte 48: info needs 4 bytes, 2 remain"),
    ("huge string", lie(GOOD, 12, 0xFFFFFFFE),
     "answer: result's name of 4294967294 bytes at byte 12 runs past the end (85 bytes remain)"),
    ("huge count", lie(GOOD, 89, 1 << 28),
     "answer: result has 268435456 targets at byte 89, more than the 8 bytes left can hold"),
    ("unknown flags", lie(GOOD, 28, 0x40),
     "answer: info's flags at byte 28 are 0x40: bits 0x40 mean nothing"),
    ("trailing bytes", with_len(GOOD + b"\0"), "answer: 1 bytes after the result's end at byte 101"),
]


@pytest.mark.parametrize("data,message", [g[1:] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_a_malformed_answer_is_refused_with_what_is_wrong(tmp_path, data, message):
    r = run(tmp_path, "info", answer=data, piece=40)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"daxfs-ctl info: {tmp_path}: {message}\n"


def test_pieces_that_lie_are_refused(tmp_path):
    r = run(tmp_path, "info", answer=GOOD, piece=7, start=3)
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl info: {tmp_path}: the daemon's answer is malformed: a piece of "
                        "7 bytes at byte 3 of answer 7 (101 bytes) where byte 7 of answer 7 "
                        "(101 bytes) was due\n")
    r = run(tmp_path, "info", answer=GOOD, len=1 << 40)
    assert r.stderr == (f"daxfs-ctl info: {tmp_path}: the daemon's answer of 1099511627776 bytes "
                        "is larger than the 67108864 daxfs-ctl reads\n")
    r = run(tmp_path, "info", answer=GOOD, len=200)
    assert r.stderr == (f"daxfs-ctl info: {tmp_path}: the daemon's answer is malformed: a piece of "
                        "0 bytes at byte 101 of answer 7 (200 bytes) where byte 101 of answer 7 "
                        "(200 bytes) was due\n")


def test_an_answer_replaced_between_pieces_is_asked_for_again(tmp_path):
    table = encode(text="0 8 zero\n", targets=[(0, 8, "zero", "")])
    r = run(tmp_path, "table", answer=table, piece=16, stale=7)
    assert (r.returncode, r.stdout, r.stderr) == (0, "0 8 zero\n", "")
    r = run(tmp_path, "table", answer=table, piece=16, stale=8)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"daxfs-ctl table: {tmp_path}: answer 7 is no longer held: ask again\n"


def test_a_result_for_a_command_without_one_is_refused(tmp_path):
    r = run(tmp_path, "suspend", answer=GOOD)
    assert r.returncode == 1
    assert r.stderr == (f"daxfs-ctl suspend: {tmp_path}: the daemon answered with a result this "
                        "command has none of\n")

"""Persistence traces (docs/CRASH.md) and the crash states they allow.

A trace is the line file written by src/dax/recorder.c when DAXFS_PERSIST_TRACE
is set, plus the markers a workload appends to it. This module parses it and,
from the device images as they were before the trace started, builds the
images that could exist after a power loss at each fence.

The model, per device, in pmem mode (pmem_flush + pmem_drain):
  - a store that was never flushed is lost;
  - a flush makes its bytes *pending*: they may or may not reach the media,
    as a whole or cache line by cache line;
  - a drain on the device makes every pending flush of that device durable.
In msync mode a flush is synchronous (durable at once) and drains do nothing;
memory mode (a device file on tmpfs) is taken the same way.
In fsync mode (block devices) a flush is pending until the device's drain.
"""
import hashlib
import random
import urllib.parse

HEADER = "# daxfs-persist-trace 1"
CACHE_LINE = 64


class TraceError(Exception):
    """The trace is malformed; the message names the line."""


class Flush:
    __slots__ = ("index", "pid", "tid", "mode", "dev", "devsize", "off", "data")

    def __init__(self, index, pid, tid, mode, dev, devsize, off, data):
        self.index, self.pid, self.tid, self.mode = index, pid, tid, mode
        self.dev, self.devsize, self.off, self.data = dev, devsize, off, data

    def __repr__(self):
        return f"Flush(#{self.index} {self.dev} {self.off}+{len(self.data)})"


class Drain:
    __slots__ = ("index", "pid", "tid", "mode", "dev")

    def __init__(self, index, pid, tid, mode, dev):
        self.index, self.pid, self.tid, self.mode, self.dev = index, pid, tid, mode, dev

    def __repr__(self):
        return f"Drain(#{self.index} {self.dev})"


class Mark:
    __slots__ = ("index", "pid", "tid", "label")

    def __init__(self, index, pid, tid, label):
        self.index, self.pid, self.tid, self.label = index, pid, tid, label

    def __repr__(self):
        return f"Mark(#{self.index} {self.label!r})"


def escape(text):
    """The recorder's escaping: every byte <= space, >= 0x7f, and '%'."""
    out = []
    for b in text.encode():
        out.append(f"%{b:02x}" if b <= 0x20 or b >= 0x7f or b == 0x25 else chr(b))
    return "".join(out)


def unescape(field):
    return urllib.parse.unquote(field, errors="strict")


def mark_line(label, pid=0, tid=0):
    """A marker line as a workload appends it (one write, O_APPEND)."""
    return f"M {pid} {tid} {escape(label)}\n"


def parse(text):
    """Records of a trace, in file order. Raises TraceError."""
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        raise TraceError(f"line 1: not a daxfs persistence trace (want {HEADER!r})")
    if lines[-1] != "":
        raise TraceError(f"line {len(lines)}: truncated record (no newline)")
    records = []
    for no, line in enumerate(lines[1:-1], start=2):
        if not line or line.startswith("#"):
            continue
        f = line.split(" ")
        try:
            kind, pid, tid = f[0], int(f[1]), int(f[2])
            if kind == "F" and len(f) == 9:
                off, length = int(f[6]), int(f[7])
                data = bytes.fromhex(f[8])
                if len(data) != length:
                    raise ValueError(f"{len(data)} bytes of data for length {length}")
                if off + length > int(f[5]):
                    raise ValueError("flush beyond the device end")
                records.append(Flush(len(records), pid, tid, f[3], unescape(f[4]), int(f[5]),
                                     off, data))
            elif kind == "S" and len(f) == 5:
                records.append(Drain(len(records), pid, tid, f[3], unescape(f[4])))
            elif kind == "M" and len(f) in (3, 4):
                records.append(Mark(len(records), pid, tid, unescape(f[3]) if len(f) == 4 else ""))
            else:
                raise ValueError(f"unknown record kind or field count ({len(f)})")
            if kind in "FS" and f[3] not in ("pmem", "msync", "fsync", "memory"):
                raise ValueError(f"unknown persist mode {f[3]!r}")
        except (ValueError, IndexError) as e:
            raise TraceError(f"line {no}: {e}: {line[:120]}") from None
    return records


def load(path):
    with open(path) as f:
        return parse(f.read())


class CrashPoint:
    """Power fails just before record `index` (a drain, or the end of the
    trace): every device holds its durable image plus any subset of its
    pending flushes."""

    def __init__(self, number, index, durable, pending):
        self.number = number        # 0, 1, ... in trace order
        self.index = index          # record index the crash precedes
        self.durable = durable      # {dev: bytes}
        self.pending = pending      # [Flush] in trace order, all devices

    def __repr__(self):
        return f"CrashPoint({self.number} before record {self.index}, {len(self.pending)} pending)"


SCOPES = ("device", "thread")
# Modes whose flush is durable when it returns. In memory mode a store is in
# the file even before its flush, but the trace knows a store only by its flush.
SYNCHRONOUS = ("msync", "memory")


def crash_points(records, base, scope="device", keep=None):
    """Yields a CrashPoint before every drain that could lose something, and
    one at the end of the trace. base: {dev path: bytes} before the trace.
    keep: the numbers of the points wanted, or None for all; the others are
    yielded as None, without the copy of every image a point holds.
    scope "device": a drain makes every pending flush of its device durable
    (dax.h's contract); "thread": in pmem mode only those its own thread
    issued, as an sfence orders only the calling CPU's flushes."""
    if scope not in SCOPES:
        raise ValueError(f"unknown fence scope {scope!r}")
    durable = {dev: bytearray(img) for dev, img in base.items()}
    pending = {dev: [] for dev in base}
    changed = False
    number = 0

    def snapshot(index):
        nonlocal number
        point = None
        if keep is None or number in keep:
            flat = sorted((fl for p in pending.values() for fl in p), key=lambda fl: fl.index)
            point = CrashPoint(number, index, {d: bytes(img) for d, img in durable.items()}, flat)
        number += 1
        return point

    for rec in records:
        if isinstance(rec, Mark):
            continue
        if rec.dev not in durable:
            raise TraceError(f"record {rec.index}: device {rec.dev} has no base image")
        if isinstance(rec, Flush):
            if len(durable[rec.dev]) != rec.devsize:
                raise TraceError(f"record {rec.index}: {rec.dev} is {rec.devsize} bytes in the "
                                 f"trace, {len(durable[rec.dev])} in its base image")
            if rec.mode in SYNCHRONOUS:
                apply(durable[rec.dev], rec)
            else:
                pending[rec.dev].append(rec)
            changed = True
            continue
        if rec.mode in SYNCHRONOUS:
            continue
        per_thread = scope == "thread" and rec.mode == "pmem"
        done = [fl for fl in pending[rec.dev]
                if not per_thread or (fl.pid, fl.tid) == (rec.pid, rec.tid)]
        if not done:
            continue
        if changed:
            yield snapshot(rec.index)
            changed = False
        for fl in done:
            apply(durable[rec.dev], fl)
        rest = [fl for fl in pending[rec.dev] if all(fl is not d for d in done)]
        # an older flush still pending cannot write back older bytes over
        # newer ones that are durable now: a line holds one content
        for d in done:
            rest = [piece for fl in rest
                    for piece in (_subtract(fl, d.off, d.off + len(d.data))
                                  if fl.index < d.index else [fl])]
        pending[rec.dev] = rest
    yield snapshot(len(records))


def _subtract(fl, lo, hi):
    """The parts of flush fl outside [lo, hi), as flushes of the same record."""
    end = fl.off + len(fl.data)
    if hi <= fl.off or lo >= end:
        return [fl]
    out = []
    if fl.off < lo:
        out.append(Flush(fl.index, fl.pid, fl.tid, fl.mode, fl.dev, fl.devsize, fl.off,
                         fl.data[:lo - fl.off]))
    if hi < end:
        out.append(Flush(fl.index, fl.pid, fl.tid, fl.mode, fl.dev, fl.devsize, hi,
                         fl.data[hi - fl.off:]))
    return out


def apply(img, fl, lines=None):
    """Applies flush fl to img; lines: the set of cache-line numbers (relative
    to the flush's first line) that reached the media, or None for all."""
    if lines is None:
        img[fl.off:fl.off + len(fl.data)] = fl.data
        return
    first = fl.off // CACHE_LINE
    for ln in lines:
        lo = max(fl.off, (first + ln) * CACHE_LINE)
        hi = min(fl.off + len(fl.data), (first + ln + 1) * CACHE_LINE)
        img[lo:hi] = fl.data[lo - fl.off:hi - fl.off]


def nlines(fl):
    if not fl.data:
        return 0
    return (fl.off + len(fl.data) - 1) // CACHE_LINE - fl.off // CACHE_LINE + 1


class CrashState:
    """One image set: which pending flushes (and for torn states which of
    their cache lines) reached the media."""

    def __init__(self, point, name, keep):
        self.point = point
        self.name = name     # "none", "all", "subset:<k>", "torn:<k>"
        self.keep = keep     # [(Flush, None | frozenset(lines))]

    def images(self):
        out = {d: bytearray(img) for d, img in self.point.durable.items()}
        for fl, lines in self.keep:
            apply(out[fl.dev], fl, lines)
        return out

    def describe(self):
        if self.name in ("none", "all"):
            return self.name
        kept = ", ".join(f"#{fl.index}" + ("" if lines is None else f"[{len(lines)}/{nlines(fl)} lines]")
                         for fl, lines in self.keep)
        return f"{self.name} (kept {kept or 'nothing'})"


def states(point, seed, nrandom, torn=True):
    """The crash states of a point: none, all, then nrandom seeded random
    ones, half of them subsets of whole flushes and half torn (subsets of
    each flush's cache lines). When the pending flushes allow few subsets,
    every whole-flush subset is listed instead of random ones; torn states
    are added all the same, since a single pending flush of a block (a
    commit record, a header) is exactly where a torn write matters."""
    out = [CrashState(point, "none", [])]
    n = len(point.pending)
    if n == 0:
        return out
    out.append(CrashState(point, "all", [(fl, None) for fl in point.pending]))
    rng = random.Random(f"{seed}:{point.number}")
    ntorn = (nrandom + 1) // 2 if torn and any(nlines(fl) > 1 for fl in point.pending) else 0
    if n <= 4 and (1 << n) - 2 <= nrandom - ntorn:
        for mask in range(1, (1 << n) - 1):
            keep = [(fl, None) for i, fl in enumerate(point.pending) if mask >> i & 1]
            out.append(CrashState(point, f"subset:{mask}", keep))
    else:
        for k in range(nrandom - ntorn):
            keep = [(fl, None) for fl in point.pending if rng.random() < 0.5]
            out.append(CrashState(point, f"subset:{k}", keep))
    for k in range(ntorn):
        keep = []
        for fl in point.pending:
            lines = frozenset(i for i in range(nlines(fl)) if rng.random() < 0.5)
            keep.append((fl, lines))
        out.append(CrashState(point, f"torn:{k}", keep))
    return out


def find_state(point, seed, nrandom, name, torn=True):
    for st in states(point, seed, nrandom, torn):
        if st.name == name:
            return st
    raise KeyError(f"crash point {point.number} has no state {name!r}")


def digest(images):
    h = hashlib.blake2b(digest_size=20)
    for dev in sorted(images):
        h.update(dev.encode() + b"\0")
        h.update(images[dev])
    return h.hexdigest()

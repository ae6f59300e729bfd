"""The invariants a recovered crash state must satisfy.

Inputs: the snapshots the live mount showed (S[0] before the first step,
S[i] after step i), what each step acknowledged, and how far the workload had
got when power failed: K = steps started, E = steps that had returned. The
recovered state R (a snapshot of the image after journal replay) must be:

1. Namespace, all or nothing and in order: the tree of names (path -> inode,
   type, symlink target) equals S[k] for one k in [lo, K], where lo is the
   last step acknowledged by syncfs/unmount; and the entries of a directory
   fsynced by step i <= E are those of some S[m], m in [i, K]. So a rename
   shows exactly one of its names, a link both or neither, a create a whole
   entry or none.
2. Per inode present in R, every attribute is one the inode had in a state
   it may legally be in: from the last step that acknowledged it (fsync or
   fdatasync of it, syncfs) to K. Sizes and attributes are checked per field,
   xattrs per name.
3. File bytes: every byte is one that some allowed version had at that
   offset, or zero where the byte was not yet acknowledged. A byte no write
   ever put there (a stale block, another file's data) is a failure, and so
   is an acknowledged byte that changed or vanished.
"""
import workloads as wl

MAX_DETAIL = 6


def namespace(snap):
    return {p: (e["ino"], e["type"], e.get("target")) for p, e in snap.items()}


def entries_of(snap, dir_ino):
    return {(p.rsplit("/", 1)[-1], e["ino"], e["type"], e.get("target"))
            for p, e in snap.items() if p != "." and e["parent"] == dir_ino}


def by_ino(snap):
    return {e["ino"]: e for e in snap.values()}


def _ns_diff(have, want):
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    changed = sorted(p for p in set(have) & set(want) if have[p] != want[p])
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing[:MAX_DETAIL]))
    if extra:
        parts.append("unexpected " + ", ".join(extra[:MAX_DETAIL]))
    if changed:
        parts.append("different " + ", ".join(f"{p} {have[p]} (want {want[p]})"
                                              for p in changed[:MAX_DETAIL]))
    return "; ".join(parts) or "no difference"


def check(rec, K, E, R):
    """Problems (strings) of recovered snapshot R for a crash after K steps
    started and E returned. rec: the recording (snaps, steps, acks)."""
    snaps, acks = rec["snaps"], rec["acks"]
    problems = []
    lo = max([i for i in range(1, E + 1) if acks[i][0] == wl.SYNC_ALL], default=0)
    dir_acks = [(i, acks[i][1]) for i in range(1, E + 1) if acks[i][0] == wl.SYNC_DIR]

    # 1. namespace
    ns = namespace(R)
    ks = [k for k in range(lo, K + 1) if namespace(snaps[k]) == ns]
    ks = [k for k in ks if all(entries_of(snaps[k], d) in
                               [entries_of(snaps[m], d) for m in range(i, K + 1)]
                               for i, d in dir_acks)]
    if not ks:
        near = min(range(lo, K + 1), key=lambda k: len(set(namespace(snaps[k]).items()) ^
                                                       set(ns.items())))
        problems.append(f"names: the tree matches no state after steps {lo}..{K} "
                        f"(closest, after step {near}: {_ns_diff(ns, namespace(snaps[near]))})")

    # 2. and 3. each inode
    for ino, e in sorted(by_ino(R).items()):
        path = min(p for p, x in R.items() if x["ino"] == ino)
        problems += _check_inode(snaps, acks, K, E, ino, path, e, rec.get("steps"))
    return problems


def _last_ack(acks, E, ino, kinds):
    return max([i for i in range(1, E + 1)
                if acks[i][0] == wl.SYNC_ALL or (acks[i][0] in kinds and acks[i][1] == ino)],
               default=0)


def _versions(snaps, lo, K, ino):
    out = []
    for j in range(lo, K + 1):
        e = by_ino(snaps[j]).get(ino)
        if e is not None:
            out.append((j, e))
    return out


WRITES = ("write", "append", "write_held")


def _check_inode(snaps, acks, K, E, ino, path, e, steps=None):
    problems = []
    who = f"{path} (inode {ino})"
    data_lo = _last_ack(acks, E, ino, (wl.SYNC_FILE, wl.SYNC_DATA))
    attr_lo = _last_ack(acks, E, ino, (wl.SYNC_FILE,))
    dvers = _versions(snaps, data_lo, K, ino)
    avers = _versions(snaps, attr_lo, K, ino)
    if not dvers or not avers:
        when = min(data_lo, attr_lo)
        return [f"{who}: exists, but the inode did not exist at any step in {when}..{K}"]
    if e["type"] not in {v["type"] for _, v in dvers}:
        return [f"{who}: is a {e['type']}, was a {dvers[-1][1]['type']}"]
    for field in ("mode", "uid", "gid"):
        allowed = {v[field] for _, v in avers}
        if e[field] not in allowed:
            fmt = oct if field == "mode" else str
            problems.append(f"{who}: {field} {fmt(e[field])} was never set in steps "
                            f"{attr_lo}..{K} (allowed {', '.join(map(fmt, sorted(allowed)))})")
    for name in sorted(set(e["xattrs"]) | {n for _, v in avers for n in v["xattrs"]}):
        allowed = {v["xattrs"].get(name) for _, v in avers}
        if e["xattrs"].get(name) not in allowed:
            problems.append(f"{who}: xattr {name} = {e['xattrs'].get(name)!r:.40}, never its "
                            f"value in steps {attr_lo}..{K}")
    if e["type"] != "reg":
        return problems
    sizes = {v["size"] for _, v in dvers}
    # the kernel may split one write() into several requests, each durable
    # when answered: a write in flight can leave any size up to its end
    grow = None
    if steps and K > E and steps[K - 1][0] in WRITES:
        old, new = by_ino(snaps[K - 1]).get(ino), by_ino(snaps[K]).get(ino)
        if old is not None and new is not None:
            grow = (old["size"], new["size"])
    if e["size"] not in sizes and not (grow and grow[0] <= e["size"] <= grow[1]):
        problems.append(f"{who}: size {e['size']} was never its size in steps {data_lo}..{K} "
                        f"(allowed {', '.join(map(str, sorted(sizes)))})")
    problems += _check_bytes(who, e["data"], dvers, data_lo)
    return problems


def _check_bytes(who, data, dvers, data_lo):
    datas = [v["data"] for _, v in dvers]
    if any(data == d for d in datas):
        return []
    # the version acknowledged last, when there is one: its bytes may not
    # turn into zeroes unless a later version changed them
    acked = dvers[0][1]["data"] if data_lo and dvers[0][0] == data_lo else None
    ref = datas[-1]
    bad = []
    for blk in range(0, len(data), 4096):
        if data[blk:blk + 4096] == ref[blk:blk + 4096]:
            continue
        for i in range(blk, min(blk + 4096, len(data))):
            b = data[i]
            if any(i < len(d) and d[i] == b for d in datas):
                continue
            if b == 0 and (acked is None or i >= len(acked) or
                           any(i >= len(d) or d[i] != acked[i] for d in datas)):
                continue
            bad.append(i)
    if not bad:
        return []
    i = bad[0]
    allowed = sorted({d[i] for d in datas if i < len(d)})
    kind = "an acknowledged byte lost" if data[i] == 0 else "a byte no write put there"
    return [f"{who}: {len(bad)} bad byte(s), first at offset {i}: 0x{data[i]:02x} is {kind} "
            f"(allowed {', '.join(f'0x{b:02x}' for b in allowed) or 'nothing'}"
            f"{'' if acked is not None else ', 0x00'}; offsets {bad[:MAX_DETAIL]})"]

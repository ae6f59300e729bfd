#!/usr/bin/python3
"""bench/report.py - the catalogue of benchmark workloads, their figures and the report.

bench/run.sh measures; this file knows what each measurement is called, which
figure of it counts, and what the target is. Two commands:

  report.py fio ID FS FIO_JSON...   prints the result line "ID FS VALUE" for
                                    fio --output-format=json files: the median
                                    of their figures
  report.py value ID FS VALUE...    the result line with the median of VALUEs
  report.py render RESULTS PARAMS OUTDIR
                                    reads the result lines and the run's
                                    parameters (key: value lines), writes
                                    OUTDIR/results.md and OUTDIR/results.png
                                    (with gnuplot) and prints the markdown;
                                    after the tables, daxfs/peer in each
                                    round, for the workloads run in more
                                    than one

Result lines are "ID FS VALUE", FS being tmpfs, peer (the FUSE peer: bindfs
over a tmpfs), daxfs or run (daxfs-fuse with the program under daxfs-run),
one per run; the unit follows from the workload's metric and the report shows
the median of the runs. An unknown ID or FS is an error: a typo in run.sh must
not silently drop a row.
"""
import json
import math
import os
import subprocess
import sys

FS = ("tmpfs", "peer", "daxfs", "run")

# metric -> (unit in the table, how to format a value)
UNITS = {
    "read_bw": ("MiB/s", "{:.0f}"),
    "write_bw": ("MiB/s", "{:.0f}"),
    "read_iops": ("kIOPS", "{:.1f}"),
    "write_iops": ("kIOPS", "{:.1f}"),
    "ops": ("kops/s", "{:.1f}"),
    "rss": ("MiB", "{:.1f}"),
}


class Workload:
    def __init__(self, id, label, metric, target=None, limit=None, short=None, run_target=None):
        """target: the least daxfs/tmpfs ratio that counts as met;
        run_target: the same for daxfs-run/tmpfs (None: not run under it);
        limit: for daxfs-only figures (rss), the value to stay below;
        short: the label under the chart's bar (default: label)."""
        self.id, self.label, self.metric = id, label, metric
        self.target, self.limit, self.run_target = target, limit, run_target
        self.short = short or label


WORKLOADS = [
    Workload("seq-write", "sequential write, 1 MiB, psync", "write_bw", target=0.5,
             short="sequential write", run_target=0.8),
    Workload("seq-read", "sequential read, 1 MiB, cold cache", "read_bw", target=0.5,
             short="sequential read, cold", run_target=0.8),
    Workload("seq-reread", "sequential re-read, 1 MiB, cached", "read_bw", target=0.9,
             short="sequential re-read, cached", run_target=0.8),
    Workload("rr-cold-1", "random read 4 KiB buffered, cold, 1 job", "read_iops",
             short="random read, cold, 1 job", run_target=0.8),
    Workload("rr-cold-2", "random read 4 KiB buffered, cold, 2 jobs", "read_iops",
             short="random read, cold, 2 jobs", run_target=0.8),
    Workload("rr-cached-1", "random read 4 KiB buffered, cached re-read, 1 job", "read_iops",
             target=0.9,
             short="random read, cached, 1 job", run_target=0.8),
    Workload("rr-cached-2", "random read 4 KiB buffered, cached re-read, 2 jobs", "read_iops",
             target=0.9,
             short="random read, cached, 2 jobs", run_target=0.8),
    Workload("rr-direct-1", "random read 4 KiB O_DIRECT, 1 job", "read_iops",
             short="random read O_DIRECT, 1 job", run_target=0.8),
    Workload("rr-direct-2", "random read 4 KiB O_DIRECT, 2 jobs", "read_iops", target=0.3,
             short="random read O_DIRECT, 2 jobs", run_target=0.8),
    Workload("rw-buf-1", "random write 4 KiB buffered, 1 job", "write_iops",
             short="random write, 1 job", run_target=0.8),
    Workload("rw-buf-2", "random write 4 KiB buffered, 2 jobs", "write_iops",
             short="random write, 2 jobs", run_target=0.8),
    Workload("rw-direct-1", "random write 4 KiB O_DIRECT, 1 job", "write_iops",
             short="random write O_DIRECT, 1 job", run_target=0.8),
    Workload("rw-direct-2", "random write 4 KiB O_DIRECT, 2 jobs", "write_iops",
             short="random write O_DIRECT, 2 jobs", run_target=0.8),
    Workload("rw-sync-1", "random write 4 KiB O_SYNC (daxfs-run: synchronous mode), 1 job",
             "write_iops", short="random write O_SYNC, 1 job", run_target=0.8),
    Workload("mmap-read-first", "mmap random read 4 KiB, first touch", "read_iops",
             short="mmap read, first touch", run_target=0.8),
    Workload("mmap-read-again", "mmap random read 4 KiB, re-read", "read_iops", target=0.9,
             short="mmap read, again", run_target=0.8),
    Workload("mmap-write-first", "mmap random write 4 KiB, first touch, msync", "write_iops",
             short="mmap write, first touch", run_target=0.8),
    Workload("mmap-write-again", "mmap random write 4 KiB, re-write, msync", "write_iops",
             short="mmap write, again", run_target=0.8),
    Workload("create", "create empty files", "ops", target=0.3,
             short="create"),
    Workload("stat", "stat (cached dentries)", "ops", target=0.3,
             short="stat, cached"),
    Workload("stat-cold", "stat after dropping dentries", "ops",
             short="stat, cold"),
    Workload("unlink", "unlink", "ops", target=0.3,
             short="unlink"),
    Workload("create-big", "create files in one large directory", "ops",
             short="create, large directory"),
    Workload("readdir", "readdir of the large directory (entries/s)", "ops",
             short="readdir, large directory"),
    Workload("stat-cold-big", "stat after dropping dentries, same count in the large directory", "ops",
             short="stat, cold, large directory"),
    Workload("sqlite", "SQLite WAL, 100k inserts in 1,000 transactions, integrity_check", "ops",
             short="SQLite inserts", run_target=0.5),
    Workload("lmdb", "LMDB, 100k puts in 1,000 transactions", "ops",
             short="LMDB puts", run_target=0.5),
    Workload("rss-mount", "daemon RssAnon after mounting", "rss", limit=32),
    Workload("rss-files", "daemon RssAnon after creating the files", "rss", limit=128),
]
BY_ID = {w.id: w for w in WORKLOADS}


class ReportError(Exception):
    pass


# ---- fio ------------------------------------------------------------------
def fio_value(workload, doc):
    """The workload's figure from fio's JSON: bandwidth in MiB/s or kIOPS,
    summed over the jobs (run.sh uses group_reporting, which gives one)."""
    jobs = doc.get("jobs")
    if not jobs:
        raise ReportError("fio output has no jobs")
    direction, kind = workload.metric.split("_")
    total = 0.0
    for job in jobs:
        if job.get("error"):
            raise ReportError(f"fio job {job.get('jobname')} failed with error {job['error']}")
        side = job[direction]
        if side.get("io_bytes", 0) == 0:
            raise ReportError(f"fio job {job.get('jobname')} did no {direction}s")
        total += side["bw_bytes"] / (1 << 20) if kind == "bw" else side["iops"] / 1000.0
    return total


def read_fio(path):
    with open(path) as f:
        text = f.read()
    # fio may print warnings before the JSON document.
    start = text.find("{")
    if start < 0:
        raise ReportError(f"{path}: no JSON in fio's output")
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: fio output is not JSON: {e}") from e


def median(values):
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def cmd_fio(args):
    if len(args) < 3:
        raise ReportError("usage: report.py fio ID FS FIO_JSON...")
    wid, fs, paths = args[0], args[1], args[2:]
    w = workload_of(wid)
    check_fs(fs)
    if w.metric not in ("read_bw", "write_bw", "read_iops", "write_iops"):
        raise ReportError(f"{wid} is not a fio workload")
    values = []
    for path in paths:
        try:
            values.append(fio_value(w, read_fio(path)))
        except ReportError as e:
            raise ReportError(f"{path}: {e}") from None
    print(f"{wid} {fs} {median(values):.6g}")


def cmd_value(args):
    if len(args) < 3:
        raise ReportError("usage: report.py value ID FS VALUE...")
    wid, fs = args[0], args[1]
    workload_of(wid)
    check_fs(fs)
    values = []
    for a in args[2:]:
        try:
            v = float(a)
        except ValueError:
            raise ReportError(f"{wid} on {fs}: value {a!r} is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise ReportError(f"{wid} on {fs}: value {a!r} out of range")
        values.append(v)
    print(f"{wid} {fs} {median(values):.6g}")


# ---- results --------------------------------------------------------------
def workload_of(wid):
    if wid not in BY_ID:
        raise ReportError(f"unknown workload '{wid}'")
    return BY_ID[wid]


def check_fs(fs):
    if fs not in FS:
        raise ReportError(f"unknown filesystem '{fs}': expected one of {', '.join(FS)}")


def read_runs(path):
    """{(id, fs): [value, ...]}: the lines of each pair in the order of the
    runs (run.sh records one line per run of a workload)."""
    runs = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != 3:
                raise ReportError(f"{path}:{n}: expected 'ID FS VALUE', got {line.strip()!r}")
            wid, fs, value = fields
            workload_of(wid)
            check_fs(fs)
            try:
                v = float(value)
            except ValueError:
                raise ReportError(f"{path}:{n}: value {value!r} is not a number") from None
            if not math.isfinite(v) or v < 0:
                raise ReportError(f"{path}:{n}: value {value!r} out of range")
            runs.setdefault((wid, fs), []).append(v)
    return runs


def medians(runs):
    """{(id, fs): value}: the median of the runs of each pair."""
    return {key: median(values) for key, values in runs.items()}


def read_results(path):
    return medians(read_runs(path))


def read_params(path):
    params = {}
    with open(path) as f:
        for line in f:
            if ":" in line:
                key, value = line.split(":", 1)
                params[key.strip()] = value.strip()
    return params


def verdict(w, tmpfs, daxfs, target=None):
    """(ratio or None, 'met' / 'missed' / ''); target: the ratio to reach
    instead of the workload's own (daxfs-run's)."""
    if w.limit is not None:
        if daxfs is None:
            return None, ""
        return None, "met" if daxfs < w.limit else "missed"
    ratio = ratio_of(daxfs, tmpfs)
    target = w.target if target is None else target
    if ratio is None or target is None:
        return ratio, ""
    return ratio, "met" if ratio >= target else "missed"


def ratio_of(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt(w, v):
    return "-" if v is None else UNITS[w.metric][1].format(v)


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def markdown(results, params, runs=None):
    lines = []
    if params:
        lines.append("| | |")
        lines.append("|---|---|")
        for key, value in params.items():
            lines.append(f"| {key} | {value} |")
        lines.append("")
    lines.append("| workload | unit | tmpfs | FUSE peer | daxfs-fuse | daxfs-run | daxfs/tmpfs | "
                 "daxfs/peer | target | | run/tmpfs | target | |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|")
    for w in WORKLOADS:
        if w.limit is not None:
            continue
        t, p, d, r = (results.get((w.id, fs)) for fs in FS)
        ratio, v = verdict(w, t, d)
        rratio, rv = verdict(w, t, r, w.run_target) if w.run_target else (None, "")
        lines.append(f"| {w.label} | {UNITS[w.metric][0]} | {fmt(w, t)} | {fmt(w, p)} | {fmt(w, d)} | "
                     f"{fmt(w, r)} | {fmt_ratio(ratio)} | {fmt_ratio(ratio_of(d, p))} | "
                     f"{'' if w.target is None else f'>= {w.target}x'} | {v} | "
                     f"{fmt_ratio(rratio)} | "
                     f"{'' if w.run_target is None else f'>= {w.run_target}x'} | {rv} |")
    lines.append("")
    lines.append("| daemon memory | daxfs-fuse | limit | |")
    lines.append("|---|---:|---:|---|")
    for w in WORKLOADS:
        if w.limit is None:
            continue
        d = results.get((w.id, "daxfs"))
        _, v = verdict(w, None, d)
        lines.append(f"| {w.label} | {fmt(w, d)} MiB | < {w.limit} MiB | {v} |")
    if runs:
        lines += rounds_table(runs)
    return "\n".join(lines) + "\n"


def rounds_table(runs):
    """daxfs/peer round by round, for the workloads run in more than one
    round on both: the k-th run of each is the k-th round, the two taking
    turns in it. A median of each side can land on either side of 1.0 where
    the rounds do; the rounds show whether one mount is ahead in them."""
    lines = ["", "| workload | daxfs/peer in each round | daxfs ahead |", "|---|---|---:|"]
    for w in WORKLOADS:
        p, d = runs.get((w.id, "peer"), []), runs.get((w.id, "daxfs"), [])
        if len(p) < 2 or len(p) != len(d) or 0 in p:
            continue
        ratios = [b / a for a, b in zip(p, d)]
        lines.append(f"| {w.label} | {' '.join(fmt_ratio(r) for r in ratios)} | "
                     f"{sum(r > 1 for r in ratios)} of {len(ratios)} |")
    return lines if len(lines) > 3 else []


# ---- chart ----------------------------------------------------------------
GNUPLOT = """\
set terminal pngcairo size 1400,700 font ",10"
set output '{png}'
set title "daxfs-fuse / tmpfs and / FUSE peer, daxfs-run / tmpfs on {title} (log scale; 1 = as fast; + = target against tmpfs)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.8
set logscale y
set yrange [0.01:20]
set ytics (0.01, 0.03, 0.1, 0.3, 0.5, 0.9, 1, 2, 5, 20)
set grid ytics
set xtics rotate by -40 left noenhanced
set key top right
set bmargin 11
set rmargin 12
set datafile separator "\\t"
set datafile missing "-"
plot '{dat}' using 2:xtic(1) title 'daxfs-fuse / tmpfs' linecolor rgb '#3b75af', \\
     '' using 3 title 'daxfs-fuse / FUSE peer' linecolor rgb '#e8a33c', \\
     '' using 5 title 'daxfs-run / tmpfs' linecolor rgb '#4a9a4a', \\
     '' using ($0 - 0.27):4 with points pointtype 1 pointsize 2 linewidth 2 linecolor rgb '#c03030' title 'target', \\
     1 with lines dashtype 2 linecolor rgb '#606060' notitle
"""


def chart_rows(results):
    """The chart's data: one tab-separated line per workload, its plain label
    (never an id: the chart is read by people), ratio to tmpfs, ratio to the
    peer, target, daxfs-run's ratio to tmpfs."""
    def clamp(r):
        # keep every bar inside the axis
        return "-" if r is None else f"{min(max(r, 0.0101), 19.9):.4f}"

    rows = []
    for w in WORKLOADS:
        if w.limit is not None:
            continue
        t, p, d, r = (results.get((w.id, fs)) for fs in FS)
        ratio, _ = verdict(w, t, d)
        rows.append(f"{w.short}\t{clamp(ratio)}\t{clamp(ratio_of(d, p))}\t"
                    f"{'-' if w.target is None else w.target}\t{clamp(ratio_of(r, t))}\n")
    return rows


def chart(results, params, outdir):
    dat = os.path.join(outdir, "results.dat")
    png = os.path.join(outdir, "results.png")
    with open(dat, "w") as f:
        f.writelines(chart_rows(results))
    title = params.get("CPU", "this machine").replace('"', "'")
    script = GNUPLOT.format(png=png, dat=dat, title=title)
    res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if res.returncode != 0:
        raise ReportError(f"gnuplot failed: {res.stderr.strip()}")
    os.unlink(dat)
    return png


def cmd_render(args):
    if len(args) != 3:
        raise ReportError("usage: report.py render RESULTS PARAMS OUTDIR")
    runs = read_runs(args[0])
    results = medians(runs)
    params = read_params(args[1])
    md = markdown(results, params, runs)
    with open(os.path.join(args[2], "results.md"), "w") as f:
        f.write(md)
    chart(results, params, args[2])
    sys.stdout.write(md)


def main(argv):
    commands = {"fio": cmd_fio, "value": cmd_value, "render": cmd_render}
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        commands[argv[1]](argv[2:])
    except (ReportError, OSError) as e:
        print(f"report.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

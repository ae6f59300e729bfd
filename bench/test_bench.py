"""Tests of the benchmark's helpers and report: they must count what they say
they count, fail loudly, and leave nothing behind. No timing is tested."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(os.environ.get("DAXFS_BENCH_DIR", Path(__file__).parent))
sys.path.insert(0, str(BENCH))
import report  # noqa: E402
from helpers import built, check_script_usage, run  # noqa: E402


@pytest.fixture
def meta():
    return built("DAXFS_BENCH_META")


@pytest.fixture
def memcpy():
    return built("DAXFS_BENCH_MEMCPY")


# ---- daxfs-bench-meta --------------------------------------------------------
def test_meta_ops_count_files(meta, tmp_path):
    res = run(meta, "create", tmp_path, 25)
    assert res.returncode == 0, res.stderr
    op, n, secs, rate = res.stdout.split()
    assert (op, n) == ("create", "25") and float(secs) >= 0 and float(rate) >= 0
    assert sorted(os.listdir(tmp_path)) == [f"f{i:07d}" for i in range(25)]
    for op in ("stat", "readdir", "unlink"):
        res = run(meta, op, tmp_path, 25)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split()[:2] == [op, "25"]
    assert os.listdir(tmp_path) == []


def test_meta_create_refuses_an_existing_file(meta, tmp_path):
    (tmp_path / "f0000003").touch()
    res = run(meta, "create", tmp_path, 10)
    assert res.returncode == 1
    assert f"create {tmp_path}/f0000003: File exists" in res.stderr
    assert res.stdout == ""


def test_meta_stat_fails_on_a_missing_file(meta, tmp_path):
    assert run(meta, "create", tmp_path, 3).returncode == 0
    res = run(meta, "stat", tmp_path, 4)
    assert res.returncode == 1
    assert f"stat {tmp_path}/f0000003: No such file or directory" in res.stderr


def test_meta_readdir_checks_the_entry_count(meta, tmp_path):
    assert run(meta, "create", tmp_path, 5).returncode == 0
    (tmp_path / "extra").touch()
    res = run(meta, "readdir", tmp_path, 5)
    assert res.returncode == 1
    assert "6 entries and 2 dot entries, expected 5 and 2" in res.stderr


@pytest.mark.parametrize("args, msg", [
    (["frob", ".", "1"], "unknown operation 'frob'"),
    (["create", ".", "0"], "invalid count '0'"),
    (["create", ".", "12x"], "invalid count '12x'"),
    (["create", ".", "-1"], "invalid count '-1'"),
    (["create", ".", "10000001"], "invalid count '10000001'"),
    (["create", "."], "usage:"),
])
def test_meta_usage_errors(meta, tmp_path, args, msg):
    res = run(meta, *args)
    assert res.returncode == 2
    assert msg in res.stderr
    assert os.listdir(tmp_path) == []


# ---- daxfs-bench-memcpy ------------------------------------------------------
def test_memcpy_reports_both_directions_and_removes_its_file(memcpy, tmp_path):
    path = tmp_path / "map"
    res = run(memcpy, "-b", "64K", "-j", "2", "-p", "3", path, "1M")
    assert res.returncode == 0, res.stderr
    lines = [line.split() for line in res.stdout.splitlines()]
    assert [line[0] for line in lines] == ["read", "write"]
    for op, jobs, block, nbytes, secs, mibs in lines:
        assert (jobs, block, nbytes) == ("2", str(64 << 10), str(3 << 20))
        assert float(secs) > 0 and float(mibs) > 0
    assert not path.exists()


def test_memcpy_refuses_an_existing_file(memcpy, tmp_path):
    path = tmp_path / "map"
    path.write_bytes(b"keep")
    res = run(memcpy, path, "1M")
    assert res.returncode == 1
    assert "File exists" in res.stderr
    assert path.read_bytes() == b"keep"


@pytest.mark.parametrize("args, msg", [
    (["-b", "100", "F", "1M"], "invalid block size '100'"),
    (["-j", "0", "F", "1M"], "invalid job count '0'"),
    (["-j", "65", "F", "1M"], "invalid job count '65'"),
    (["-p", "x", "F", "1M"], "invalid pass count 'x'"),
    (["F", "1T"], "invalid size '1T'"),
    (["-b", "1M", "-j", "2", "F", "1M"], "smaller than one"),
    (["F"], "usage:"),
])
def test_memcpy_usage_errors(memcpy, tmp_path, args, msg):
    args = [str(tmp_path / a) if a == "F" else a for a in args]
    res = run(memcpy, *args)
    assert res.returncode == 2
    assert msg in res.stderr
    assert os.listdir(tmp_path) == []


# ---- report.py ---------------------------------------------------------------
def fio_json(path, read_iops=0.0, write_bw=0, error=0):
    doc = {"jobs": [{
        "jobname": "x", "error": error,
        "read": {"io_bytes": 4096 if read_iops else 0, "bw_bytes": 0, "iops": read_iops},
        "write": {"io_bytes": write_bw, "bw_bytes": write_bw, "iops": 0.0},
    }]}
    path.write_text("fio: a warning before the document\n" + json.dumps(doc))
    return path


def report_cmd(*args):
    return run(sys.executable, BENCH / "report.py", *args)


def test_report_fio_takes_the_median_in_the_metrics_unit(tmp_path):
    files = [fio_json(tmp_path / f"{i}.json", read_iops=v) for i, v in enumerate((3000, 1000, 2000))]
    res = report_cmd("fio", "rr-direct-2", "daxfs", *files)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "rr-direct-2 daxfs 2\n"      # kIOPS
    res = report_cmd("fio", "seq-write", "tmpfs", fio_json(tmp_path / "w.json", write_bw=3 << 20))
    assert res.stdout == "seq-write tmpfs 3\n"         # MiB/s


def test_report_fio_rejects_a_failed_or_empty_job(tmp_path):
    res = report_cmd("fio", "rr-direct-1", "daxfs", fio_json(tmp_path / "e.json", read_iops=5, error=5))
    assert res.returncode == 1 and "failed with error 5" in res.stderr
    res = report_cmd("fio", "rr-direct-1", "daxfs", fio_json(tmp_path / "w.json", write_bw=4096))
    assert res.returncode == 1 and "did no reads" in res.stderr


@pytest.mark.parametrize("args, msg", [
    (["value", "no-such", "daxfs", "1"], "unknown workload 'no-such'"),
    (["value", "create", "ext4", "1"], "unknown filesystem 'ext4'"),
    (["value", "create", "daxfs", "nan"], "out of range"),
    (["value", "create", "daxfs", "fast"], "not a number"),
    (["fio", "create", "daxfs", "x.json"], "not a fio workload"),
])
def test_report_rejects_bad_results(args, msg):
    res = report_cmd(*args)
    assert res.returncode == 1
    assert msg in res.stderr


def test_report_value_is_the_median():
    assert report_cmd("value", "create", "tmpfs", "5", "1", "3", "100").stdout == "create tmpfs 4\n"


def row(md, label):
    return next(line for line in md.splitlines() if line.startswith(f"| {label} |"))


def test_markdown_ratios_and_targets():
    results = {("seq-write", "tmpfs"): 1000.0, ("seq-write", "peer"): 300.0, ("seq-write", "daxfs"): 600.0,
               ("seq-write", "run"): 900.0, ("sqlite", "tmpfs"): 10.0, ("sqlite", "run"): 4.0,
               ("rr-direct-2", "tmpfs"): 400.0, ("rr-direct-2", "daxfs"): 40.0,
               ("rr-cold-1", "tmpfs"): 300.0, ("rr-cold-1", "peer"): 60.0, ("rr-cold-1", "daxfs"): 30.0,
               ("create", "tmpfs"): 50.0,
               ("rss-mount", "daxfs"): 3.5, ("rss-files", "daxfs"): 200.0}
    md = report.markdown(results, {"CPU": "Test CPU"})
    assert "| CPU | Test CPU |" in md
    assert "| workload | unit | tmpfs | FUSE peer | daxfs-fuse | daxfs-run | daxfs/tmpfs | daxfs/peer | " \
        "target | | run/tmpfs | target | |" in md
    assert row(md, "sequential write, 1 MiB, psync") == \
        "| sequential write, 1 MiB, psync | MiB/s | 1000 | 300 | 600 | 900 | 0.60x | 2.00x | >= 0.5x | " \
        "met | 0.90x | >= 0.8x | met |"
    assert row(md, "random read 4 KiB O_DIRECT, 2 jobs").endswith(
        "| - | 40.0 | - | 0.10x | - | >= 0.3x | missed | - | >= 0.8x |  |")
    assert row(md, "random read 4 KiB buffered, cold, 1 job").endswith(
        "| 60.0 | 30.0 | - | 0.10x | 0.50x |  |  | - | >= 0.8x |  |")
    assert row(md, "create empty files").endswith("| 50.0 | - | - | - | - | - | >= 0.3x |  | - |  |  |")
    assert row(md, "SQLite WAL, 100k inserts in 1,000 transactions, integrity_check").endswith(
        "| 10.0 | - | - | 4.0 | - | - |  |  | 0.40x | >= 0.5x | missed |")
    assert row(md, "daemon RssAnon after mounting") == \
        "| daemon RssAnon after mounting | 3.5 MiB | < 32 MiB | met |"
    assert row(md, "daemon RssAnon after creating the files").endswith("| < 128 MiB | missed |")


def test_render_writes_markdown_and_chart(tmp_path):
    if shutil.which("gnuplot") is None:
        pytest.skip("gnuplot is not installed")
    (tmp_path / "results.tsv").write_text("# comment\nseq-read tmpfs 100\nseq-read peer 25\n"
                                          "seq-read daxfs 50\n")
    (tmp_path / "params.txt").write_text("CPU: Test CPU\n")
    res = report_cmd("render", tmp_path / "results.tsv", tmp_path / "params.txt", tmp_path)
    assert res.returncode == 0, res.stderr
    assert "| 100 | 25 | 50 | - | 0.50x | 2.00x | >= 0.5x | met | - | >= 0.8x |  |" in res.stdout
    assert (tmp_path / "results.md").read_text() == res.stdout
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["params.txt", "results.md", "results.png", "results.tsv"]


def test_chart_labels_are_plain_words_not_ids():
    results = {(w.id, fs): 1.0 for w in report.WORKLOADS for fs in report.FS}
    rows = report.chart_rows(results)
    labels = [row.split("\t")[0] for row in rows]
    assert all(row.split("\t")[1:3] == ["1.0000", "1.0000"] for row in rows)
    assert all(row.rstrip("\n").split("\t")[4] == "1.0000" for row in rows)
    assert len(labels) == len([w for w in report.WORKLOADS if w.limit is None])
    assert labels[0] == "sequential write" and "random read, cold, 1 job" in labels
    # an id such as rr-cold-1 never stands for a label (single words may be both)
    assert not {w.id for w in report.WORKLOADS if "-" in w.id} & set(labels)
    assert all(not re.search(r"\w-\w+-\d|-\d$", label) for label in labels), labels
    assert len(set(labels)) == len(labels)


def test_results_are_the_median_of_the_runs(tmp_path):
    path = tmp_path / "results.tsv"
    path.write_text("seq-read tmpfs 100\nseq-read daxfs 50\nseq-read tmpfs 300\nseq-read tmpfs 200\n")
    assert report.read_results(path) == {("seq-read", "tmpfs"): 200.0, ("seq-read", "daxfs"): 50.0}


def test_results_file_errors_name_the_line(tmp_path):
    path = tmp_path / "results.tsv"
    path.write_text("seq-read tmpfs 100\nseq-read daxfs\n")
    with pytest.raises(report.ReportError, match=r"results.tsv:2: expected 'ID FS VALUE'"):
        report.read_results(path)


def test_rounds_table_gives_daxfs_against_the_peer_in_each_round():
    runs = {("seq-reread", "peer"): [100.0, 200.0, 100.0], ("seq-reread", "daxfs"): [110.0, 180.0, 100.0],
            ("seq-write", "peer"): [100.0], ("seq-write", "daxfs"): [50.0],
            ("rr-cold-1", "peer"): [10.0, 10.0], ("rr-cold-1", "daxfs"): [20.0],
            ("create", "peer"): [10.0, 10.0], ("create", "tmpfs"): [20.0, 20.0]}
    results = {key: report.median(v) for key, v in runs.items()}
    md = report.markdown(results, {}, runs)
    assert "| workload | daxfs/peer in each round | daxfs ahead |" in md
    assert md.splitlines()[-1] == "| sequential re-read, 1 MiB, cached | 1.10x 0.90x 1.00x | 1 of 3 |"
    # one round, rounds that do not pair up, no daxfs: not in it
    assert md.count("| sequential write, 1 MiB, psync |") == 1
    assert md.count("| random read 4 KiB buffered, cold, 1 job |") == 1
    assert md.count("| create empty files |") == 1
    # nothing to pair: no table
    assert "in each round" not in report.markdown(results, {}, {("seq-write", "peer"): [1.0]})
    assert "in each round" not in report.markdown(results, {})


def test_render_keeps_the_order_of_the_rounds(tmp_path):
    (tmp_path / "results.tsv").write_text("seq-read peer 10\nseq-read daxfs 20\nseq-read daxfs 5\n"
                                          "seq-read peer 10\n")
    assert report.read_runs(tmp_path / "results.tsv") == {("seq-read", "peer"): [10.0, 10.0],
                                                          ("seq-read", "daxfs"): [20.0, 5.0]}
    md = report.markdown(report.read_results(tmp_path / "results.tsv"), {},
                         report.read_runs(tmp_path / "results.tsv"))
    assert md.splitlines()[-1] == "| sequential read, 1 MiB, cold cache | 2.00x 0.50x | 1 of 2 |"


# ---- run.sh ------------------------------------------------------------------
def test_run_sh_records_every_workload_of_the_catalogue():
    """A workload in the report that run.sh never measures would show as '-'
    forever; one run.sh measures but the report lacks would abort the run."""
    text = (BENCH / "run.sh").read_text()
    recorded = set()
    for m in re.finditer(r'(?:fio_run|meta_record) "?([a-z0-9-]+?)(-\$j)?"? ', text):
        if m.group(2):
            recorded |= {f"{m.group(1)}-1", f"{m.group(1)}-2"}
        else:
            recorded.add(m.group(1))
    for m in re.finditer(r'timed_jobs ([a-z0-9-]+) ', text):    # one job and two
        recorded |= {f"{m.group(1)}-1", f"{m.group(1)}-2"}
    for m in re.finditer(r'stat_cold ([a-z0-9-]+) ', text):     # passes after drops
        recorded.add(m.group(1))
    for m in re.finditer(r'\{ app ([a-z0-9-]+) ', text):        # runs of bench/apps.py
        recorded.add(m.group(1))
    assert recorded == {w.id for w in report.WORKLOADS}


def test_run_sh_usage():
    check_script_usage("run.sh", "usage: bash bench/run.sh [--quick] [--out DIR] [--only GROUP,...]")
    res = run("bash", BENCH / "run.sh", "--only", "seq,frob")
    assert res.returncode == 1
    assert "--only: unknown group 'frob' (groups: memory, seq, random, mmap, apps, meta)" in res.stderr
    res = run("bash", BENCH / "run.sh", "--only")
    assert res.returncode == 1 and "--only needs a comma-separated list of: memory," in res.stderr


def test_only_is_refused_by_a_script_without_groups():
    res = run("bash", BENCH / "caching.sh", "--only", "seq")
    assert res.returncode == 1 and "--only: bench/caching.sh has no groups of workloads" in res.stderr


# ---- readin.py ---------------------------------------------------------------
def test_readin_reads_the_files_whole_a_chunk_of_each_in_turn(tmp_path):
    import readin
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a" * 10)
    b.write_bytes(b"b" * 25)
    reads = []

    def pread(fd, n, off):
        data = os.pread(fd, n, off)
        reads.append((os.readlink(f"/proc/self/fd/{fd}")[-1], off, len(data)))
        return data

    assert readin.read_in([a, b], pread=pread, chunk=8) == [10, 25]
    assert reads == [("a", 0, 8), ("b", 0, 8), ("a", 8, 2), ("b", 8, 8),
                     ("a", 10, 0), ("b", 16, 8), ("b", 24, 1), ("b", 25, 0)]


def test_readin_names_the_file_it_cannot_read(tmp_path):
    (tmp_path / "a").write_bytes(b"x")
    res = run(sys.executable, BENCH / "readin.py", tmp_path / "a", tmp_path / "missing")
    assert res.returncode == 1
    assert f"{tmp_path / 'missing'}: No such file or directory" in res.stderr
    res = run(sys.executable, BENCH / "readin.py", tmp_path)
    assert res.returncode == 1 and f"{tmp_path}: Is a directory" in res.stderr
    res = run(sys.executable, BENCH / "readin.py")
    assert res.returncode == 2 and "usage: readin.py FILE..." in res.stderr

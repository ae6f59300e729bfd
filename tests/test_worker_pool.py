"""The daemon's worker threads: a few kept hot (-o max_idle_threads, default one per CPU), one more
started by a watchdog only when every worker has been busy for a while (a request that waits for
another request must not starve it), never more than -o max_threads, and the extra ones retire once
the wait is over. Writers held at a frozen filesystem are the waiting requests here."""
import json
import os
import re
import time

import pytest

from faults import (CHILD_WAIT, child, ctl, ctl_json, finish_child, mounted_for_faults, start_child,
                    wait_for_waiters, write_synced)
from mount import PAGE, daxfs_factory, wait_until  # noqa: F401  (fixture)
from run_util import py_start
from test_fault_lockfs import O_DIRECT_READ, WRITER

KEPT = "k" * PAGE


def threads(d):
    return len(os.listdir(f"/proc/{d.proc.pid}/task"))


@pytest.fixture
def frozen_pool(daxfs_factory, request):
    """A daxfs mounted with the pool options of the test's parameter, with
    a synced file `kept` and files w0, w1, w2 for writers to wait on (a
    create would hold the directory's lock in the kernel while it waits,
    and hold the next create there instead of in a worker)."""
    d = mounted_for_faults(daxfs_factory, *request.param)
    write_synced(d.mnt / "kept", KEPT.encode())
    for i in range(3):
        write_synced(d.mnt / f"w{i}", b"")
    yield d
    ctl("resume", d.mnt, check=False)


@pytest.mark.parametrize("frozen_pool", [("max_idle_threads=1", "max_threads=4")],
                         indirect=True)
def test_requests_are_answered_while_every_hot_worker_waits(frozen_pool):
    d = frozen_pool
    idle = threads(d)
    ctl("suspend", d.mnt)
    writers = [start_child(WRITER, d.mnt / f"w{i}") for i in range(2)]
    try:
        # one hot worker: the second writer is read only by a worker the
        # watchdog started
        wait_for_waiters(d, 2)
        # and a third request, which no cache answers, is served too
        r = child(O_DIRECT_READ, d.mnt / "kept", PAGE)    # times out (fails) if starved
        assert (r.returncode, r.stdout) == (0, KEPT)
        assert threads(d) > idle
        # as daxfs-ctl workers tells it
        st = ctl_json("workers", d.mnt)
        assert (st["waiting"], st["hot"], st["max"]) == (2, 1, 4)
        assert st["workers"] > st["hot"] and st["all_busy"] > 0
    finally:
        ctl("resume", d.mnt)
    assert [finish_child(w) for w in writers] == [(0, "done\n")] * 2
    for i in range(2):
        assert (d.mnt / f"w{i}").read_bytes() == b"written while suspended"

    # the extra workers retire once requests find the others idle again
    def back():
        os.stat(d.mnt / "kept")
        return threads(d) == idle
    wait_until(back, CHILD_WAIT, f"the daemon back at {idle} threads")


@pytest.mark.parametrize("frozen_pool", [("max_threads=1",)], indirect=True)
def test_writers_waiting_at_a_frozen_filesystem_leave_room_for_the_resume(frozen_pool):
    """A worker that waits for a thaw is not counted against max_threads:
    more writers than that wait, and the resume (a request too) gets in."""
    d = frozen_pool
    ctl("suspend", d.mnt)
    writers = [start_child(WRITER, d.mnt / f"w{i}") for i in range(3)]
    try:
        wait_for_waiters(d, 3)
        r = child(O_DIRECT_READ, d.mnt / "kept", PAGE)
        assert (r.returncode, r.stdout) == (0, KEPT)
    finally:
        ctl("resume", d.mnt)
    assert [finish_child(w) for w in writers] == [(0, "done\n")] * 3


HOLDER = """
    import os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"k" * 5000)
    print("ready", flush=True)
    sys.stdin.readline()
"""

STAT = """
    import os, sys
    os.stat(sys.argv[1])
    print("done")
"""


def test_folds_held_at_a_frozen_filesystem_leave_room_for_the_resume(daxfs_factory):
    """A stat takes a daxfs-run writer's pending size into the file first,
    which commits: at a frozen filesystem that waits at the gate. It must
    wait there holding neither the daxfs-run table's lock nor the inode's,
    or every other request of the file waits for those, in workers that do
    not count as waiting, until max_threads of them leave none for the
    resume (a mount that hung for good under reloads and suspends)."""
    d = mounted_for_faults(daxfs_factory, "max_threads=2")
    p = d.mnt / "f"
    w = py_start(HOLDER, p, debug=False, stderr=False)
    try:
        assert w.stdout.readline() == "ready\n"
        ctl("suspend", d.mnt)
        stats = [start_child(STAT, p) for _ in range(4)]
        try:
            wait_for_waiters(d, 4)                    # all at the gate, none behind a lock
        finally:
            ctl("resume", d.mnt)
        assert [finish_child(s) for s in stats] == [(0, "done\n")] * 4
    finally:
        w.kill()
        w.wait()
    assert p.read_bytes() == b"k" * 5000


def running_threads(d):
    """How many of the daemon's threads are running or ready to run (a
    worker in read(2) of /dev/fuse sleeps)."""
    n = 0
    for tid in os.listdir(f"/proc/{d.proc.pid}/task"):
        try:
            with open(f"/proc/{d.proc.pid}/task/{tid}/stat") as f:
                n += f.read().rsplit(")", 1)[1].split()[0] == "R"
        except FileNotFoundError:
            pass
    return n


def awake_after_one_request(d, pause, samples=25):
    """Of `samples` looks 20 ms apart (half a second) right after a STATFS
    (a request no cache answers) that follows a pause of `pause` seconds, how
    many found a daemon thread awake."""
    time.sleep(pause)
    os.statvfs(d.mnt)
    time.sleep(0.05)
    awake = 0
    for _ in range(samples):
        awake += running_threads(d) > 0
        time.sleep(0.02)
    return awake


@pytest.mark.parametrize("opts, looks", [(("poll_us=1000000",), True), (("poll_us=0",), False),
                                         ((), False)], ids=["1s", "never", "default"])
def test_a_worker_that_replied_looks_for_the_next_request_for_poll_us_only(daxfs_factory, opts,
                                                                         looks):
    """After a reply, with nothing else in service, one worker looks for the
    next request (yielding to whatever else wants its CPU), then sleeps in
    read(2). The look starts at poll_us and follows the gaps between requests:
    with a second, a pause of 0.9 s before the STATFS is within it, and the
    look after the STATFS lasts a second (awake all the while); the default
    (200 us) and 0 leave an idle daemon asleep, 1.2 s after mounting (the
    mount's own work is over by then)."""
    d = mounted_for_faults(daxfs_factory, *opts)
    awake = awake_after_one_request(d, pause=0.9 if looks else 1.2)
    if looks:
        assert awake == 25, f"a worker awake at {awake} of 25 looks in the second after a reply"
    else:
        assert awake <= 3, f"a thread awake at {awake} of 25 looks at an idle daemon"


# ---- daxfs-ctl workers ---------------------------------------------------------

def statfs_requests(d, n):
    """n STATFS requests, back to back: no cache answers statvfs(2)."""
    for _ in range(n):
        os.statvfs(d.mnt)


def test_workers_shows_the_pool_as_configured_and_counts_each_request(daxfs_factory):
    d = mounted_for_faults(daxfs_factory, "max_idle_threads=1", "max_threads=4", "poll_us=300")
    before = ctl_json("workers", d.mnt)
    assert before["single_thread"] is False
    assert (before["hot"], before["max"], before["poll_us"]) == (1, 4, 300)
    assert before["stall_us"] > 0 and 1 <= before["workers"] <= 4
    assert before["idle"] + before["waiting"] < before["workers"]    # one answers this
    statfs_requests(d, 50)
    after = ctl_json("workers", d.mnt)
    # the 50 STATFS, and around them the two commands' opens, ioctl and release
    assert 50 < after["requests"] - before["requests"] <= 60


@pytest.mark.parametrize("poll_us", [0, 1000000])
def test_workers_counts_the_looks_for_the_next_request(daxfs_factory, poll_us):
    """One worker (max_threads=1), so that the pool is idle after each reply:
    with two, the other worker may have taken the next request before the
    one that replied sees the pool idle, and then none needs to look."""
    d = mounted_for_faults(daxfs_factory, "max_threads=1", f"poll_us={poll_us}")
    statfs_requests(d, 50)
    st = ctl_json("workers", d.mnt)
    assert st["workers"] == 1
    if poll_us == 0:
        assert (st["looks"], st["looks_found"], st["look_us"], st["looking"]) == (0, 0, 0, False)
    else:
        # a look after each reply, and each STATFS but maybe the first came
        # within one; a look that never outlasts its gap keeps its length
        assert st["looks"] >= 50 and st["looks"] >= st["looks_found"] >= 49, json.dumps(st)
        assert st["look_us"] == poll_us


def test_workers_text_says_what_its_json_does(daxfs_factory):
    d = mounted_for_faults(daxfs_factory, "max_idle_threads=1", "max_threads=4", "poll_us=0")
    out = ctl("workers", d.mnt).stdout
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert list(lines) == ["Workers", "Kept, at most", "Requests", "All busy", "Looks",
                           "Next look"]
    assert re.fullmatch(r" +[1-4] \(0 idle, 0 in a wait another request ends\)", lines["Workers"])
    assert re.fullmatch(r" +1, 4 \(one more after \d+ us with all busy\)", lines["Kept, at most"])
    assert int(lines["Requests"]) > 0
    assert lines["Looks"].strip() == "0 after a reply, 0 found the next request (0%)"
    assert lines["Next look"].strip() == "0 us (poll_us 0)"


def test_workers_of_a_single_threaded_daemon_says_it_has_none(daxfs_factory):
    d = daxfs_factory()
    d.daemon_flags = ("-f", "-s")
    d.mkfs()
    d.mount()
    assert ctl_json("workers", d.mnt) == {"single_thread": True}
    assert ctl("workers", d.mnt).stdout == \
        "Workers:           none: the main thread serves every request (-s)\n"

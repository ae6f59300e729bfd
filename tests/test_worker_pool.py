"""The daemon's worker threads: a few kept hot (-o max_idle_threads, default one per CPU), one more
started by a watchdog only when every worker has been busy for a while (a request that waits for
another request must not starve it), never more than -o max_threads, and the extra ones retire once
the wait is over. Writers held at a frozen filesystem are the waiting requests here."""
import os
import time

import pytest

from faults import (CHILD_WAIT, child, ctl, finish_child, mounted_for_faults, start_child, wait_for_waiters,
                    write_synced)
from mount import PAGE, daxfs_factory, wait_until  # noqa: F401  (fixture)
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

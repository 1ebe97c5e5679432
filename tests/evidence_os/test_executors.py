"""The per-family pools: bounded, daemon workers, nothing lost, nothing kept at exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest

from diagnostics.evidence.executors import DaemonPool, Family, FamilyPools


def test_never_more_workers_than_the_bound() -> None:
    """Six blocked jobs on a pool of two: two run, four wait; all finish once released."""
    pool = DaemonPool(2, "t")
    release = threading.Event()
    running: set[str] = set()
    lock = threading.Lock()
    peak = 0

    def job() -> str:
        nonlocal peak
        name = threading.current_thread().name
        with lock:
            running.add(name)
            peak = max(peak, len(running))
        release.wait(10)
        with lock:
            running.discard(name)
        return name

    futures = [pool.submit(job) for _ in range(6)]
    release.set()
    names = {f.result(timeout=10) for f in futures}
    assert peak <= 2
    assert len(names) <= 2
    pool.shutdown()


def test_workers_are_daemon_threads() -> None:
    """A worker stuck in a call never keeps the interpreter alive."""
    pool = DaemonPool(1, "t")
    assert pool.submit(lambda: threading.current_thread().daemon).result(timeout=10)
    pool.shutdown()


def test_an_exception_reaches_the_caller() -> None:
    """A failing call is handed to its waiter, and the worker keeps serving."""
    pool = DaemonPool(1, "t")
    with pytest.raises(KeyError):
        pool.submit(lambda: {}["x"]).result(timeout=10)
    assert pool.submit(lambda: 7).result(timeout=10) == 7
    pool.shutdown()


def test_shutdown_cancels_queued_jobs_and_refuses_new_ones() -> None:
    """cancel_futures drops what has not started; a closed pool takes nothing more."""
    pool = DaemonPool(1, "t")
    release = threading.Event()
    busy = pool.submit(release.wait, 10)
    queued = pool.submit(lambda: "late")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    release.set()
    assert busy.result(timeout=10) is True


async def test_family_pools_carry_context_and_are_separate() -> None:
    """Each family its own pool; the caller's context variables reach the worker."""
    pools = FamilyPools({Family.NOVA: 1, Family.PLACEMENT: 1})
    release = threading.Event()
    try:
        stuck = asyncio.ensure_future(
            pools.run(Family.PLACEMENT, lambda: release.wait(10))
        )
        # Placement's only worker is taken; Nova still answers at once
        name = await asyncio.wait_for(
            pools.run(Family.NOVA, lambda: threading.current_thread().name), 10
        )
        assert name.startswith("nova")
        release.set()
        assert await stuck is True
    finally:
        release.set()
        pools.close()


def test_a_process_with_a_stuck_worker_exits() -> None:
    """The interpreter exits at once although a worker is blocked for a minute."""
    code = (
        "import threading\n"
        "from diagnostics.evidence.executors import DaemonPool\n"
        "pool = DaemonPool(1, 'stuck')\n"
        "pool.submit(threading.Event().wait, 60)\n"
        "print('done', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"

"""One bounded pool of daemon worker threads per evidence family.

Every blocking library (openstacksdk, kubernetes, paramiko) runs off the event loop. If all
of them shared asyncio's default executor, a hung Kubernetes API would hold its threads
for the client's own timeouts and healthy Placement calls would queue behind it and "time
out" too. So each family gets its own pool: a hung service can exhaust only its own
workers, and its bound also caps how hard one diagnosis (or a bot running many) hits
that service.

The workers are daemon threads. A call abandoned by its caller's timeout keeps its worker
until the library gives up, but never delays interpreter exit: the CLI exits as soon as
its result is printed. (``ThreadPoolExecutor`` joins its workers at exit whatever
``shutdown`` is told, which is why it is not used here.)
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Family(StrEnum):
    """The evidence families; each gets its own pool."""

    NOVA = "nova"
    PLACEMENT = "placement"
    NEUTRON = "neutron"
    CINDER = "cinder"
    KUBERNETES = "kubernetes"
    SSH = "ssh"


_Job = tuple[Future[Any], Callable[[], Any]]


class DaemonPool(Executor):
    """At most ``max_workers`` daemon threads, started on demand, fed from one queue."""

    def __init__(self, max_workers: int, name: str) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot submit after shutdown")
            self._jobs.put((future, lambda: fn(*args, **kwargs)))
            # an idle worker takes the job; else a new one if the bound allows; else it
            # waits in the queue for the first worker to finish
            if self._idle > 0:
                self._idle -= 1
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self.name}-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            if future.set_running_or_notify_cancel():
                try:
                    result = call()
                except BaseException as exc:  # handed to the waiter, never lost
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del job, future, call
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; ``cancel_futures`` drops queued jobs. Busy workers finish
        their current job (or are abandoned at exit: they are daemon threads)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()


class FamilyPools:
    """The pools of one process (or one ``Clients``), created on first use."""

    def __init__(self, limits: dict[Family, int]) -> None:
        self._limits = dict(limits)
        self._pools: dict[Family, DaemonPool] = {}
        self._lock = threading.Lock()

    def pool(self, family: Family) -> DaemonPool:
        with self._lock:
            pool = self._pools.get(family)
            if pool is None:
                pool = DaemonPool(self._limits.get(family, 4), f"{family.value}-worker")
                self._pools[family] = pool
            return pool

    async def run(self, family: Family, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the family's pool with the caller's context variables."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool(family), context.run, fn)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)

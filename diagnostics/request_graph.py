"""The request graph of one diagnosis: every request, when it ran, and which answers it needed.

A diagnosis is as fast as its longest chain of requests that each needed an earlier answer
(the *dependency bound*): the token before the server, the server before its migrations,
the migration's hosts before their resource providers. Recording the graph makes the gap
between that bound and the real span visible (``--verbose``, the JSON ``timing``) and
measurable (``bench/``).

Dependencies are declared, never inferred from timing: work runs in a named *stage* that
names the stages whose answers it needs (``stage("placement", after=("server",
"migrations"))``), and a request that needs the answer of a specific earlier request in
its stage says so (``OpenStackApi.call(..., after=calls)``). Requests made one after
another inside one blocking library call (token, version discovery, the request) each
depend on the one before. The recorder is per diagnosis, reached through a context
variable, so concurrent diagnoses in one process never mix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

OPENSTACK_FAMILIES = frozenset({"keystone", "nova", "placement", "neutron", "cinder"})
FAMILIES = OPENSTACK_FAMILIES | {"kubernetes", "ssh"}  # as in the JSON schema

# The bootstrap's stages (collectors run in a stage named after their evidence type).
SERVER = "server"  # find the VM
MIGRATIONS = "migrations"  # its migration records (need the server's id)
ACTIONS = "actions"  # its instance actions (need the server's id)
ACTION = "action"  # the migration's action with events (needs both lists)
DISCOVERY = "discovery"  # the services' version documents (need only the token)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One request (an HTTP exchange, or one remote command) of a diagnosis."""

    id: int
    family: str  # keystone, nova, placement, neutron, cinder, kubernetes, ssh
    what: str  # "GET /servers/…" as cited, without the query's noise
    stage: str  # the engine's stage it ran in ("server", "migrations", "Placement", …)
    start_ms: float  # from the start of the diagnosis
    end_ms: float
    depends_on: tuple[int, ...]
    status: int | None = None

    @property
    def duration_ms(self) -> float:
        return max(0.0, self.end_ms - self.start_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The request graph of a diagnosis and what it says about speed."""

    requests: tuple[RequestRecord, ...] = ()

    def of(self, families: Iterable[str]) -> tuple[RequestRecord, ...]:
        wanted = frozenset(families)
        return tuple(r for r in self.requests if r.family in wanted)

    def span_ms(self, families: Iterable[str] = OPENSTACK_FAMILIES) -> float:
        """From the first request's start to the last one's end."""
        chosen = self.of(families)
        if not chosen:
            return 0.0
        return max(r.end_ms for r in chosen) - min(r.start_ms for r in chosen)

    def critical_path(
        self, families: Iterable[str] = OPENSTACK_FAMILIES
    ) -> tuple[RequestRecord, ...]:
        """The longest chain (by summed duration) along declared dependencies."""
        chosen = {r.id: r for r in self.of(families)}
        best: dict[int, tuple[float, int | None]] = {}
        for rid in sorted(chosen):  # ids grow with recording order: parents first
            record = chosen[rid]
            parents = [p for p in record.depends_on if p in best]
            parent = max(parents, key=lambda p: best[p][0], default=None)
            before = best[parent][0] if parent is not None else 0.0
            best[rid] = (before + record.duration_ms, parent)
        if not best:
            return ()
        node: int | None = max(best, key=lambda k: best[k][0])
        chain: list[RequestRecord] = []
        while node is not None:
            chain.append(chosen[node])
            node = best[node][1]
        return tuple(reversed(chain))

    def bound_ms(self, families: Iterable[str] = OPENSTACK_FAMILIES) -> float:
        """The dependency bound: the summed durations of the critical path."""
        return sum(r.duration_ms for r in self.critical_path(families))


@dataclass(frozen=True, slots=True)
class _Stage:
    name: str
    after: tuple[str, ...]


class RequestGraph:
    """Collects the requests of one diagnosis; thread-safe (workers record into it)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._by_stage: dict[str, list[int]] = {}

    def elapsed_ms(self, at: float | None = None) -> float:
        return ((time.perf_counter() if at is None else at) - self._t0) * 1000

    def stage_ids(self, names: Iterable[str]) -> tuple[int, ...]:
        with self._lock:
            return tuple(i for n in names for i in self._by_stage.get(n, ()))

    def add(
        self,
        *,
        family: str,
        what: str,
        stage: str,
        start: float,
        end: float,
        depends_on: Sequence[int],
        status: int | None = None,
    ) -> int:
        """Record one request (``start``/``end`` are ``time.perf_counter()`` readings)."""
        with self._lock:
            rid = len(self._records) + 1
            self._records.append(
                RequestRecord(
                    id=rid,
                    family=family,
                    what=what,
                    stage=stage,
                    start_ms=round(self.elapsed_ms(start), 1),
                    end_ms=round(self.elapsed_ms(end), 1),
                    depends_on=tuple(sorted(set(depends_on))),
                    status=status,
                )
            )
            self._by_stage.setdefault(stage, []).append(rid)
            return rid

    def timing(self) -> Timing:
        with self._lock:
            return Timing(requests=tuple(self._records))


_GRAPH: ContextVar[RequestGraph | None] = ContextVar("request_graph", default=None)
_STAGE: ContextVar[_Stage | None] = ContextVar("request_stage", default=None)


@contextmanager
def recording(graph: RequestGraph) -> Iterator[RequestGraph]:
    """Make ``graph`` the current diagnosis' recorder (inherited by tasks made inside)."""
    token = _GRAPH.set(graph)
    try:
        yield graph
    finally:
        _GRAPH.reset(token)


@contextmanager
def stage(name: str, after: Sequence[str] = ()) -> Iterator[None]:
    """Requests made inside (and in tasks created inside) belong to stage ``name`` and
    need the answers of the stages ``after``."""
    token = _STAGE.set(_Stage(name, tuple(after)))
    try:
        yield
    finally:
        _STAGE.reset(token)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request being made stands in the graph: recorder, stage, prerequisites."""

    graph: RequestGraph | None
    stage: str
    depends_on: tuple[int, ...]

    def record(
        self,
        *,
        family: str,
        what: str,
        start: float,
        end: float,
        depends_on: Sequence[int] | None = None,
        status: int | None = None,
    ) -> int | None:
        if self.graph is None:
            return None
        return self.graph.add(
            family=family,
            what=what,
            stage=self.stage,
            start=start,
            end=end,
            depends_on=self.depends_on if depends_on is None else depends_on,
            status=status,
        )


def timed(family: str, what: str, fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` recorded as one request of ``family`` when it runs (in any thread).

    Call it where the work is issued (the task's stage is read here), run the result in
    the worker: a remote command or a Kubernetes call becomes a node of the graph.
    """
    here = origin()

    def run() -> T:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            here.record(family=family, what=what, start=start, end=time.perf_counter())

    return run


def origin(after: Iterable[int | None] = ()) -> Origin:
    """The current position: explicit ``after`` request ids, else the stage's prerequisites."""
    graph = _GRAPH.get()
    current = _STAGE.get() or _Stage("", ())
    explicit = tuple(i for i in after if i is not None)
    if graph is None:
        return Origin(None, current.name, ())
    deps = explicit or graph.stage_ids(current.after)
    return Origin(graph, current.name, deps)

"""The collector contract: ``async def collect(ctx) -> Evidence | Unavailable``.

Collectors are registered per evidence type with ``@collector(EvidenceType)``. The engine
collects the union of what the applicable checks need, concurrently, each bounded by a
timeout. A collector returns ``Unavailable`` (or raises ``CollectorError``) instead of
letting library exceptions into the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from diagnostics.evidence.redact import redact
from diagnostics.evidence.types import (
    Evidence,
    InstanceActions,
    MigrationRecords,
    Server,
    Unavailable,
)
from diagnostics.model import DiagnosticsError, MigrationRef, MigrationSummary


class CollectorError(DiagnosticsError):
    """Internal: raised inside a collector, converted to ``Unavailable`` by the engine."""

    def __init__(self, reason: str, detail: str = "") -> None:
        # redacted at once: the text may come from a server and is logged as well as shown
        reason, detail = redact(reason), redact(detail)
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectContext:
    """What a collector knows when it runs: the resolved VM and the migration in question.

    ``clients`` holds the live connections (OpenStack, SSH pool, Kubernetes); its concrete
    type belongs to the evidence package (``diagnostics.evidence.clients.Clients``).
    """

    ref: MigrationRef
    server: Server
    migrations: MigrationRecords | None
    actions: InstanceActions | None
    migration: MigrationSummary | None
    source_host: str | None
    dest_host: (
        str | None
    )  # the target host when asked (--target-host), else the migration's
    window: tuple[datetime, datetime] | None  # failed action's time window, with margin
    self_hosted: bool
    clients: Any
    # per-diagnosis results shared between collectors (see ``once``)
    shared: dict[str, asyncio.Future[Any]] = field(
        default_factory=dict, compare=False, repr=False
    )


E = TypeVar("E", bound=Evidence)
T = TypeVar("T")


async def once(ctx: CollectContext, key: str, make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make`` once per diagnosis for ``key``; every caller awaits the same result.

    For lookups several collectors need (the storage nodes of the VM's volumes), so each
    is made once. A caller that is cancelled (its collector timed out) leaves the shared
    work running for the others.
    """
    future = ctx.shared.get(key)
    if future is None:
        future = asyncio.ensure_future(make())
        ctx.shared[key] = future
    result: T = await asyncio.shield(future)
    return result


Collector = Callable[[CollectContext], Awaitable[Evidence | Unavailable]]

_COLLECTORS: dict[type[Evidence], Collector] = {}
_ACTION_FREE: set[Collector] = set()


def collector(
    evidence: type[E], *, needs_action: bool = True
) -> Callable[[Callable[[CollectContext], Awaitable[E | Unavailable]]], Collector]:
    """Register the collector of one evidence type.

    ``needs_action=False`` declares that the collector reads only the server and the
    migration record from its context, never the matched instance action (its request
    id, its time window), so it need not wait for the action to be fetched.
    """

    def register(
        fn: Callable[[CollectContext], Awaitable[E | Unavailable]],
    ) -> Collector:
        _COLLECTORS[evidence] = fn
        if not needs_action:
            action_free(fn)
        return fn

    return register


def action_free(fn: Collector) -> Collector:
    """Declare that ``fn`` never reads the instance action from its context."""
    _ACTION_FREE.add(fn)
    return fn


def needs_action(fn: Collector) -> bool:
    """Does this collector read the instance action from its context? (Unknown: yes.)"""
    return fn not in _ACTION_FREE


def registered_collectors() -> dict[type[Evidence], Collector]:
    """Every collector registered so far, by evidence type.

    This contract never imports the collectors (they import it): the composition root,
    ``diagnostics.plugins``, imports the bundled ones and asks here.
    """
    return dict(_COLLECTORS)


class Bootstrap(Protocol):
    """The first calls of every diagnosis, before the engine knows the migration.

    Implemented over openstacksdk by ``diagnostics.evidence.openstack_api``.
    """

    async def resolve_server(self, ref: MigrationRef) -> Server:
        """Find the VM by uuid or exact name. Raises VmNotFound, AmbiguousVm, CloudUnreachable."""
        ...

    async def migration_records(self, server: Server) -> MigrationRecords | Unavailable:
        """All migration records of the VM, newest first."""
        ...

    async def instance_actions(
        self,
        server: Server,
        migration: MigrationSummary | Awaitable[MigrationSummary | None] | None,
    ) -> InstanceActions | Unavailable:
        """The action list; the action matched to ``migration`` fetched with its events.

        ``migration`` may be pending: the list is fetched before it is awaited.
        """
        ...

"""The engine issues work as soon as what it depends on is known (order, not timing)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable

from diagnostics import remedies
from diagnostics.engine import Engine
from diagnostics.evidence import types as ev
from diagnostics.evidence.base import CollectContext, action_free
from diagnostics.evidence.types import Evidence
from diagnostics.model import (
    MigrationKind,
    MigrationRef,
    MigrationSummary,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import declare
from diagnostics.settings import DiagnosticsSettings
from tests.engine.builders import actions, cpu, records, server

# A bound on how long a fake waits for the other side before it declares the order
# wrong: only reached when the engine serialises what it should overlap.
PATIENCE_S = 5.0


class OrderedBootstrap:
    """A bootstrap whose calls each wait until the engine has issued what may overlap."""

    def __init__(self) -> None:
        self.actions_listed = asyncio.Event()
        self.early_collector_started = asyncio.Event()

    async def resolve_server(self, ref: MigrationRef) -> ev.Server:
        return server()

    async def migration_records(self, srv: ev.Server) -> ev.MigrationRecords:
        # the action list needs only the server too: it must be on its way already
        async with asyncio.timeout(PATIENCE_S):
            await self.actions_listed.wait()
        return records()

    async def instance_actions(
        self,
        srv: ev.Server,
        migration: MigrationSummary | Awaitable[MigrationSummary | None] | None,
    ) -> ev.InstanceActions:
        self.actions_listed.set()  # "the list is in"
        if inspect.isawaitable(migration):
            migration = await migration
        assert migration is not None
        # a collector that never reads the action must not wait for its detail
        async with asyncio.timeout(PATIENCE_S):
            await self.early_collector_started.wait()
        return actions()


def _check(dest: ev.DestCpu, services: ev.ComputeServices) -> RuledOut:
    """Rules out (needs one action-free and one action-reading collector)."""
    return RuledOut(reason="fine")


async def test_lists_overlap_and_action_free_collectors_start_before_the_action() -> (
    None
):
    """Migrations and actions lists are asked together; an action-free collector starts
    while the matched action is still being fetched; the other waits for it."""
    bootstrap = OrderedBootstrap()
    seen: dict[str, CollectContext] = {}

    @action_free
    async def services(ctx: CollectContext) -> Evidence:
        seen["services"] = ctx
        bootstrap.early_collector_started.set()
        return ev.ComputeServices(provenance="GET /os-services", services=())

    async def dest_cpu(ctx: CollectContext) -> Evidence:
        seen["cpu"] = ctx
        return cpu(ev.DestCpu)

    spec = declare(
        _check,
        id="t.order",
        title="order",
        applies_to=set(MigrationKind),
        root_cause=RootCauseId.CPU_INCOMPATIBLE,
        priority=1,
        step=5,
        summary="s",
        remediation=(remedies.check(remedies.CLI, "openstack server list", "r."),),
    )
    engine = Engine(
        settings=DiagnosticsSettings(),
        bootstrap=bootstrap,
        clients=None,
        collectors={ev.ComputeServices: services, ev.DestCpu: dest_cpu},
        checks=[spec],
    )
    diagnosis = await engine.diagnose(MigrationRef(server="web-01"))
    assert [c.outcome for c in diagnosis.checks] == [RuledOut(reason="fine")]
    # both lists arrived (neither side gave up waiting for the other)
    assert diagnosis.migration is not None
    assert diagnosis.migration.request_id is not None
    assert seen["services"].actions is None  # started before the action was in
    assert seen["cpu"].actions is not None  # waited for it
    assert seen["cpu"].window is not None

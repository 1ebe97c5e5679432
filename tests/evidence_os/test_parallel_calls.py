"""Requests that need no answer from each other are in flight together (real HTTP, sim).

Each test makes the calls that should overlap wait for one another at a barrier: if the
code issued them one after another, the first would wait alone until the barrier broke
and the evidence would come back Unavailable. Nothing here measures time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diagnostics.evidence import openstack_collectors as oc
from diagnostics.evidence.types import MigrationRecords, Placement
from diagnostics.model import MigrationRef
from diagnostics.request_graph import RequestGraph, recording
from tests.evidence_os.test_openstack_api import connected, context

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
PATIENCE_S = 10.0  # only reached when the calls were not issued together


class Barriers:
    """One barrier per group of calls that must meet; created on first arrival."""

    def __init__(self, parties: Callable[[str], int]) -> None:
        self._parties = parties
        self._barriers: dict[str, threading.Barrier] = {}
        self._lock = threading.Lock()
        self.met: list[str] = []

    def meet(self, group: str) -> None:
        with self._lock:
            barrier = self._barriers.setdefault(
                group, threading.Barrier(self._parties(group), timeout=PATIENCE_S)
            )
        barrier.wait()
        with self._lock:
            self.met.append(group)


async def test_placement_asks_every_host_and_every_provider_part_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All provider lookups and allocations together; then each provider's inventories,
    usages, traits and aggregates together."""
    async with connected(tmp_path) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        records = await api.migration_records(server)
        assert isinstance(records, MigrationRecords)
        ctx = context(api, server, records)
        consumers = 1 + int(bool(ctx.migration and ctx.migration.uuid))
        first_wave = len(oc._provider_names(ctx)) + consumers
        barriers = Barriers(lambda g: first_wave if g == "lookup" else 4)
        real = oc._placement_get

        def meeting(api_: Any, url: str, params: dict[str, str] | None = None) -> Any:
            parts = url.split("/")
            group = (
                "lookup" if len(parts) <= 3 or parts[1] == "allocations" else parts[2]
            )
            barriers.meet(group)
            return real(api_, url, params)

        monkeypatch.setattr(oc, "_placement_get", meeting)
        placement = await oc.collect_placement(ctx)
    assert isinstance(placement, Placement), placement
    assert {"cmp-a-01", "cmp-a-03"} <= set(placement.providers)
    assert barriers.met.count("lookup") == first_wave
    assert len(barriers.met) == first_wave + 4 * len(placement.providers)


async def test_provider_reads_depend_on_their_lookup_only(tmp_path: Path) -> None:
    """The graph says each provider read waited on its own lookup, not on each other."""
    graph = RequestGraph()
    async with connected(tmp_path) as (_, api):
        server = await api.resolve_server(MigrationRef(server="web-01"))
        records = await api.migration_records(server)
        assert isinstance(records, MigrationRecords)
        with recording(graph):
            placement = await oc.collect_placement(context(api, server, records))
    assert isinstance(placement, Placement)
    requests = graph.timing().requests
    lookups = {r.id: r for r in requests if "resource_providers?name=" in r.what}
    reads = [
        r
        for r in requests
        if r.what.count("/") >= 4 and "/resource_providers/" in r.what
    ]
    assert len(reads) == 4 * len(placement.providers)
    for read in reads:
        assert len(read.depends_on) == 1
        assert read.depends_on[0] in lookups
        assert read.family == "placement"

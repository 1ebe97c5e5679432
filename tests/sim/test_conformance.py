"""Response bodies have the same keys as Nova's api_samples and the live/ recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.region.state import server_by_name
from sim.testing import api_client
from tests import reference
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
LIVE, SAMPLES = reference.NOVA_LIVE, reference.NOVA_API_SAMPLES
WEB_ACTION = "live-migration.req-a6cb938a-ff3b-4938-afe3-2d31cdc6a424"


def _rows(body: dict[str, Any]) -> dict[str, Any]:
    """The first element of the body's (only) list or object, minus in-progress links."""
    value = next(iter(body.values()))
    row = value[0] if isinstance(value, list) else value
    return {k: v for k, v in row.items() if k != "links"}


def _shape(body: dict[str, Any]) -> dict[str, set[str]]:
    """Key sets of a row and of its nested rows (events, service, per-host services)."""
    row = _rows(body)
    shape = {"row": set(row)}
    if row.get("events"):
        shape["event"] = set(row["events"][0])
    if isinstance(row.get("service"), dict):
        shape["service"] = set(row["service"])
    if isinstance(row.get("hosts"), dict):
        services = next(iter(row["hosts"].values()))
        shape["host-service"] = set(next(iter(services.values())))
    if isinstance(row.get("flavor"), dict):
        shape["flavor"] = set(row["flavor"])
    return shape


# (our path with {web}/{req} placeholders, microversion, role, reference file)
CASES = [
    ("/servers/{web}", "2.1", "admin", LIVE / "servers/web-01/server.v2.1.json"),
    ("/servers/{web}", "2.47", "admin", LIVE / "servers/web-01/server.v2.47.json"),
    ("/servers/{web}", "2.96", "admin", LIVE / "servers/web-01/server.v2.96.json"),
    ("/servers/{web}", "2.96", "demo", SAMPLES / "servers/v2.96/server-get-resp.json"),
    ("/servers/{ha}", "2.96", "admin", LIVE / "servers/web-01/server.v2.96.json"),
    ("/os-migrations", "2.1", "admin", LIVE / "global/os-migrations.v2.1.json"),
    ("/os-migrations", "2.23", "admin", LIVE / "global/os-migrations.v2.23.json"),
    ("/os-migrations", "2.59", "admin", LIVE / "global/os-migrations.v2.59.json"),
    ("/os-migrations", "2.80", "admin", LIVE / "global/os-migrations.v2.80.json"),
    ("/os-migrations", "2.80", "admin", SAMPLES / "os-migrations/v2.80/migrations-get.json"),
    ("/servers/{web}/os-instance-actions", "2.1", "admin", LIVE / "servers/web-01/os-instance-actions.v2.1.json"),
    ("/servers/{web}/os-instance-actions", "2.58", "admin", LIVE / "servers/web-01/os-instance-actions.v2.58.json"),
    ("/servers/{web}/os-instance-actions", "2.84", "admin", LIVE / "servers/web-01/os-instance-actions.v2.84.json"),
    ("/servers/{web}/os-instance-actions/{req}", "2.1", "admin", LIVE / f"servers/web-01/os-instance-actions/{WEB_ACTION}.v2.1.json"),
    ("/servers/{web}/os-instance-actions/{req}", "2.51", "admin", LIVE / f"servers/web-01/os-instance-actions/{WEB_ACTION}.v2.51.json"),
    ("/servers/{web}/os-instance-actions/{req}", "2.62", "admin", LIVE / f"servers/web-01/os-instance-actions/{WEB_ACTION}.v2.62.json"),
    ("/servers/{web}/os-instance-actions/{req}", "2.84", "admin", LIVE / f"servers/web-01/os-instance-actions/{WEB_ACTION}.v2.84.json"),
    ("/servers/{web}/os-instance-actions/{req}", "2.84", "demo", SAMPLES / "os-instance-actions/v2.84/instance-action-get-non-admin-resp.json"),
    ("/os-services", "2.1", "admin", LIVE / "global/os-services.v2.1.json"),
    ("/os-services", "2.11", "admin", SAMPLES / "os-services/v2.11/services-list-get-resp.json"),
    ("/os-services", "2.53", "admin", LIVE / "global/os-services.v2.53.json"),
    ("/os-hypervisors/detail", "2.1", "admin", LIVE / "global/os-hypervisors-detail.v2.1.json"),
    ("/os-hypervisors/detail", "2.28", "admin", LIVE / "global/os-hypervisors-detail.v2.28.json"),
    ("/os-hypervisors/detail", "2.53", "admin", LIVE / "global/os-hypervisors-detail.v2.53.json"),
    ("/os-hypervisors/detail", "2.87", "admin", LIVE / "global/os-hypervisors-detail.v2.87.json"),
    ("/os-hypervisors/detail", "2.88", "admin", LIVE / "global/os-hypervisors-detail.v2.88.json"),
    ("/os-hypervisors/detail?with_servers=true", "2.96", "admin", LIVE / "global/os-hypervisors-detail-with-servers.v2.104.json"),
    ("/os-hypervisors", "2.53", "admin", SAMPLES / "os-hypervisors/v2.53/hypervisors-list-resp.json"),
    ("/os-aggregates", "2.1", "admin", LIVE / "global/os-aggregates.v2.1.json"),
    ("/os-aggregates", "2.41", "admin", LIVE / "global/os-aggregates.v2.41.json"),
    ("/os-aggregates", "2.81", "admin", LIVE / "global/os-aggregates.v2.81.json"),
    ("/os-aggregates", "2.41", "admin", SAMPLES / "os-aggregates/v2.41/aggregates-list-get-resp.json"),
    ("/os-availability-zone", "2.1", "admin", LIVE / "global/os-availability-zone.v2.1.json"),
    ("/os-availability-zone/detail", "2.1", "admin", LIVE / "global/os-availability-zone-detail.v2.1.json"),
    ("/os-availability-zone/detail", "2.1", "admin", SAMPLES / "os-availability-zone/availability-zone-detail-resp.json"),
    ("/flavors/101", "2.61", "admin", LIVE / "global/flavors/g1.medium.v2.61.json"),
    ("/flavors/101", "2.75", "admin", LIVE / "global/flavors/g1.medium.v2.75.json"),
]  # fmt: skip


@pytest.fixture
async def responses(sim_region_factory: SimRegionFactory):
    """Fetch every case from one region (the HTTP calls are the slow part)."""
    got: dict[tuple[str, str, str], dict[str, Any]] = {}
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")["id"]
        ha = server_by_name(region.state, "ha-02")["id"]
        req = next(a.request_id for a in region.state.actions
                   if a.instance_uuid == web and a.action == "live-migration")  # fmt: skip
        for role in ("admin", "demo"):
            async with api_client(region, role) as api:
                for path, version, who, _ in CASES:
                    if who != role:
                        continue
                    real = path.format(web=web, ha=ha, req=req)
                    status, body, _ = await api.get(f"/compute/v2.1{real}", version)
                    assert status == 200, (real, version, body)
                    got[(path, version, role)] = body
    return got


@pytest.mark.parametrize(
    ("path", "version", "role", "reference"),
    CASES,
    ids=[f"{c[0]}@{c[1]}-{c[2]}-{c[3].parent.name}/{c[3].name}" for c in CASES],
)
async def test_keys_match_reference(responses, path, version, role, reference) -> None:
    """Same keys (and nested keys) as the reference at the same microversion."""
    expected = _shape(json.loads(reference.read_text()))
    ours = _shape(responses[(path, version, role)])
    if "{ha}" in path:  # a server in ERROR has exactly one key more: fault
        expected["row"] = expected["row"] | {"fault"}
    assert ours == expected

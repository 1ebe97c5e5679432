"""os-migrations and server migrations: filters, paging and fields per microversion."""

from __future__ import annotations

from pathlib import Path

from sim.region.state import server_by_name
from sim.testing import api_client
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
BASE_21 = {"created_at", "dest_compute", "dest_host", "dest_node", "id", "instance_uuid",
           "new_instance_type_id", "old_instance_type_id", "source_compute", "source_node",
           "status", "updated_at"}  # fmt: skip


async def test_fields_grow_with_microversion(
    sim_region_factory: SimRegionFactory,
) -> None:
    """2.23 adds migration_type, 2.59 uuid, 2.80 user_id and project_id."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        keys = {}
        for version in ("2.1", "2.23", "2.59", "2.80"):
            _, body, _ = await api.get("/compute/v2.1/os-migrations", version=version)
            keys[version] = set(body["migrations"][0])
    assert keys["2.1"] == BASE_21
    assert keys["2.23"] - keys["2.1"] == {"migration_type"}
    assert keys["2.59"] - keys["2.23"] == {"uuid"}
    assert keys["2.80"] - keys["2.59"] == {"user_id", "project_id"}


async def test_filters(sim_region_factory: SimRegionFactory) -> None:
    """instance_uuid, status, migration_type and source_compute filter the rows."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")["id"]
        path = "/compute/v2.1/os-migrations"
        _, by_server, _ = await api.get(f"{path}?instance_uuid={web}", "2.80")
        _, errors, _ = await api.get(f"{path}?status=error", "2.80")
        _, evac, _ = await api.get(f"{path}?migration_type=evacuation", "2.80")
        _, source, _ = await api.get(f"{path}?source_compute=cmp-a-01", "2.80")
    assert [m["instance_uuid"] for m in by_server["migrations"]] == [web]
    assert {m["status"] for m in errors["migrations"]} == {"error"}
    assert [m["source_compute"] for m in evac["migrations"]] == ["cmp-c-01"]
    assert len(source["migrations"]) == 2


async def test_paging_with_limit_and_marker(
    sim_region_factory: SimRegionFactory,
) -> None:
    """limit gives a next link with the last uuid as marker; the marker resumes after it."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, everything, _ = await api.get("/compute/v2.1/os-migrations", "2.59")
        _, first, _ = await api.get("/compute/v2.1/os-migrations?limit=2", "2.59")
        marker = first["migrations"][-1]["uuid"]
        _, rest, _ = await api.get(
            f"/compute/v2.1/os-migrations?limit=2&marker={marker}", "2.59"
        )
        status, bad, _ = await api.get(
            "/compute/v2.1/os-migrations?marker=nope", "2.59"
        )
    ids = [m["id"] for m in everything["migrations"]]
    assert ids == sorted(ids, reverse=True)
    assert [m["id"] for m in first["migrations"] + rest["migrations"]] == ids
    assert f"marker={marker}" in first["migrations_links"][0]["href"]
    assert "migrations_links" not in rest
    assert (status, bad["badRequest"]["message"]) == (
        400,
        "Marker nope could not be found.",
    )


async def test_changes_since_and_before(sim_region_factory: SimRegionFactory) -> None:
    """changes-since (2.59) and changes-before (2.66) bound updated_at."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        rows = sorted(region.state.migrations, key=lambda m: m.updated_at)
        middle = rows[1].updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        _, since, _ = await api.get(
            f"/compute/v2.1/os-migrations?changes-since={middle}", "2.66"
        )
        _, before, _ = await api.get(
            f"/compute/v2.1/os-migrations?changes-before={middle}", "2.66"
        )
    assert {m["id"] for m in since["migrations"]} == {rows[1].id, rows[2].id}
    assert {m["id"] for m in before["migrations"]} == {rows[0].id, rows[1].id}


async def test_server_migrations_only_in_progress(
    sim_region_factory: SimRegionFactory,
) -> None:
    """A finished migration is not listed under the server and its show is a 404."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")["id"]
        mid = next(m.id for m in region.state.migrations if m.instance_uuid == web)
        _, listed, _ = await api.get(f"/compute/v2.1/servers/{web}/migrations", "2.80")
        status, shown, _ = await api.get(
            f"/compute/v2.1/servers/{web}/migrations/{mid}", "2.80"
        )
        old_status, _, _ = await api.get(
            f"/compute/v2.1/servers/{web}/migrations", "2.1"
        )
    assert listed == {"migrations": []}
    assert status == 404
    assert shown["itemNotFound"]["message"] == (
        f"Live migration {mid} for server {web} is not in progress.")  # fmt: skip
    assert old_status == 404

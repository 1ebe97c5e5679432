"""Nova API basics: microversion negotiation, headers, faults, servers and flavors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.region.state import server_by_name
from sim.testing import api_client
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"


async def test_version_documents_and_headers(
    sim_region_factory: SimRegionFactory,
) -> None:
    """/compute/ lists v2.1 with min 2.1 and the scenario's max; responses echo the version."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        status, body, headers = await api.get("/compute/")
        v21 = next(v for v in body["versions"] if v["id"] == "v2.1")
        assert (status, v21["min_version"], v21["version"]) == (200, "2.1", "2.96")
        _, _, headers = await api.get("/compute/v2.1/servers", version="2.60")
        assert headers["OpenStack-API-Version"] == "compute 2.60"
        assert headers["X-OpenStack-Nova-API-Version"] == "2.60"
        assert "OpenStack-API-Version" in headers["Vary"]
        _, _, headers = await api.get("/compute/v2.1/servers", version="latest")
        assert headers["OpenStack-API-Version"] == "compute 2.96"
        _, _, headers = await api.get("/compute/v2.1/servers")
        assert headers["OpenStack-API-Version"] == "compute 2.1"


@pytest.mark.parametrize(
    ("version", "status", "key"),
    [
        ("2.97", 406, "computeFault"),
        ("3.0", 406, "computeFault"),
        ("2.x", 400, "badRequest"),
    ],
)
async def test_unsupported_versions_are_refused(
    sim_region_factory: SimRegionFactory, version, status, key
) -> None:
    """Versions above the maximum are 406; malformed ones are 400."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        got, body, _ = await api.get("/compute/v2.1/servers", version=version)
    assert got == status
    assert body[key]["code"] == status


async def test_missing_server_is_item_not_found(
    sim_region_factory: SimRegionFactory,
) -> None:
    """An unknown server id gets Nova's itemNotFound body."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        status, body, _ = await api.get("/compute/v2.1/servers/does-not-exist")
    assert status == 404
    assert body == {
        "itemNotFound": {
            "code": 404,
            "message": "Instance does-not-exist could not be found.",
        }
    }


async def test_server_fields_follow_microversion_and_role(
    sim_region_factory: SimRegionFactory,
) -> None:
    """host_status appears at 2.16 for admins; pinned AZ at 2.96; admin fields hidden from members."""
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")
        path = f"/compute/v2.1/servers/{web['id']}"
        async with api_client(region) as admin:
            _, old, _ = await admin.get(path, version="2.15")
            _, new, _ = await admin.get(path, version="2.96")
        async with api_client(region, "demo") as member:
            _, seen, _ = await member.get(path, version="2.96")
    assert "host_status" not in old["server"]
    assert "locked" in old["server"]
    assert new["server"]["host_status"] == "UP"
    assert new["server"]["pinned_availability_zone"] == "az-1"
    assert new["server"]["OS-EXT-SRV-ATTR:host"] == "cmp-a-01"
    assert new["server"]["flavor"]["original_name"] == "g1.medium"
    assert "OS-EXT-SRV-ATTR:host" not in seen["server"]
    assert "host_status" not in seen["server"]


async def test_fault_shown_only_in_error(sim_region_factory: SimRegionFactory) -> None:
    """The evacuated server in ERROR has a fault; an ACTIVE one has none."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, body, _ = await api.get(
            "/compute/v2.1/servers/detail?all_tenants=1", version="2.96"
        )
    by_name = {s["name"]: s for s in body["servers"]}
    assert by_name["ha-02"]["fault"]["message"] == "No valid host was found. "
    assert by_name["ha-02"]["host_status"] == "DOWN"
    assert "fault" not in by_name["web-01"]


async def test_name_filter_is_a_regex_and_scoped_to_project(
    sim_region_factory: SimRegionFactory,
) -> None:
    """name= matches as a regular expression; without all_tenants only the caller's project."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, mine, _ = await api.get("/compute/v2.1/servers?name=01")
        _, every, _ = await api.get(
            "/compute/v2.1/servers?name=^(web|ok)-&all_tenants=1"
        )
    assert [s["name"] for s in mine["servers"]] == ["locked-01"]
    assert sorted(s["name"] for s in every["servers"]) == ["ok-lm-01", "web-01"]


async def test_flavor_extra_specs(sim_region_factory: SimRegionFactory) -> None:
    """Flavor show and os-extra_specs return the scenario's extra specs."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, flavors, _ = await api.get("/compute/v2.1/flavors/detail", version="2.61")
        fid = next(f["id"] for f in flavors["flavors"] if f["name"] == "g1.medium")
        _, specs, _ = await api.get(f"/compute/v2.1/flavors/{fid}/os-extra_specs")
    assert specs["extra_specs"]["hw:watchdog_action"] == "reset"

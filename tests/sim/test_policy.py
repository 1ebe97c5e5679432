"""Default-policy behaviour the diagnostics rely on: who may read what."""

from __future__ import annotations

import aiohttp

from sim.testing import api_client
from tests.conftest import SimRegionFactory


async def test_placement_is_admin_only_with_placements_error_body(
    sim_region_factory: SimRegionFactory,
) -> None:
    """A member token gets 403 from Placement, in Placement's error format; admin reads."""
    async with sim_region_factory("healthy") as region:
        async with api_client(region, "demo") as member:
            status, body, headers = await member.get("/placement/resource_providers")
        async with api_client(region, "admin") as admin:
            ok, listing, _ = await admin.get("/placement/resource_providers")
    assert status == 403
    error = body["errors"][0]
    assert error["status"] == 403
    assert "placement:resource_providers:list" in error["detail"]
    assert error["request_id"] == headers["x-openstack-request-id"]
    assert ok == 200
    assert listing["resource_providers"]


async def test_volume_version_discovery_needs_no_token(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Cinder's version documents answer without a token, as keystonemiddleware allows."""
    async with sim_region_factory("healthy") as region, aiohttp.ClientSession() as s:
        # the root answers 300 Multiple Choices with the version list, as Cinder does
        for path, expected in (("/volume/", 300), ("/volume/v3/", 200)):
            async with s.get(region.base_url + path) as resp:
                assert resp.status == expected, path

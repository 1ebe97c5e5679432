"""Keystone v3 of the simulated region: tokens, catalog, 401s."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sim.testing import api_client
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"


def _password_body(user: str, password: str, project: str) -> dict[str, object]:
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }}  # fmt: skip


async def test_password_auth_returns_subject_token_and_catalog(
    sim_region_factory,
) -> None:
    """A correct password gets 201, X-Subject-Token and the four service types."""
    async with (
        sim_region_factory(SCENARIO) as region,
        aiohttp.ClientSession() as session,
    ):
        body = _password_body("admin", "sim-admin-password", "admin")
        async with session.post(f"{region.auth_url}/auth/tokens", json=body) as resp:
            assert resp.status == 201
            assert resp.headers["X-Subject-Token"]
            assert resp.headers["x-openstack-request-id"].startswith("req-")
            token = (await resp.json())["token"]
    types = {entry["type"] for entry in token["catalog"]}
    assert {"compute", "placement", "network", "volumev3", "identity"} <= types
    compute = next(e for e in token["catalog"] if e["type"] == "compute")
    assert compute["endpoints"][0]["url"] == f"{region.base_url}/compute/v2.1"
    assert {r["name"] for r in token["roles"]} >= {"admin"}


async def test_bad_password_gets_keystone_401_body(
    sim_region_factory: SimRegionFactory,
) -> None:
    """A wrong password is a 401 with Keystone's error body."""
    async with (
        sim_region_factory(SCENARIO) as region,
        aiohttp.ClientSession() as session,
    ):
        body = _password_body("admin", "wrong", "admin")
        async with session.post(f"{region.auth_url}/auth/tokens", json=body) as resp:
            assert resp.status == 401
            assert await resp.json() == {"error": {
                "code": 401, "title": "Unauthorized",
                "message": "The request you have made requires authentication."}}  # fmt: skip


async def test_services_reject_missing_or_unknown_token(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Nova answers 401 without a valid token, with a request id."""
    async with (
        sim_region_factory(SCENARIO) as region,
        aiohttp.ClientSession() as session,
    ):
        for headers in ({}, {"X-Auth-Token": "nope"}):
            async with session.get(
                f"{region.base_url}/compute/v2.1/servers", headers=headers
            ) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] == 401
                assert resp.headers["x-compute-request-id"].startswith("req-")


async def test_member_token_is_not_admin(sim_region_factory: SimRegionFactory) -> None:
    """The demo user authenticates with role member and is refused admin APIs."""
    async with (
        sim_region_factory(SCENARIO) as region,
        api_client(region, "demo") as api,
    ):
        status, body, _ = await api.get("/compute/v2.1/os-services")
    assert status == 403
    assert body == {"forbidden": {"code": 403, "message":
                    "Policy doesn't allow os_compute_api:os-services:list to be performed."}}  # fmt: skip


async def test_identity_version_documents(sim_region_factory: SimRegionFactory) -> None:
    """GET /identity is a 300 listing v3; /identity/v3 describes v3."""
    async with (
        sim_region_factory(SCENARIO) as region,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{region.base_url}/identity") as resp:
            assert resp.status == 300
            assert (await resp.json())["versions"]["values"][0]["id"].startswith("v3")
        async with session.get(f"{region.base_url}/identity/v3") as resp:
            assert (await resp.json())["version"]["status"] == "stable"

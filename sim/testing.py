"""Start a simulated region from tests: ``async with start_region(name, tmp_path) as region``.

The region binds free loopback ports, writes its state dir (clouds.yaml, known_hosts,
client key, kubeconfig) under ``tmp_path`` and stops everything on exit.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from sim.region import identity
from sim.region.statedir import write_state_dir
from sim.scenario.model import Scenario
from sim.wiring import Region


@asynccontextmanager
async def start_region(
    scenario: Scenario | str | Path, tmp_path: Path, **options: Any
) -> AsyncIterator[Region]:
    """A started Region with its state dir in ``tmp_path / "state"`` (``region.paths``)."""
    state_dir = Path(tmp_path) / "state"
    region = Region(scenario, key_dir=state_dir, **options)
    async with region:
        region.paths = write_state_dir(region, state_dir)
        yield region


class ApiClient:
    """A tiny authenticated HTTP client for tests: ``await api.get("/compute/v2.1/...")``."""

    def __init__(
        self, region: Region, session: aiohttp.ClientSession, token: str
    ) -> None:
        self.region = region
        self.session = session
        self.token = token

    async def request(
        self, method: str, path: str, *, version: str | None = None, json: Any = None
    ) -> tuple[int, Any, Any]:
        """(status, decoded JSON body or None, headers)."""
        headers = {"X-Auth-Token": self.token}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        url = self.region.base_url + path
        async with self.session.request(
            method, url, headers=headers, json=json
        ) as resp:
            text = await resp.text()
            body = _json.loads(text) if text else None
            return resp.status, body, resp.headers

    async def get(self, path: str, version: str | None = None) -> tuple[int, Any, Any]:
        return await self.request("GET", path, version=version)

    async def post(
        self, path: str, body: Any, version: str | None = None
    ) -> tuple[int, Any, Any]:
        return await self.request("POST", path, version=version, json=body)


@asynccontextmanager
async def api_client(region: Region, user: str = "admin") -> AsyncIterator[ApiClient]:
    """An ApiClient holding a project-scoped token for ``admin`` or ``demo``."""
    password = (
        identity.ADMIN_PASSWORD
        if user == identity.ADMIN_USER
        else identity.MEMBER_PASSWORD
    )
    project = (
        identity.ADMIN_PROJECT
        if user == identity.ADMIN_USER
        else identity.MEMBER_PROJECT
    )
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }}  # fmt: skip
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{region.auth_url}/auth/tokens", json=body) as resp:
            resp.raise_for_status()
            token = resp.headers["X-Subject-Token"]
        yield ApiClient(region, session, token)

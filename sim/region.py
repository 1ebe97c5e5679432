"""The simulated region: every OpenStack API on one port, SSH hypervisors, Kubernetes API.

    async with Region("cpu-incompatible", key_dir=tmp) as region:
        region.auth_url, region.base_url, region.ssh_endpoints, region.state

One aiohttp app serves Keystone (/identity), Nova (/compute), Placement (/placement),
Neutron (/network) and Cinder (/volume) on 127.0.0.1 with a free port. Middlewares add a
``req-<uuid>`` request id to every response, an optional latency, and token checks.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from sim import keys, keystone, nova
from sim.build import build_state
from sim.errors import placement_error, request_id
from sim.nova_run import MoveRunner
from sim.scenario import Scenario, load_scenario
from sim.state import RegionState

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# service documents clients read before they have a token (keystoneauth discovery)
_UNAUTHENTICATED = {
    "/compute", "/compute/", "/compute/v2.1", "/compute/v2.1/",
    "/placement", "/placement/", "/network", "/network/", "/volume", "/volume/",
    "/volume/v3", "/volume/v3/",
}  # fmt: skip
_SERVICE_PREFIXES = ("/compute", "/placement", "/network", "/volume")
_OPTIONAL_SERVICES = ("sim.placement", "sim.neutron", "sim.cinder")


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Every response carries ``x-openstack-request-id`` and ``x-compute-request-id``."""
    rid = request_id(request)
    request[keys.REQUEST_ID] = rid
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["x-openstack-request-id"] = rid
        exc.headers["x-compute-request-id"] = rid
        raise
    response.headers["x-openstack-request-id"] = rid
    response.headers["x-compute-request-id"] = rid
    return response


def latency_middleware(latency_ms: int) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        return await handler(request)

    return middleware


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Service APIs need a valid X-Auth-Token (keystonemiddleware's 401 otherwise)."""
    path = request.path
    if path.startswith(_SERVICE_PREFIXES) and path not in _UNAUTHENTICATED:
        info = keystone.token_info(
            request.app[keys.STATE], request.headers.get("X-Auth-Token")
        )
        if info is None:
            return keystone.unauthorized(f"{request.url.origin()}/identity")
        request[keys.AUTH] = info
        if path.startswith("/placement") and "admin" not in info[2]:
            # Placement's default policy is admin-only for every resource (rule:admin_api)
            return placement_error(
                request,
                403,
                f"Policy does not allow {_placement_rule(request)} to be performed.",
                code="placement.undefined_code",
            )
    return await handler(request)


def _placement_rule(request: web.Request) -> str:
    """The policy name Placement reports, e.g. placement:resource_providers:list."""
    parts = [p for p in request.path.removeprefix("/placement").split("/") if p]
    resource = parts[0] if parts else "root"
    return f"placement:{resource}:{'list' if len(parts) <= 1 else 'show'}"


def _mount_optional(app: web.Application, state: RegionState) -> list[str]:
    mounted = []
    for name in _OPTIONAL_SERVICES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.warning("%s is not available; that service is not simulated", name)
            continue
        module.add_routes(app, state)
        mounted.append(name)
    return mounted


def build_app(state: RegionState, latency_ms: int = 0) -> web.Application:
    """The OpenStack API app for a region state (no sockets)."""
    app = web.Application(
        middlewares=[
            request_id_middleware,
            latency_middleware(latency_ms),
            auth_middleware,
            nova.nova_middleware,
        ]
    )
    app[keys.STATE] = state
    keystone.add_routes(app, state)
    nova.add_routes(app, state)
    _mount_optional(app, state)
    return app


class Region:
    """A running simulated region; use as an async context manager."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        key_dir: Path,
        latency_ms: int = 0,
        amqp_url: str | None = None,
        move_step_s: float = 0.0,
        now: datetime | None = None,
    ) -> None:
        self.scenario = (
            scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        )
        self.key_dir = Path(key_dir)
        self.latency_ms = latency_ms
        self.amqp_url = amqp_url
        self.move_step_s = move_step_s
        self.state: RegionState = build_state(self.scenario, now)
        self.base_url = ""
        self.auth_url = ""
        self.ports: dict[str, int] = {}
        self.ssh_endpoints: dict[str, tuple[int, str]] = {}
        self.client_key: Path | None = None
        self.app: web.Application | None = None
        self._runners: list[web.AppRunner] = []
        self._fleet: Any = None
        self._publisher: Any = None

    @property
    def move_runner(self) -> MoveRunner:
        assert self.app is not None, "region not started"
        return self.app[keys.MOVE_RUNNER]

    async def wait_idle(self) -> None:
        """Wait until every move started through the API has finished."""
        await self.move_runner.wait_idle()

    async def _serve(self, app: web.Application) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        server: Any = site._server  # aiohttp exposes the bound port only here
        return int(server.sockets[0].getsockname()[1])

    async def start(self) -> Region:
        """Bind the APIs, start the SSH hosts and (self-hosted) the Kubernetes API."""
        from sim import statedir

        self.key_dir.mkdir(parents=True, exist_ok=True)
        self.client_key = statedir.ensure_client_key(self.key_dir)
        self.app = build_app(self.state, self.latency_ms)
        self.move_runner.step_delay_s = self.move_step_s
        if self.amqp_url:
            from sim.notify import AmqpPublisher

            self._publisher = AmqpPublisher(self.amqp_url)
            await self._publisher.start()
            self.move_runner.publisher = self._publisher
        port = await self._serve(self.app)
        self.ports["api"] = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.auth_url = f"{self.base_url}/identity/v3"
        await self._start_hosts()
        if self.scenario.mode == "self-hosted":
            await self._start_k8s()
        log.info("region %s up at %s", self.scenario.name, self.base_url)
        return self

    async def _start_hosts(self) -> None:
        try:
            hosts = importlib.import_module("sim.hosts")
        except ModuleNotFoundError as exc:
            if exc.name != "sim.hosts":
                raise
            log.warning("sim.hosts is not available; no SSH hypervisors")
            return
        self._fleet = hosts.HostFleet(self.state, self.key_dir, self.latency_ms)
        self.ssh_endpoints = dict(await self._fleet.start())

    async def _start_k8s(self) -> None:
        try:
            k8s = importlib.import_module("sim.k8s")
        except ModuleNotFoundError as exc:
            if exc.name != "sim.k8s":
                raise
            log.warning("sim.k8s is not available; no management-plane API")
            return
        self.ports["k8s"] = await self._serve(k8s.build_app(self.state))

    async def stop(self) -> None:
        """Stop moves in flight, SSH hosts, HTTP servers and the AMQP publisher."""
        if self.app is not None:
            await self.move_runner.stop()
        if self._fleet is not None:
            await self._fleet.stop()
            self._fleet = None
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None

    async def __aenter__(self) -> Region:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

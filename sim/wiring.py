"""The composition root of a simulated region: APIs, SSH hypervisors, Kubernetes API.

    async with Region("cpu-incompatible", key_dir=tmp) as region:
        region.auth_url, region.base_url, region.ssh_endpoints, region.state

The OpenStack APIs (``sim.api.app``) listen on 127.0.0.1 with a free port, each reachable
hypervisor is an SSH server (``sim.hosts.fleet``), a self-hosted region also serves the
Kubernetes API (``sim.api.k8s``), and moves started through the API run in the
background (``sim.region.moves``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from types import TracebackType

from aiohttp import web

from sim.api import faults, k8s, keys
from sim.api.app import build_app
from sim.hosts.fleet import HostFleet
from sim.region import statedir
from sim.region.build import build_state
from sim.region.faults import Fault, modes_of
from sim.region.moves import MoveRunner
from sim.region.notify import EXCHANGE, TOPIC, AmqpPublisher
from sim.region.state import RegionState
from sim.scenario.load import load_scenario
from sim.scenario.model import Scenario

log = logging.getLogger(__name__)


class Region:
    """A running simulated region; use as an async context manager."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        key_dir: Path,
        latency_ms: int = 0,
        amqp_url: str | None = None,
        amqp_exchange: str = EXCHANGE,
        amqp_topic: str = TOPIC,
        move_step_s: float = 0.0,
        now: datetime | None = None,
    ) -> None:
        self.scenario = (
            scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        )
        self.key_dir = Path(key_dir)
        self.latency_ms = latency_ms
        self.amqp_url = amqp_url
        self.amqp_names = (amqp_exchange, amqp_topic)
        self.move_step_s = move_step_s
        self.state: RegionState = build_state(self.scenario, now)
        self.base_url = ""
        self.auth_url = ""
        self.ports: dict[str, int] = {}
        self.ssh_endpoints: dict[str, tuple[int, str]] = {}
        self.client_key: Path | None = None
        self.paths: dict[str, Path] = {}  # the state dir's files, once written
        self.app: web.Application | None = None
        self._runners: list[web.AppRunner] = []
        self._apps: list[web.Application] = []
        self._fleet: HostFleet | None = None
        self._publisher: AmqpPublisher | None = None

    @property
    def fleet(self) -> HostFleet:
        """The SSH servers (connection counts, ``rekey``)."""
        assert self._fleet is not None, "region not started"
        return self._fleet

    @property
    def requests(self) -> list[str]:
        """Every API request answered so far, ``"METHOD /path"`` in order."""
        assert self.app is not None, "region not started"
        return self.app[keys.REQUEST_LOG]

    @property
    def move_runner(self) -> MoveRunner:
        assert self.app is not None, "region not started"
        return self.app[keys.MOVE_RUNNER]

    async def wait_idle(self) -> None:
        """Wait until every move started through the API has finished."""
        await self.move_runner.wait_idle()

    async def set_fault(self, family: str, fault: Fault | str | None) -> None:
        """Inject (or with None, end) one family's outage; hung requests are let go."""
        if isinstance(fault, str):
            fault = Fault(mode=fault)
        if fault is not None and fault.mode not in modes_of(family):
            raise ValueError(f"{family} has no fault mode {fault.mode!r}")
        if fault is None:
            self.state.faults.pop(family, None)
        else:
            self.state.faults[family] = fault
        for app in self._apps:
            faults.release_hung(app)
        if family == "ssh" and self._fleet is not None:
            await self._fleet.apply_fault(None if fault is None else fault.mode)

    async def clear_faults(self) -> None:
        """Every family healthy again."""
        for family in list(self.state.faults):
            await self.set_fault(family, None)

    async def _serve(self, app: web.Application) -> int:
        self._apps.append(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])  # the free port the OS gave for port 0

    async def start(self) -> Region:
        """Bind the APIs, start the SSH hosts and (self-hosted) the Kubernetes API."""
        self.key_dir.mkdir(parents=True, exist_ok=True)
        self.client_key = statedir.ensure_client_key(self.key_dir)
        self.app = build_app(self.state, self.latency_ms)
        self.move_runner.step_delay_s = self.move_step_s
        if self.amqp_url:
            self._publisher = AmqpPublisher(self.amqp_url, *self.amqp_names)
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
        self._fleet = HostFleet(self.state, self.key_dir, self.latency_ms)
        self.ssh_endpoints = dict(await self._fleet.start())

    async def _start_k8s(self) -> None:
        self.ports["k8s"] = await self._serve(k8s.build_app(self.state))

    async def stop(self) -> None:
        """Stop moves in flight, SSH hosts, HTTP servers and the AMQP publisher."""
        if self.app is not None:
            await self.move_runner.stop()
        for app in self._apps:
            faults.release_hung(app)  # a hung request must not hold the shutdown
        self._apps.clear()
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

"""The serving bot's SSH pool against the sim's real SSH servers: kept, reaped, re-verified."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.ssh import HostShell
from diagnostics.model import MigrationRef
from diagnostics.service import open_engine
from diagnostics.settings import DiagnosticsSettings, HostAddress, load_settings
from sim.testing import start_region
from sim.wiring import Region

pytestmark = pytest.mark.integration

SCENARIO = "libvirt-tls-expired-cert"
VM = "web-02"


def _settings(region: Region, **ssh: object) -> DiagnosticsSettings:
    base = load_settings(region.paths["config"], DiagnosticsSettings)
    return base.model_copy(
        update={"ssh": base.ssh.model_copy(update=ssh)} if ssh else {}
    )


async def test_two_diagnoses_share_one_connection_per_host(tmp_path: Path) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        async with open_engine(_settings(region), keep_ssh=True) as engine:
            first = await engine.diagnose(MigrationRef(server=VM))
            after_first = dict(region.fleet.opened)
            second = await engine.diagnose(MigrationRef(server=VM))
        assert first.root_cause is not None
        assert second.root_cause is not None
        assert first.root_cause.root_cause == second.root_cause.root_cause
        assert after_first, "the diagnosis used no SSH host"
        assert dict(region.fleet.opened) == after_first
        assert set(after_first.values()) == {1}


async def test_a_fresh_pool_per_diagnosis_reconnects(tmp_path: Path) -> None:
    """The control: without keep_ssh every diagnosis redoes every handshake."""
    async with start_region(SCENARIO, tmp_path) as region:
        async with open_engine(_settings(region)) as engine:
            await engine.diagnose(MigrationRef(server=VM))
            await engine.diagnose(MigrationRef(server=VM))
        assert region.fleet.opened
        assert set(region.fleet.opened.values()) == {2}


async def test_an_idle_connection_is_closed_after_the_timeout(tmp_path: Path) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        settings = _settings(region, idle_timeout_s=0.2)
        async with open_engine(settings, keep_ssh=True) as engine:
            await engine.diagnose(MigrationRef(server=VM))
            fleet = region.fleet
            assert sum(fleet.opened.values()) > 0
            await fleet.wait_until(lambda: sum(fleet.open_now.values()) == 0)
            assert engine.clients.hosts is not None
            assert engine.clients.hosts.connected_hosts() == []
            # the next diagnosis reconnects (and works)
            again = await engine.diagnose(MigrationRef(server=VM))
        assert again.root_cause is not None
        assert set(fleet.opened.values()) == {2}


def _one_host(region: Region) -> tuple[str, int]:
    host, (port, _key) = sorted(region.ssh_endpoints.items())[0]
    return host, port


async def _pool(region: Region, tmp_path: Path, **ssh: object) -> tuple[HostShell, str]:
    host, port = _one_host(region)
    settings = _settings(
        region,
        hosts={host: HostAddress(address="127.0.0.1", port=port)},
        idle_timeout_s=0.1,
        **ssh,
    ).ssh
    return HostShell(settings, long_lived=True), host


async def _reconnect_after_rekey(region: Region, shell: HostShell, host: str) -> str:
    fleet = region.fleet
    first = await shell.run(host, ["date"])
    assert first.exit_code == 0
    await fleet.rekey(host)  # drops the connection; the host now offers another key
    await fleet.wait_until(lambda: fleet.open_now[host] == 0)
    with pytest.raises(CollectorError) as refused:
        await shell.run(host, ["date"])
    return refused.value.reason


async def test_a_changed_host_key_on_reconnect_is_refused(tmp_path: Path) -> None:
    async with start_region(SCENARIO, tmp_path) as region:
        shell, host = await _pool(region, tmp_path)
        try:
            reason = await _reconnect_after_rekey(region, shell, host)
        finally:
            shell.close()
        assert reason.startswith(f"host key of {host} CHANGED")


async def test_a_key_trusted_on_first_use_stays_binding_for_the_pool(
    tmp_path: Path,
) -> None:
    """With ssh.accept_unknown_hosts, the first key is trusted; a different one later is not."""
    async with start_region(SCENARIO, tmp_path) as region:
        empty = tmp_path / "empty_known_hosts"
        empty.write_text("")
        shell, host = await _pool(
            region, tmp_path, known_hosts=empty, accept_unknown_hosts=True
        )
        try:
            reason = await _reconnect_after_rekey(region, shell, host)
        finally:
            shell.close()
        assert reason.startswith(f"host key of {host} CHANGED")
        assert empty.read_text() == ""


async def test_commands_in_flight_per_host_are_bounded(tmp_path: Path) -> None:
    async with start_region(SCENARIO, tmp_path, latency_ms=50) as region:
        shell, host = await _pool(region, tmp_path, max_inflight_per_host=2)
        running = 0
        peak = 0
        count = threading.Lock()
        original = shell._run_blocking

        def counted(*args: object) -> object:
            nonlocal running, peak
            with count:
                running += 1
                peak = max(peak, running)
            try:
                return original(*args)  # type: ignore[arg-type]
            finally:
                with count:
                    running -= 1

        shell._run_blocking = counted  # type: ignore[method-assign,assignment]
        try:
            results = await asyncio.gather(
                *(shell.run(host, ["date"]) for _ in range(8))
            )
        finally:
            shell.close()
        assert [r.exit_code for r in results] == [0] * 8
        assert peak == 2

"""The SSH and Kubernetes collectors against the simulated region's real servers."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from diagnostics.evidence.host_collectors import (
    cold_migration_ssh_probe,
    dest_cpu,
    dest_disk,
    dest_host_services,
    dest_leftovers,
    dest_storage,
    libvirt_tls_probe,
    source_cpu,
    source_host_services,
)
from diagnostics.evidence.host_logs import dest_host_logs, source_host_logs
from diagnostics.evidence.mgmt_collectors import management_plane
from diagnostics.evidence.mgmt_plane import ManagementPlaneApi
from diagnostics.evidence.ssh import HostShell
from diagnostics.evidence.types import (
    LibvirtTlsProbe,
    ManagementPlane,
    SourceHostLogs,
    Unavailable,
)
from diagnostics.settings import HostAddress, ManagementPlaneSettings, SshSettings
from sim.api.k8s import build_app
from sim.hosts.fleet import HostFleet
from sim.region.build import build_state
from sim.region.identity import K8S_TOKEN
from sim.region.state import RegionState
from sim.scenario.load import load_scenario
from tests.evidence_host.fakes import clients, make_ctx

pytestmark = pytest.mark.integration

HOSTILE = ["x; rm -rf / #", "$(reboot)", "`id`", "q'uo\"te", "--help", "a\nb"]


@dataclass
class Region:
    state: RegionState
    shell: HostShell
    server_id: str
    instance_name: str
    request_id: str
    window: tuple[datetime, datetime]


@pytest.fixture
async def region(tmp_path: Path) -> AsyncIterator[Region]:
    state = build_state(load_scenario("libvirt-tls-expired-cert"))
    fleet = HostFleet(state, tmp_path / "keys")
    started = await fleet.start()
    known = tmp_path / "known_hosts"
    known.write_text(
        "".join(f"[127.0.0.1]:{port},{h} {key}\n" for h, (port, key) in started.items())
    )
    settings = SshSettings(
        key_file=fleet.client_key_path,
        known_hosts=known,
        hosts={
            h: HostAddress(address="127.0.0.1", port=p) for h, (p, _) in started.items()
        },
        connect_timeout_s=3,
        command_timeout_s=10,
    )
    shell = HostShell(settings)
    server = next(s for s in state.servers.values() if s["name"] == "web-02")
    action = next(a for a in state.actions if a.action == "live-migration")
    margin = timedelta(minutes=10)
    yield Region(
        state=state,
        shell=shell,
        server_id=server["id"],
        instance_name=server["instance_name"],
        request_id=action.request_id,
        window=(action.start_time - margin, action.updated_at + margin),
    )
    shell.close()
    await fleet.stop()


def _ctx(region: Region, **overrides: object):
    values: dict[str, object] = {
        "source": "cmp-a-01",
        "dest": "cmp-a-02",
        "server_id": region.server_id,
        "instance_name": region.instance_name,
        "request_id": region.request_id,
        "window": region.window,
    }
    values.update(overrides)
    return make_ctx(clients(region.shell), **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("sudo", [False, True], ids=["plain", "sudo"])
async def test_every_ssh_collector_delivers_against_the_sim(region, sudo):
    """Each collector returns evidence (not Unavailable) from the simulated hosts."""
    if sudo:
        region.shell = HostShell(
            region.shell.settings.model_copy(update={"sudo": True})
        )
    ctx = _ctx(region)
    collectors = [
        source_cpu, dest_cpu, dest_disk, source_host_services, dest_host_services,
        libvirt_tls_probe, cold_migration_ssh_probe, dest_storage, dest_leftovers,
        source_host_logs, dest_host_logs,
    ]  # fmt: skip
    results = await asyncio.gather(*(c(ctx) for c in collectors))
    missing = {
        c.__name__: r
        for c, r in zip(collectors, results, strict=True)
        if isinstance(r, Unavailable)
    }
    assert missing == {}
    assert len(region.shell._clients) == 2  # one connection per host, reused
    sent = [line for _, line in region.state.ssh_commands]
    assert all(line.startswith("sudo -n ") for line in sent) is sudo


async def test_expired_server_certificate_is_seen_by_the_tls_probe(region):
    """virsh over TLS fails from the source and the destination's cert is out of date."""
    probe = await libvirt_tls_probe(_ctx(region))
    assert isinstance(probe, LibvirtTlsProbe)
    assert not probe.connect_ok
    assert probe.connect_output
    assert probe.dest_server_cert is not None
    assert probe.dest_server_cert.not_after is not None
    assert probe.dest_server_cert.not_after < datetime.now(UTC)


async def test_source_logs_hold_the_failure_inside_the_window(region):
    """The request id's ostackhost lines and the libvirtd signature come back, cited."""
    logs = await source_host_logs(_ctx(region))
    assert isinstance(logs, SourceHostLogs)
    texts = " | ".join(line.text for line in logs.lines)
    assert "Live Migration failure" in texts
    assert "Certificate check failed" in texts
    assert all(line.source.startswith("cmp-a-01:/var/log/") for line in logs.lines)
    assert any(line.request_id == region.request_id for line in logs.lines)
    later = (
        region.window[1] + timedelta(hours=1),
        region.window[1] + timedelta(hours=2),
    )
    empty = await source_host_logs(_ctx(region, window=later))
    assert isinstance(empty, SourceHostLogs)
    assert empty.lines == ()


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_inputs_reach_the_sim_shell_as_single_arguments(region, hostile):
    """Every recorded command splits (as bash would) with the hostile text as one word."""
    ctx = _ctx(region, request_id=hostile, instance_name=f"inst-{hostile}")
    results = await asyncio.gather(source_host_logs(ctx), dest_leftovers(ctx))
    assert not any(isinstance(r, Unavailable) for r in results)
    words = [w for _, line in region.state.ssh_commands for w in shlex.split(line)]
    # a name with "/" is never made into a path to grep
    assert (f"/var/log/libvirt/qemu/inst-{hostile}.log" in words) is (
        "/" not in hostile
    )
    if "\n" not in hostile:  # a pattern with a newline is never sent to grep
        assert hostile in words
    for _, line in region.state.ssh_commands:
        first = shlex.split(line)[0]
        assert first in {"grep", "virsh", "test"}, line


async def test_unreachable_dest_is_unavailable_while_source_works(region, tmp_path):
    """A host without an SSH server gives a clear reason; the source still answers."""
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    hosts = dict(region.shell.settings.hosts)
    hosts["cmp-a-02"] = HostAddress(address="127.0.0.1", port=closed)
    shell = HostShell(region.shell.settings.model_copy(update={"hosts": hosts}))
    try:
        ctx = make_ctx(clients(shell), source="cmp-a-01", dest="cmp-a-02")
        src, dst, tls = await asyncio.gather(
            source_cpu(ctx), dest_cpu(ctx), libvirt_tls_probe(ctx)
        )
        assert not isinstance(src, Unavailable)
        assert isinstance(dst, Unavailable)
        assert dst.reason == f"SSH connection refused by cmp-a-02 (127.0.0.1:{closed})"
        # the probe still reports what the source saw, and why the dest side is missing
        assert isinstance(tls, LibvirtTlsProbe)
        assert tls.dest_server_cert is None
        assert "SSH connection refused by cmp-a-02" in tls.provenance
    finally:
        shell.close()


@pytest.fixture
async def kube(region: Region, tmp_path: Path) -> AsyncIterator[ManagementPlaneApi]:
    runner = web.AppRunner(build_app(region.state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sim", "cluster": {"server": f"http://127.0.0.1:{port}"}}
        ],
        "users": [{"name": "sim", "user": {"token": K8S_TOKEN}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}],
        "current-context": "sim",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    api = ManagementPlaneApi.from_settings(
        ManagementPlaneSettings(
            kubeconfig=path, namespace=region.state.scenario.namespace
        )
    )
    yield api
    api.close()
    await runner.cleanup()


async def test_management_plane_pods_and_logs_through_the_kubernetes_client(
    region, kube
):
    """Pods are listed and a pod's log read through the official client."""
    pods = await kube.pods()
    assert {p.deployment for p in pods} >= {
        "nova-api-osapi",
        "nova-conductor",
        "nova-scheduler",
    }
    assert all(p.phase == "Running" and p.ready for p in pods)
    api_pod = next(p for p in pods if p.deployment == "nova-api-osapi")
    text = await kube.logs(api_pod.name, tail_lines=100, since_seconds=86_400)
    assert region.request_id in text


async def test_management_plane_collector_keeps_the_request_lines(region, kube):
    """The collector returns pod status and only this migration's lines, in the window."""
    ctx = make_ctx(
        clients(mgmt=kube),
        server_id=region.server_id,
        request_id=region.request_id,
        window=region.window,
    )
    found = await management_plane(ctx)
    assert isinstance(found, ManagementPlane)
    assert len(found.pods) == len(region.state.scenario.pods)
    assert found.logs.lines
    assert all(
        region.request_id in ln.text or region.server_id in ln.text
        for ln in found.logs.lines
    )
    assert all(ln.source.startswith("nova-api-osapi-") for ln in found.logs.lines)
    saas = await management_plane(make_ctx(clients(mgmt=kube), self_hosted=False))
    assert saas == Unavailable(reason="management plane not reachable in SaaS mode")


async def test_kubernetes_errors_become_unavailable(region, tmp_path):
    """A wrong token or no API server gives a reason, not an exception."""
    bad = ManagementPlaneApi.from_settings(
        ManagementPlaneSettings(kubeconfig=tmp_path / "none")
    )
    result = await management_plane(make_ctx(clients(mgmt=bad)))
    assert isinstance(result, Unavailable)
    assert result.reason == "no Kubernetes configuration for the management plane"

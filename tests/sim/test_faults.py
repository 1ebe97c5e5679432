"""Injected outages: each family's own 500 body, HAProxy's 503, a hang, SSH down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from sim.api import faults
from sim.region.faults import Fault, FaultError, parse_fault
from sim.testing import api_client, start_region

pytestmark = pytest.mark.integration

PATHS = {
    "nova": "/compute/v2.1/servers/detail",
    "placement": "/placement/resource_providers",
    "neutron": "/network/v2.0/ports",
    "cinder": "/volume/v3/volumes",
}


async def test_each_service_answers_500_with_its_own_error_body(tmp_path: Path) -> None:
    """Nova's computeFault, Placement's errors list, Neutron's NeutronError, Cinder's
    computeFault; the other services keep answering."""
    async with start_region("healthy", tmp_path) as region, api_client(region) as api:
        bodies = {}
        for family, path in PATHS.items():
            await region.set_fault(family, "500")
            status, bodies[family], _ = await api.get(path)
            assert status == 500, family
            other = next(p for f, p in PATHS.items() if f != family)
            assert (await api.get(other))[0] == 200, f"{family} down took {other} too"
            await region.set_fault(family, None)
            assert (await api.get(path))[0] == 200
    assert bodies["nova"]["computeFault"]["message"] == faults.NOVA_500
    assert bodies["placement"]["errors"][0]["status"] == 500
    assert bodies["neutron"]["NeutronError"]["type"] == "HTTPInternalServerError"
    assert bodies["cinder"]["computeFault"]["code"] == 500


async def test_503_is_the_load_balancers_page_and_a_hang_is_let_go_on_change(
    tmp_path: Path,
) -> None:
    """503 is HAProxy's HTML; a hung request never answers until the fault ends."""
    async with start_region("healthy", tmp_path) as region, api_client(region) as api:

        async def neutron() -> tuple[int, str]:
            url = region.base_url + PATHS["neutron"]
            headers = {"X-Auth-Token": api.token}
            async with api.session.get(url, headers=headers) as resp:
                return resp.status, await resp.text()

        await region.set_fault("neutron", "503")
        status, text = await neutron()
        assert status == 503
        assert "No server is available" in text
        await region.set_fault("neutron", "hang")
        hung = asyncio.create_task(neutron())
        done, _ = await asyncio.wait({hung}, timeout=0.5)
        assert not done, "a hung service answered"
        await region.set_fault("neutron", None)
        status, _ = await asyncio.wait_for(hung, 5)
        assert status == 503


async def test_keystone_401_refuses_passwords_and_revokes_tokens(
    tmp_path: Path,
) -> None:
    """A token issued before the fault stops working; a new password login gets 401."""
    async with start_region("healthy", tmp_path) as region, api_client(region) as api:
        assert (await api.get(PATHS["nova"]))[0] == 200
        await region.set_fault("keystone", "401")
        assert (await api.get(PATHS["nova"]))[0] == 401
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": "x"}}}}}  # fmt: skip
        async with api.session.post(f"{region.auth_url}/auth/tokens", json=body) as r:
            assert r.status == 401
            assert json.loads(await r.text())["error"]["code"] == 401


async def test_ssh_hosts_refuse_hang_and_come_back_with_the_same_host_key(
    tmp_path: Path,
) -> None:
    """Refused: nothing listens; hang: the port accepts and sends no banner; back: the
    banner again, with the key known_hosts already holds."""
    async with start_region("healthy", tmp_path) as region:
        port, key = next(iter(region.ssh_endpoints.values()))
        await region.set_fault("ssh", "refused")
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        await region.set_fault("ssh", "hang")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.5)
        writer.close()
        await region.set_fault("ssh", None)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        banner = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert banner.startswith(b"SSH-2.0-")
        assert region.fleet._host_keys  # the same keys were reused
        names = list(region.ssh_endpoints)
        assert (
            region.fleet._host_keys[names[0]]
            .export_public_key("openssh")
            .decode()
            .split()[1]
            == key.split()[1]
        )


async def test_kubernetes_api_answers_an_internal_error_status(tmp_path: Path) -> None:
    """The API server's Status for a 500 (etcd not answering)."""
    async with start_region("libvirt-tls-expired-cert", tmp_path) as region:
        await region.set_fault("kubernetes", "500")
        url = f"http://127.0.0.1:{region.ports['k8s']}/api/v1/namespaces"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            body = await resp.json()
    assert resp.status == 500
    assert body["kind"] == "Status"
    assert body["reason"] == "InternalError"


def test_fault_specs_parse_and_unknown_ones_are_refused() -> None:
    """``family=mode[@after]`` as `sim up --fault` takes it."""
    assert parse_fault("keystone=revoke@5") == (
        "keystone",
        Fault(mode="revoke", after=5),
    )
    assert parse_fault("ssh=hang") == ("ssh", Fault(mode="hang"))
    for bad in ("nova=refused", "ssh=500", "glance=500", "nova", "nova=500@x"):
        with pytest.raises(FaultError):
            parse_fault(bad)

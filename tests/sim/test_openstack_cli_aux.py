"""The real `openstack` CLI (with osc-placement) reads Placement, Neutron and Cinder."""

from __future__ import annotations

import asyncio

import pytest

from sim.region.state import server_by_name, stable_uuid
from tests.conftest import SimRegionFactory
from tests.sim.test_openstack_cli import OPENSTACK, _osc

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not OPENSTACK.exists(), reason="python-openstackclient not installed"
    ),
]


async def test_cli_reads_placement_port_and_volume_services(
    sim_region_factory: SimRegionFactory,
) -> None:
    """inventory list, port show and volume service list return the scenario's values."""
    async with sim_region_factory("storage-iscsi") as region:
        scenario = region.scenario
        vm = scenario.expect.vm  # type: ignore[union-attr]
        server = server_by_name(region.state, vm)
        dest = next(
            h
            for h in scenario.hosts
            if h != server["host"] and scenario.hosts[h].cinder_volume is False
        )
        provider = stable_uuid(scenario.name, "rp", dest)
        port_id = next(iter(region.state.port_bindings))
        results = await asyncio.gather(
            _osc(region, "resource", "provider", "inventory", "list", provider),
            _osc(region, "port", "show", port_id),
            _osc(region, "volume", "service", "list"),
        )
    (_, inventory, _), (_, port, _), (_, services, _) = results
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    resources = scenario.hosts[dest].resources
    by_class = {row["resource_class"]: row for row in inventory}
    assert by_class["VCPU"]["total"] == resources.vcpus
    assert by_class["MEMORY_MB"]["total"] == resources.memory_mb
    assert by_class["MEMORY_MB"]["reserved"] == resources.reserved_memory_mb
    assert port["id"] == port_id
    assert port["binding_host_id"] == server["host"]
    volume_services = {
        s["Host"]: s["State"] for s in services if s["Binary"] == "cinder-volume"
    }
    assert volume_services, services
    assert set(volume_services.values()) <= {"up", "down"}

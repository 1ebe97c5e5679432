"""Placement, Neutron and Cinder over real HTTP answer with the real services' shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sim.api import cinder, neutron
from sim.api.placement import routes as placement
from sim.region.state import RegionState, stable_uuid
from tests.sim_aux import region_state

pytestmark = pytest.mark.integration
PLACEMENT = {"OpenStack-API-Version": "placement 1.39"}


@pytest.fixture
async def api() -> AsyncIterator[tuple[RegionState, TestClient]]:
    state = region_state()
    app = web.Application()
    for service in (placement, neutron, cinder):
        service.add_routes(app, state)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield state, client


def rp(state: RegionState, host: str) -> str:
    return stable_uuid(state.scenario.name, "rp", host)


async def test_placement_root_negotiates_microversions(api) -> None:
    """The root lists 1.0..1.39; an unsupported version gets 406 with max_version."""
    _, client = api
    root = await client.get("/placement/")
    bad = await client.get(
        "/placement/resource_providers",
        headers={"OpenStack-API-Version": "placement 1.99"},
    )
    assert (await root.json())["versions"][0]["max_version"] == "1.39"
    assert bad.status == 406
    assert (await bad.json())["errors"][0]["max_version"] == "1.39"
    assert root.headers["x-openstack-request-id"].startswith("req-")


async def test_placement_inventories_and_usages(api) -> None:
    """Inventories come from Host.resources; usages add the server's allocation."""
    state, client = api
    inv = await (
        await client.get(
            f"/placement/resource_providers/{rp(state, 'cmp-1')}/inventories",
            headers=PLACEMENT,
        )
    ).json()
    use = await (
        await client.get(
            f"/placement/resource_providers/{rp(state, 'cmp-1')}/usages",
            headers=PLACEMENT,
        )
    ).json()
    assert inv["inventories"]["MEMORY_MB"] == {
        "allocation_ratio": 1.0,
        "max_unit": 262144,
        "min_unit": 1,
        "reserved": 512,
        "step_size": 1,
        "total": 262144,
    }
    assert use["usages"] == {"DISK_GB": 40, "MEMORY_MB": 4096, "VCPU": 2}
    assert inv["resource_provider_generation"] == use["resource_provider_generation"]


async def test_placement_traits_mark_disabled_compute(api) -> None:
    """A disabled compute service's provider carries COMPUTE_STATUS_DISABLED."""
    state, client = api
    body = await (
        await client.get(
            f"/placement/resource_providers/{rp(state, 'cmp-5')}/traits",
            headers=PLACEMENT,
        )
    ).json()
    cpu = await (
        await client.get(
            f"/placement/resource_providers/{rp(state, 'cmp-1')}/traits",
            headers=PLACEMENT,
        )
    ).json()
    assert "COMPUTE_STATUS_DISABLED" in body["traits"]
    assert "COMPUTE_STATUS_DISABLED" not in cpu["traits"]
    assert "HW_CPU_X86_AVX512F" in cpu["traits"]


async def test_placement_allocation_candidates_filter_capacity_aggregates_traits(
    api,
) -> None:
    """Candidates exclude full hosts, honour member_of and forbidden traits."""
    state, client = api
    agg = stable_uuid(state.scenario.name, "agg", "agg-a")
    url = "/placement/allocation_candidates?resources=VCPU:2,MEMORY_MB:4096"
    everyone = await (
        await client.get(url + "&required=!COMPUTE_STATUS_DISABLED", headers=PLACEMENT)
    ).json()
    in_agg = await (
        await client.get(f"{url}&member_of=in:{agg}", headers=PLACEMENT)
    ).json()
    summaries = everyone["provider_summaries"]
    assert set(summaries) == {rp(state, h) for h in ("cmp-1", "cmp-3", "cmp-4")}
    assert set(in_agg["provider_summaries"]) == {rp(state, "cmp-1")}  # cmp-2 is full
    request = in_agg["allocation_requests"][0]
    assert request == {
        "allocations": {
            rp(state, "cmp-1"): {"resources": {"VCPU": 2, "MEMORY_MB": 4096}}
        },
        "mappings": {"": [rp(state, "cmp-1")]},
    }
    assert summaries[rp(state, "cmp-1")]["resources"]["VCPU"] == {
        "capacity": 256,
        "used": 2,
    }


async def test_placement_consumer_allocations_and_404(api) -> None:
    """A server's allocations carry owner and consumer fields; an unknown provider is 404."""
    state, client = api
    server_id = next(iter(state.servers))
    body = await (
        await client.get(f"/placement/allocations/{server_id}", headers=PLACEMENT)
    ).json()
    missing = await client.get("/placement/resource_providers/nope", headers=PLACEMENT)
    assert set(body) == {
        "allocations",
        "consumer_generation",
        "consumer_type",
        "project_id",
        "user_id",
    }
    assert missing.status == 404
    error = (await missing.json())["errors"][0]
    assert error["title"] == "Not Found"
    assert error["detail"].endswith("No resource provider with uuid nope found  ")


async def test_neutron_port_with_active_and_inactive_bindings(api) -> None:
    """The port shows the active binding; /bindings also lists the stale inactive one."""
    state, client = api
    server_id = next(iter(state.servers))
    ports = (
        await (await client.get(f"/network/v2.0/ports?device_id={server_id}")).json()
    )["ports"]
    port = ports[0]
    bindings = await (
        await client.get(f"/network/v2.0/ports/{port['id']}/bindings")
    ).json()
    assert (port["binding:host_id"], port["binding:vif_type"], port["status"]) == (
        "cmp-1",
        "ovs",
        "ACTIVE",
    )
    assert {(b["host"], b["status"]) for b in bindings["bindings"]} == {
        ("cmp-1", "ACTIVE"),
        ("cmp-2", "INACTIVE"),
    }
    assert (await client.get("/network/v2.0/ports?device_id=other")).status == 200


async def test_neutron_errors_and_agents(api) -> None:
    """Unknown port is a NeutronError PortNotFound; a host's agent is dead as the scenario says."""
    _, client = api
    missing = await client.get("/network/v2.0/ports/abc")
    agents = (
        await (
            await client.get("/network/v2.0/agents?host=cmp-5&binary=ovn-controller")
        ).json()
    )["agents"]
    extensions = (await (await client.get("/network/v2.0/extensions")).json())[
        "extensions"
    ]
    assert missing.status == 404
    assert await missing.json() == {
        "NeutronError": {
            "type": "PortNotFound",
            "message": "Port abc could not be found.",
            "detail": "",
        }
    }
    assert [(a["agent_type"], a["alive"]) for a in agents] == [
        ("OVN Controller agent", False)
    ]
    assert "binding-extended" in {e["alias"] for e in extensions}


async def test_cinder_services_follow_the_volume_unit(api) -> None:
    """cinder-volume on a storage host whose unit failed is down; the version doc is 300."""
    state, client = api
    project = next(iter(state.servers.values()))["project_id"]
    root = await client.get("/volume/")
    services = (
        await (
            await client.get(
                f"/volume/v3/{project}/os-services",
                headers={"OpenStack-API-Version": "volume 3.70"},
            )
        ).json()
    )["services"]
    states = {(s["binary"], s["host"]): s["state"] for s in services}
    assert root.status == 300
    assert states[("cinder-volume", "cmp-5@lvm")] == "down"
    assert states[("cinder-scheduler", "ctl-01")] == "down"  # its pod is crash-looping


async def test_cinder_volumes_and_attachments(api) -> None:
    """Volume detail shows the attachment and backend host; attachments need 3.27."""
    state, client = api
    server = next(iter(state.servers.values()))
    base = f"/volume/v3/{server['project_id']}"
    latest = {"OpenStack-API-Version": "volume 3.70"}
    volumes = (
        await (await client.get(f"{base}/volumes/detail", headers=latest)).json()
    )["volumes"]
    old = await client.get(
        f"{base}/attachments", headers={"OpenStack-API-Version": "volume 3.0"}
    )
    attachments = (
        await (await client.get(f"{base}/attachments", headers=latest)).json()
    )["attachments"]
    missing = await client.get(f"{base}/volumes/nope")
    volume = volumes[0]
    assert volume["os-vol-host-attr:host"] == "cmp-5@lvm#LVM"
    assert volume["attachments"][0]["server_id"] == server["id"]
    assert old.status == 404
    assert attachments == [
        {
            "id": volume["attachments"][0]["attachment_id"],
            "status": "attached",
            "instance": server["id"],
            "volume_id": volume["id"],
        }
    ]
    assert await missing.json() == {
        "itemNotFound": {"message": "Volume nope could not be found.", "code": 404}
    }

"""The writes a remediation suggests, sent by the real `openstack` CLI and openstacksdk.

compute service set (legacy actions below 2.53, PUT /os-services/{uuid} from 2.53),
aggregate add host, and DELETE /v2.0/ports/{id}/bindings/{host} (no CLI command: the
remediation sends it through openstacksdk, as here).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exc

from sim.region.state import server_by_name
from sim.testing import api_client
from sim.wiring import Region
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
OPENSTACK = Path(sys.executable).parent / "openstack"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not OPENSTACK.exists(), reason="python-openstackclient not installed"
    ),
]


async def _osc(region: Region, *args: str) -> tuple[int, Any, str]:
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(region.paths["clouds"]))
    env.pop("OS_CLOUD", None)
    proc = await asyncio.create_subprocess_exec(
        str(OPENSTACK), "--os-cloud", "sim", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    text = out.decode()
    body = json.loads(text) if proc.returncode == 0 and text.strip() else text
    return proc.returncode or 0, body, err.decode()


def _compute_row(services: list[dict[str, Any]], host: str) -> tuple[str, str, Any]:
    row = next(
        s for s in services if s["host"] == host and s["binary"] == "nova-compute"
    )
    return row["status"], row["state"], row["disabled_reason"]


@pytest.mark.parametrize("version", ["2.11", "2.96"])  # legacy actions, then PUT by id
async def test_compute_service_set(
    sim_region_factory: SimRegionFactory, version: str
) -> None:
    """--disable with a reason, --down, --up, --enable: each shows in os-services."""
    v = ["--os-compute-api-version", version]
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        seen = []
        for flags in (["--disable", "--disable-reason", "kernel update"], ["--down"],
                      ["--up"], ["--enable"]):  # fmt: skip
            code, _, err = await _osc(
                region, *v, "compute", "service", "set", *flags, "cmp-a-02",
                "nova-compute",
            )  # fmt: skip
            assert code == 0, err
            _, listed, _ = await api.get("/compute/v2.1/os-services", "2.11")
            seen.append(_compute_row(listed["services"], "cmp-a-02"))
        code, _, err = await _osc(
            region, *v, "compute", "service", "set", "--up", "ctl-01", "nova-conductor"
        )
    assert seen == [
        ("disabled", "up", "kernel update"),
        ("disabled", "down", "kernel update"),
        ("disabled", "up", "kernel update"),
        ("enabled", "up", None),
    ]
    # only nova-compute services can be updated (at 2.53+ found by host and binary first)
    assert code == 1


async def test_service_update_refusals_are_novas(
    sim_region_factory: SimRegionFactory,
) -> None:
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, listed, _ = await api.get("/compute/v2.1/os-services", "2.53")
        ids = {(s["host"], s["binary"]): s["id"] for s in listed["services"]}
        compute = ids[("cmp-a-02", "nova-compute")]
        replies = [
            await api.request("PUT", f"/compute/v2.1/os-services/{sid}", version=ver,
                              json=body)
            for sid, ver, body in [
                (compute, "2.53", {}),
                (compute, "2.53", {"status": "enabled", "disabled_reason": "x"}),
                (ids[("ctl-01", "nova-scheduler")], "2.53", {"status": "disabled"}),
                ("not-a-uuid", "2.53", {"status": "disabled"}),
                ("3c4e1a4c-0d1e-4a51-9b8b-000000000000", "2.53", {"status": "disabled"}),
                ("force-down", "2.10", {"host": "cmp-a-02", "binary": "nova-compute"}),
                ("disable", "2.1", {"host": "nope", "binary": "nova-compute"}),
            ]
        ]  # fmt: skip
    assert [(status, next(iter(body.values()))["message"]) for status, body, _ in replies] == [
        (400, "No updates were requested. Fields 'status' or 'forced_down' should be specified."),
        (400, "Specifying 'disabled_reason' with status 'enabled' is invalid."),
        (400, "Updating a nova-scheduler service is not supported. Only nova-compute services can be updated."),
        (400, "Invalid uuid not-a-uuid"),
        (404, "Service 3c4e1a4c-0d1e-4a51-9b8b-000000000000 could not be found."),
        (404, "Unknown action"),
        (404, "Could not find binary nova-compute on host nope."),
    ]  # fmt: skip


async def test_service_changes_reach_the_rest_of_nova(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Disabled: host_status MAINTENANCE; forced down: DOWN, and evacuation is accepted."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")
        _, listed, _ = await api.get("/compute/v2.1/os-services", "2.53")
        sid = next(s["id"] for s in listed["services"] if s["host"] == web["host"])
        action = f"/compute/v2.1/servers/{web['id']}/action"
        refused, _, _ = await api.post(action, {"evacuate": {}}, "2.96")
        seen = []
        for change in ({"status": "disabled"}, {"forced_down": True}):
            status, _, _ = await api.request(
                "PUT", f"/compute/v2.1/os-services/{sid}", version="2.53", json=change
            )
            _, shown, _ = await api.get(f"/compute/v2.1/servers/{web['id']}", "2.16")
            seen.append((status, shown["server"]["host_status"]))
        accepted, _, _ = await api.post(action, {"evacuate": {}}, "2.96")
        await region.wait_idle()
    assert refused == 400
    assert seen == [(200, "MAINTENANCE"), (200, "DOWN")]
    assert accepted == 200


async def test_aggregate_add_host(sim_region_factory: SimRegionFactory) -> None:
    async with sim_region_factory(SCENARIO) as region:
        added = await _osc(region, "aggregate", "add", "host", "agg-skylake-legacy",
                           "cmp-a-02", "-f", "json")  # fmt: skip
        again = await _osc(region, "aggregate", "add", "host", "agg-skylake-legacy",
                           "cmp-a-02")  # fmt: skip
        shown = await _osc(
            region, "aggregate", "show", "agg-skylake-legacy", "-f", "json"
        )
        unknown = await _osc(region, "aggregate", "add", "host", "agg-skylake-legacy",
                             "cmp-z-09")  # fmt: skip
    assert added[0] == 0, added[2]
    assert shown[1]["hosts"] == ["cmp-a-03", "cmp-a-02"]
    assert again[0] == 1
    assert again[2].startswith("ConflictException: 409")
    assert again[2].rstrip().endswith("Aggregate 4 already has host cmp-a-02.")
    assert unknown[0] == 1
    assert unknown[2].rstrip().endswith("Compute host cmp-z-09 could not be found.")


async def test_add_host_refuses_a_second_availability_zone(
    sim_region_factory: SimRegionFactory,
) -> None:
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, listed, _ = await api.get("/compute/v2.1/os-aggregates", "2.41")
        ids = {a["name"]: a["id"] for a in listed["aggregates"]}
        status, body, _ = await api.post(
            f"/compute/v2.1/os-aggregates/{ids['agg-az-2']}/action",
            {"add_host": {"host": "cmp-a-01"}},
            "2.41",
        )
    assert status == 409
    assert "One or more hosts already in availability zone(s) ['az-1']" in (
        body["conflictingRequest"]["message"])  # fmt: skip


def _connect(region: Region, cloud: str) -> openstack.connection.Connection:
    config = openstack.config.OpenStackConfig(
        config_files=[str(region.paths["clouds"])]
    )
    return openstack.connection.Connection(config=config.get_one(cloud))


async def test_port_binding_delete_needs_the_service_role(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Admin may show but not delete (403); Nova's service user deletes (204), then 404."""
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")
        port, host = web["port_ids"][0], web["host"]

        def run() -> list[Any]:
            results: list[Any] = []
            for cloud in ("sim", "sim-service"):
                conn = _connect(region, cloud)
                try:
                    conn.network.delete_port_binding(port, host, ignore_missing=False)
                    results.append(204)
                except sdk_exc.HttpException as exc:
                    results.append((exc.status_code, exc.details))
            # the SDK lists the bindings before deleting: ask the API itself once more
            reply = conn.network.delete(
                f"/ports/{port}/bindings/{host}", raise_exc=False
            )
            results.append((reply.status_code, reply.json()))
            return results

        admin, service, missing = await asyncio.to_thread(run)
        left = set(region.state.port_bindings[port])
    assert admin == (403, "rule:delete_port_binding is disallowed by policy")
    assert service == 204
    assert missing == (404, {"NeutronError": {
        "type": "PortBindingNotFound", "detail": "",
        "message": f"Binding for port {port} for host {host} could not be found."}})  # fmt: skip
    assert host not in left

"""The real `openstack` CLI against a simulated region gets the scenario's values."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from sim.region.state import server_by_name
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
OPENSTACK = Path(sys.executable).parent / "openstack"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not OPENSTACK.exists(), reason="python-openstackclient not installed"
    ),
]


async def _osc(region, *args: str, json_output: bool = True) -> tuple[int, object, str]:
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(region.paths["clouds"]))
    env.pop("OS_CLOUD", None)
    argv = [str(OPENSTACK), "--os-cloud", "sim", *args] + (
        ["-f", "json"] if json_output else []
    )
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    body = json.loads(out) if json_output and proc.returncode == 0 else out.decode()
    return proc.returncode or 0, body, err.decode()


async def test_cli_reads_server_migrations_and_events(
    sim_region_factory: SimRegionFactory,
) -> None:
    """server show / migration list / event list / event show return the scenario's values."""
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")["id"]
        req = next(a.request_id for a in region.state.actions
                   if a.instance_uuid == web and a.action == "live-migration")  # fmt: skip
        results = await asyncio.gather(
            _osc(region, "server", "show", web),
            _osc(region, "server", "migration", "list", "--server", web),
            _osc(region, "server", "event", "list", web),
            _osc(region, "server", "event", "show", web, req),
        )
    (_, server, _), (_, migrations, _), (_, events, _), (_, action, _) = results
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    assert (server["OS-EXT-SRV-ATTR:host"], server["status"]) == ("cmp-a-01", "ACTIVE")
    assert [(m["Status"], m["Dest Compute"], m["Type"]) for m in migrations] == [
        ("error", "cmp-a-03", "live-migration")]  # fmt: skip
    assert [e["Action"] for e in events] == ["live-migration", "create"]
    assert action["message"] == "Error"
    failed = {e["event"]: e["result"] for e in action["events"]}
    assert failed["compute_check_can_live_migrate_destination"] == "Error"


async def test_cli_reads_admin_views(sim_region_factory: SimRegionFactory) -> None:
    """compute service list, hypervisor show, aggregate show, availability zone list --long."""
    async with sim_region_factory(SCENARIO) as region:
        results = await asyncio.gather(
            _osc(region, "compute", "service", "list"),
            _osc(region, "hypervisor", "show", "cmp-a-03"),
            _osc(region, "aggregate", "show", "agg-skylake-legacy"),
            _osc(region, "availability", "zone", "list", "--compute", "--long"),
        )
    (_, services, _), (_, hypervisor, _), (_, aggregate, _), (_, zones, _) = results
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    down = {
        s["Host"]: (s["Status"], s["State"])
        for s in services
        if s["Binary"] == "nova-compute"
    }
    assert down["cmp-c-01"] == ("disabled", "down")
    assert down["cmp-b-02"] == ("disabled", "up")
    assert (hypervisor["host_ip"], hypervisor["state"]) == ("10.20.1.13", "up")
    assert aggregate["hosts"] == ["cmp-a-03"]
    listed = {(z["Zone Name"], z["Host Name"]) for z in zones}
    assert ("az-1", "cmp-a-03") in listed
    assert ("az-3", "cmp-c-01") not in listed  # disabled services are not listed


async def test_cli_live_migration_fails_then_succeeds_as_nova_would(
    sim_region_factory,
) -> None:
    """The older-CPU host and a stopped server are refused with Nova's messages; a good host works.

    The CLI negotiates a microversion below 2.34 for this call, so Nova's conductor
    pre-check error comes back synchronously as a 400, with the migration left in error.
    """
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")
        stopped = server_by_name(region.state, "stopped-01")["id"]
        bad, refused = await asyncio.gather(
            _osc(region, "server", "migrate", "--live-migration", "--host", "cmp-a-03",
                 web["id"], json_output=False),
            _osc(region, "server", "migrate", "--live-migration", "--host", "cmp-a-01",
                 stopped, json_output=False),
        )  # fmt: skip
        await region.wait_idle()
        failed = region.state.migrations[-1]
        good = await _osc(region, "server", "migrate", "--live-migration", "--host", "cmp-a-02",
                          web["id"], json_output=False)  # fmt: skip
        await region.wait_idle()
    assert bad[0] == 1
    assert "Unacceptable CPU info: CPU doesn't have compatibility." in bad[2]
    assert (failed.status, failed.dest_compute) == ("error", "cmp-a-03")
    assert refused[0] == 1
    assert (
        f"Cannot 'os-migrateLive' instance {stopped} while it is in vm_state stopped"
        in refused[2]
    )
    assert good[0] == 0, good[2]
    assert (region.state.migrations[-1].status, web["host"]) == (
        "completed",
        "cmp-a-02",
    )

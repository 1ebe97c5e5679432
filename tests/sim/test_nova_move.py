"""POST /servers/{id}/action: Nova's validation, then the scenario's outcome."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.region.state import server_by_name
from sim.testing import api_client
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"
LIVE = {"os-migrateLive": {"host": "cmp-a-03", "block_migration": "auto"}}


@pytest.mark.parametrize(
    ("server", "body", "version", "status", "message"),
    [
        (
            "stopped-01",
            LIVE,
            "2.96",
            409,
            "Cannot 'os-migrateLive' instance {id} while it is in vm_state stopped",
        ),
        (
            "web-01",
            {"os-migrateLive": {"host": "nope", "block_migration": "auto"}},
            "2.96",
            400,
            "Compute host nope could not be found.",
        ),
        (
            "web-01",
            {
                "os-migrateLive": {
                    "host": "cmp-a-01",
                    "block_migration": False,
                    "disk_over_commit": False,
                }
            },
            "2.20",
            400,
            "Unable to migrate instance ({id}) to current host (cmp-a-01).",
        ),
        (
            "web-01",
            {"migrate": {"host": "cmp-a-01"}},
            "2.56",
            400,
            "Cannot migrate to the host where the server exists.",
        ),
        (
            "web-01",
            {"evacuate": {}},
            "2.96",
            400,
            "Compute service of cmp-a-01 is still in use.",
        ),
        (
            "web-01",
            {"os-migrateLive": {"host": None}},
            "2.96",
            400,
            'Invalid input for field/attribute os-migrateLive. Value: {{"host": null}}. '
            "'block_migration' is a required property",
        ),
    ],
    ids=[
        "stopped",
        "unknown-host",
        "to-self-below-2.34",
        "cold-same-host",
        "evacuate-up",
        "schema",
    ],
)
async def test_refusals_carry_novas_messages(
    sim_region_factory: SimRegionFactory, server, body, version, status, message
) -> None:
    """Invalid moves are refused synchronously with Nova's status and message."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        sid = server_by_name(region.state, server)["id"]
        got, reply, _ = await api.post(
            f"/compute/v2.1/servers/{sid}/action", body, version
        )
    assert got == status
    assert next(iter(reply.values())) == {
        "code": status,
        "message": message.format(id=sid),
    }


async def test_member_is_forbidden(sim_region_factory: SimRegionFactory) -> None:
    """Live migration is admin-only by policy."""
    async with sim_region_factory(SCENARIO) as region:
        sid = server_by_name(region.state, "locked-01")["id"]
        async with api_client(region, "demo") as api:
            status, reply, _ = await api.post(
                f"/compute/v2.1/servers/{sid}/action", LIVE, "2.96"
            )
    assert status in (403, 404)
    assert next(iter(reply)) in ("forbidden", "itemNotFound")


async def test_live_migration_runs_on_migrate_outcome(
    sim_region_factory: SimRegionFactory,
) -> None:
    """A 202 runs on_migrate: new migration in error, action with the API request id, logs."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")
        before = len(region.state.migrations)
        status, _, headers = await api.post(
            f"/compute/v2.1/servers/{web['id']}/action", LIVE, "2.96"
        )
        await region.wait_idle()
        _, migs, _ = await api.get(
            f"/compute/v2.1/os-migrations?instance_uuid={web['id']}", "2.80"
        )
        req = headers["x-openstack-request-id"]
        _, action, _ = await api.get(
            f"/compute/v2.1/servers/{web['id']}/os-instance-actions/{req}", "2.84"
        )
    assert status == 202
    assert len(region.state.migrations) == before + 1
    newest = migs["migrations"][0]
    assert (newest["status"], newest["dest_compute"], newest["migration_type"]) == (
        "error", "cmp-a-03", "live-migration")  # fmt: skip
    events = {e["event"]: e for e in action["instanceAction"]["events"]}
    assert events["compute_check_can_live_migrate_destination"]["result"] == "Error"
    logs = region.state.host_logs["cmp-a-03"]["/var/log/pf9/ostackhost.log"]
    assert any(req in line.text for line in logs)
    assert (web["status"], web["task_state"]) == ("ACTIVE", None)


async def test_live_migration_to_other_host_succeeds(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Asking for a host the scenario does not fail on completes and moves the server."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")
        body = {"os-migrateLive": {"host": "cmp-a-02", "block_migration": "auto"}}
        status, _, _ = await api.post(
            f"/compute/v2.1/servers/{web['id']}/action", body, "2.96"
        )
        await region.wait_idle()
    assert status == 202
    assert region.state.migrations[-1].status == "completed"
    assert web["host"] == "cmp-a-02"


async def test_below_234_precheck_error_is_400(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Below 2.34 the conductor pre-check failure comes back as a 400 with its message."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")["id"]
        body = {
            "os-migrateLive": {
                "host": "cmp-a-03",
                "block_migration": False,
                "disk_over_commit": False,
            }
        }
        status, reply, _ = await api.post(
            f"/compute/v2.1/servers/{web}/action", body, "2.30"
        )
    assert status == 400
    assert reply["badRequest"]["message"].startswith("Unacceptable CPU info")
    assert region.state.actions[-1].events[-1].event in {
        "conductor_migrate_server", "compute_check_can_live_migrate_destination"}  # fmt: skip


async def test_to_self_at_234_is_async_error(
    sim_region_factory: SimRegionFactory,
) -> None:
    """From 2.34 a live migration to the current host is accepted, then fails in the conductor."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")["id"]
        body = {"os-migrateLive": {"host": "cmp-a-01", "block_migration": "auto"}}
        status, _, _ = await api.post(
            f"/compute/v2.1/servers/{web}/action", body, "2.96"
        )
        await region.wait_idle()
    assert status == 202
    assert region.state.migrations[-1].status == "error"
    assert region.state.actions[-1].events[0].details == (
        f"Unable to migrate instance ({web}) to current host (cmp-a-01).")  # fmt: skip


async def test_statuses_pass_through_novas_sequence(
    sim_region_factory: SimRegionFactory,
) -> None:
    """A successful live migration is accepted first and completed after the steps."""
    async with (
        sim_region_factory(SCENARIO, move_step_s=0.0) as region,
        api_client(region) as api,
    ):
        ok = server_by_name(region.state, "ok-lm-01")
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        await api.post(f"/compute/v2.1/servers/{ok['id']}/action", body, "2.96")
        await region.wait_idle()
    migration = region.state.migrations[-1]
    assert region.move_runner.status_history[migration.id] == [
        "accepted", "queued", "preparing", "running", "completed"]  # fmt: skip
    assert ok["host"] == "cmp-a-01"
    assert (ok["status"], ok["task_state"]) == ("ACTIVE", None)

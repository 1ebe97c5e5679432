"""Abort and force-complete of a running live migration, as Nova answers and acts on them.

Status codes, microversion gating and error texts from nova/api/openstack/compute/
server_migrations.py and nova/compute/api.py; the state changes and notifications from
nova/compute/manager.py (live_migration_abort → rollback with status cancelled;
live_migration_force_complete → _post_live_migration).
"""

from __future__ import annotations

import pytest

from sim.region.state import server_by_name
from sim.testing import api_client
from tests.conftest import SimRegionFactory

pytestmark = pytest.mark.integration
SCENARIO = "live-migration-not-converging"


def _ids(region) -> tuple[str, int]:
    server = server_by_name(region.state, "cache-02")
    (m,) = [m for m in region.state.migrations if m.instance_uuid == server["id"]]
    return server["id"], m.id


async def test_abort_rolls_back_to_the_source(
    sim_region_factory: SimRegionFactory,
) -> None:
    """202; then cancelled, ACTIVE on the source, the destination's binding gone, Nova's
    notifications; a second abort is 409 (task_state None)."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        vm, mid = _ids(region)
        path = f"/compute/v2.1/servers/{vm}/migrations/{mid}"
        status, body, _ = await api.request("DELETE", path, version="2.23")
        assert (status, body) == (
            404,
            {
                "itemNotFound": {
                    "code": 404,
                    "message": "The resource could not be found.",
                }
            },
        )
        status, body, _ = await api.request("DELETE", f"{path}9", version="2.24")
        assert (status, body["itemNotFound"]["message"]) == (
            404,
            f"Migration {mid}9 not found for instance {vm}",
        )
        port = region.state.servers[vm]["port_ids"][0]
        assert region.state.port_bindings[port]["cmp-a-03"]["status"] == "INACTIVE"
        status, _, headers = await api.request("DELETE", path, version="2.24")
        assert status == 202
        await region.wait_idle()
        (m,) = [m for m in region.state.migrations if m.id == mid]
        server = region.state.servers[vm]
        assert m.status == "cancelled"
        assert (server["status"], server["vm_state"], server["task_state"]) == (
            "ACTIVE",
            "active",
            None,
        )
        assert server["host"] == "cmp-a-01"
        assert "cmp-a-03" not in region.state.port_bindings[port]
        cancel = [
            a for a in region.state.actions if a.action == "live_migration_cancel"
        ]
        assert [a.request_id for a in cancel] == [headers["x-openstack-request-id"]]
        assert [e.event for e in cancel[0].events] == ["compute_live_migration_abort"]
        assert [n[1] for n in region.state.notifications[-4:]] == [
            "instance.live_migration_abort.start",
            "instance.live_migration_abort.end",
            "instance.live_migration_rollback.start",
            "instance.live_migration_rollback.end",
        ]
        log = region.state.host_logs["cmp-a-01"]["/var/log/pf9/ostackhost.log"]
        assert log[-1].text.endswith("Migration operation was cancelled")
        status, body, _ = await api.request("DELETE", path, version="2.24")
        assert (status, body["conflictingRequest"]["message"]) == (
            409,
            f"Cannot 'abort live migration' instance {vm} while it is in task_state None",
        )
        status, _, _ = await api.get(path, "2.24")
        assert status == 404  # no longer in progress


async def test_force_complete_finishes_on_the_destination(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Only ``{"force_complete": null}`` at 2.22+; then completed, ACTIVE on the
    destination with its binding active; afterwards 409."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        vm, mid = _ids(region)
        path = f"/compute/v2.1/servers/{vm}/migrations/{mid}/action"
        status, _, _ = await api.post(path, {"force_complete": None}, "2.21")
        assert status == 404
        status, body, _ = await api.post(path, {"force_complete": {}}, "2.22")
        assert (status, body["badRequest"]["message"]) == (
            400,
            "Invalid input for field/attribute force_complete. Value: {}. "
            "{} is not of type 'null'",
        )
        status, body, _ = await api.post(path, {"pause": None}, "2.22")
        assert (status, body["itemNotFound"]["message"]) == (
            404,
            "There is no such action: pause",
        )
        status, _, _ = await api.post(path, {"force_complete": None}, "2.22")
        assert status == 202
        await region.wait_idle()
        server = region.state.servers[vm]
        (m,) = [m for m in region.state.migrations if m.id == mid]
        assert m.status == "completed"
        assert (server["host"], server["status"], server["task_state"]) == (
            "cmp-a-03",
            "ACTIVE",
            None,
        )
        port = server["port_ids"][0]
        assert {
            h: b["status"] for h, b in region.state.port_bindings[port].items()
        } == {"cmp-a-03": "ACTIVE"}
        assert [n[1] for n in region.state.notifications[-6:-4]] == [
            "instance.live_migration_force_complete.start",
            "instance.live_migration_force_complete.end",
        ]
        status, body, _ = await api.post(path, {"force_complete": None}, "2.22")
        assert (status, body["conflictingRequest"]["message"]) == (
            409,
            f"Cannot 'force_complete' instance {vm} while it is in task_state None",
        )


@pytest.mark.parametrize(
    ("method", "word"),
    [("abort", "abort live migration"), ("force", "force complete")],
)
async def test_a_migration_not_running_is_refused(
    sim_region_factory: SimRegionFactory, method: str, word: str
) -> None:
    """400 InvalidMigrationState for a migration in another status (post-copy here)."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        vm, mid = _ids(region)
        (m,) = [m for m in region.state.migrations if m.id == mid]
        m.status = "running (post-copy)"
        path = f"/compute/v2.1/servers/{vm}/migrations/{mid}"
        if method == "abort":
            status, body, _ = await api.request("DELETE", path, version="2.24")
        else:
            status, body, _ = await api.post(
                f"{path}/action", {"force_complete": None}, "2.22"
            )
        assert (status, body["badRequest"]["message"]) == (
            400,
            f"Migration {mid} state of instance {vm} is running (post-copy). "
            f"Cannot {word} while the migration is in this state.",
        )
        assert m.status == "running (post-copy)"


async def test_a_member_may_not_abort(sim_region_factory: SimRegionFactory) -> None:
    """The default policy is admin-only: 403 and nothing changes."""
    async with (
        sim_region_factory(SCENARIO) as region,
        api_client(region, "demo") as api,
    ):
        vm, mid = _ids(region)
        status, body, _ = await api.request(
            "DELETE", f"/compute/v2.1/servers/{vm}/migrations/{mid}", version="2.24"
        )
        assert (status, body["forbidden"]["message"]) == (
            403,
            "Policy doesn't allow os_compute_api:servers:migrations:delete to be performed.",
        )
        assert region.state.migrations[-1].status == "running"

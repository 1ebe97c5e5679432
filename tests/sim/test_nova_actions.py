"""os-instance-actions: list, show, event fields per microversion and role."""

from __future__ import annotations

from pathlib import Path

from sim.region.state import server_by_name
from sim.testing import api_client
from tests.conftest import SimRegionFactory

SCENARIO = Path(__file__).parent / "data" / "live-web01.yaml"


async def _live_action(region, api, version):
    web = server_by_name(region.state, "web-01")["id"]
    _, listed, _ = await api.get(
        f"/compute/v2.1/servers/{web}/os-instance-actions", version
    )
    req = next(
        a["request_id"]
        for a in listed["instanceActions"]
        if a["action"] == "live-migration"
    )
    _, shown, _ = await api.get(
        f"/compute/v2.1/servers/{web}/os-instance-actions/{req}", version
    )
    return listed, shown["instanceAction"]


async def test_list_is_newest_first_with_updated_at_from_258(
    sim_region_factory,
) -> None:
    """Actions come newest first; updated_at appears at 2.58."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        old, _ = await _live_action(region, api, "2.57")
        new, _ = await _live_action(region, api, "2.58")
    assert [a["action"] for a in new["instanceActions"]] == ["live-migration", "create"]
    assert "updated_at" not in old["instanceActions"][0]
    assert "updated_at" in new["instanceActions"][0]


async def test_event_fields_per_microversion_for_admin(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Admins see traceback always, host/hostId from 2.62 and details from 2.84."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        _, v21 = await _live_action(region, api, "2.1")
        _, v62 = await _live_action(region, api, "2.62")
        _, v84 = await _live_action(region, api, "2.84")
    base = {"event", "start_time", "finish_time", "result", "traceback"}
    assert set(v21["events"][0]) == base
    assert set(v62["events"][0]) == base | {"host", "hostId"}
    assert set(v84["events"][0]) == base | {"host", "hostId", "details"}
    dest = next(
        e
        for e in v84["events"]
        if e["event"] == "compute_check_can_live_migrate_destination"
    )
    assert (dest["result"], dest["host"]) == ("Error", "cmp-a-03")
    assert dest["details"].startswith(
        "Unacceptable CPU info: CPU doesn't have compatibility."
    )
    assert v84["message"] == "Error"


async def test_members_see_no_traceback_host_or_details(
    sim_region_factory: SimRegionFactory,
) -> None:
    """Non-admins get hostId only, as live/*.nonadmin.v2.104 shows."""
    async with sim_region_factory(SCENARIO) as region:
        web = server_by_name(region.state, "web-01")
        web_id = web["id"]
        async with api_client(region, "demo") as api:
            _, listed, _ = await api.get(
                f"/compute/v2.1/servers/{web_id}/os-instance-actions", "2.84"
            )
            req = listed["instanceActions"][0]["request_id"]
            _, shown, _ = await api.get(
                f"/compute/v2.1/servers/{web_id}/os-instance-actions/{req}", "2.84"
            )
    assert set(shown["instanceAction"]["events"][0]) == {
        "event",
        "start_time",
        "finish_time",
        "result",
        "hostId",
    }


async def test_unknown_request_id_is_404(sim_region_factory: SimRegionFactory) -> None:
    """Showing an action that does not exist is Nova's itemNotFound."""
    async with sim_region_factory(SCENARIO) as region, api_client(region) as api:
        web = server_by_name(region.state, "web-01")["id"]
        status, body, _ = await api.get(
            f"/compute/v2.1/servers/{web}/os-instance-actions/req-x"
        )
    assert status == 404
    assert (
        body["itemNotFound"]["message"]
        == f"Action for request_id req-x on instance {web} not found"
    )

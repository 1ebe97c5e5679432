"""The failure text the sim serves is cut where and as Nova cuts it, and fully rendered.

Nova stores a failed event's ``details`` and a fault's ``message`` through
``exception_to_dict`` (``safe_truncate(message, 255)``); the traceback and the fault's
``details`` stay whole. Every bundled scenario's moves are replayed over the API and
every body read back must have no text over 255 bytes there and no ``{placeholder}``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from diagnostics.signatures import safe_truncate
from sim.region.nova_text import NOVA_MESSAGE_MAX, nova_message
from sim.region.state import server_by_name
from sim.scenario.load import SCENARIO_DIR, list_scenarios, load_scenario
from sim.scenario.model import Scenario
from sim.testing import ApiClient, api_client
from tests.conftest import SimRegionFactory

UNFILLED = re.compile(r"\{[a-z][a-z_]*\}")
COMPUTE = "/compute/v2.1"


@given(st.text())
def test_the_sims_cut_is_the_products(text: str) -> None:
    """Both copy nova.utils.safe_truncate; a drift between them would hide a bug."""
    cut = nova_message(text)
    assert cut == safe_truncate(text)
    assert len(cut.encode()) <= NOVA_MESSAGE_MAX
    assert text.startswith(cut)
    if cut != text:  # the longest prefix that fits: one more character would not
        assert len(text[: len(cut) + 1].encode()) > NOVA_MESSAGE_MAX


def _long_failure_scenario(message: str) -> Scenario:
    """no-valid-host-evacuation whose failed event and fault carry ``message``."""
    data = yaml.safe_load((SCENARIO_DIR / "no-valid-host-evacuation.yaml").read_text())
    failed = data["servers"][0]["history"][0]
    failed["events"][0]["details"] = message
    failed["fault"]["message"] = message
    return Scenario.model_validate(data)


async def test_long_details_and_fault_are_cut_as_nova_cuts_them(
    sim_region_factory: SimRegionFactory,
) -> None:
    # 56 bytes of prefix once {server_id} is filled, then 3-byte characters: byte 255
    # falls inside one, so a plain byte cut would not even decode
    template = "No valid host for {server_id}: " + "€" * 100
    scenario = _long_failure_scenario(template)
    async with sim_region_factory(scenario) as region, api_client(region) as api:
        server = server_by_name(region.state, scenario.servers[0].name)
        full = template.replace("{server_id}", server["id"])
        with pytest.raises(UnicodeDecodeError):
            full.encode()[:NOVA_MESSAGE_MAX].decode()
        _, body, _ = await api.get(f"{COMPUTE}/servers/{server['id']}", "2.96")
        fault = body["server"]["fault"]
        _, actions, _ = await api.get(
            f"{COMPUTE}/servers/{server['id']}/os-instance-actions", "2.84"
        )
        failed = next(a for a in actions["instanceActions"] if a["action"] != "create")
        _, action, _ = await api.get(
            f"{COMPUTE}/servers/{server['id']}/os-instance-actions/{failed['request_id']}",
            "2.84",
        )
    event = action["instanceAction"]["events"][0]
    assert fault["message"] == event["details"] == safe_truncate(full)
    assert len(event["details"].encode()) == NOVA_MESSAGE_MAX - 1
    # the tracebacks are Text columns: whole
    assert fault["details"].endswith(
        "nova.exception.NoValidHost: No valid host was found. \n"
    )
    assert (
        event["traceback"].rstrip().endswith('raise exception.NoValidHost(reason="")')
    )


def _move_requests(kind: str, dest: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(microversion, action body) a client would send to retry a move of ``kind``."""
    if kind == "live-migration":
        return [
            ("2.96", {"os-migrateLive": {"host": dest, "block_migration": "auto"}}),
            # below 2.34 a pre-check failure is the POST's own 400
            ("2.30", {"os-migrateLive": {"host": dest, "block_migration": False,
                                         "disk_over_commit": False}}),
        ]  # fmt: skip
    if kind == "migration":
        return [("2.96", {"migrate": {"host": dest} if dest else None})]
    if kind == "evacuation":
        return [("2.96", {"evacuate": {"host": dest} if dest else {}})]
    return []  # a resize needs a flavor the scenario does not name


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


async def _bodies_about(api: ApiClient, server_id: str) -> list[tuple[str, Any]]:
    """(path, body) of every view that shows the server's failure text."""
    paths = [f"/servers/{server_id}", f"/servers/{server_id}/os-instance-actions",
             "/os-migrations"]  # fmt: skip
    bodies = []
    for path in paths:
        _, body, _ = await api.get(COMPUTE + path, "2.96")
        bodies.append((path, body))
    for action in bodies[1][1]["instanceActions"]:
        path = f"/servers/{server_id}/os-instance-actions/{action['request_id']}"
        _, body, _ = await api.get(COMPUTE + path, "2.96")
        bodies.append((path, body))
    return bodies


def _check_body(where: str, body: Any) -> None:
    for text in _texts(body):
        assert not UNFILLED.search(text), f"{where}: unfilled placeholder in {text!r}"
    events = (body or {}).get("instanceAction", {}).get("events", [])
    for event in events:
        details = event.get("details") or ""
        assert len(details.encode()) <= NOVA_MESSAGE_MAX, f"{where}: {details!r}"
    fault = (body or {}).get("server", {}).get("fault") or {}
    message = fault.get("message", "")
    assert len(message.encode()) <= NOVA_MESSAGE_MAX, f"{where}: {message!r}"


@pytest.mark.parametrize("name", list_scenarios())
async def test_replayed_moves_serve_nova_text(
    name: str, sim_region_factory: SimRegionFactory
) -> None:
    """Every server's move retried as a client would: bodies filled in and cut as Nova's."""
    scenario = load_scenario(name)
    checked = 0
    async with sim_region_factory(scenario) as region, api_client(region) as api:
        for spec in scenario.servers:
            server_id = server_by_name(region.state, spec.name)["id"]
            planned = spec.on_migrate
            kind = planned.kind if planned else "live-migration"
            dest = planned.dest if planned else None
            for version, body in _move_requests(kind, dest):
                path = f"{COMPUTE}/servers/{server_id}/action"
                _, reply, _ = await api.post(path, body, version)
                await region.wait_idle()
                _check_body(f"{name} POST {body} at {version}", reply)
                checked += 1
            for where, view in await _bodies_about(api, server_id):
                _check_body(f"{name} {spec.name} {where}", view)
    assert checked or not scenario.servers

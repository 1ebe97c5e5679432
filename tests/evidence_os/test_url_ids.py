"""Ids that go into API paths are percent-encoded: a hostile request id still finds its action."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diagnostics.evidence.migration_context import summarize_migration
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.types import InstanceActions, MigrationRecords
from diagnostics.evidence.urls import segment
from diagnostics.model import MigrationRef
from diagnostics.settings import OpenStackSettings

testing = pytest.importorskip(
    "sim.testing", reason="the simulated region is not importable"
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
SCENARIO = Path(__file__).resolve().parents[1] / "sim" / "data" / "live-web01.yaml"
HOSTILE = [
    "req-1?marker=x",  # would end the path and start a query
    "req-2#frag",  # would end the URL
    "req-3%3F%2e%2e",  # already looks encoded: must be encoded again, not decoded
    "req-4 ;&=+,$@:",
]


def test_segment_encodes_every_reserved_character():
    """One segment, nothing left that a URL parser would read as structure."""
    for raw in [*HOSTILE, "../os-hypervisors", "a/b"]:
        encoded = segment(raw)
        assert not set(encoded) & set("?#/ ;&=+,$@:")
        assert "%" in encoded


@pytest.mark.parametrize("request_id", HOSTILE)
async def test_hostile_request_id_finds_its_instance_action(
    tmp_path: Path, request_id: str
) -> None:
    """GET /servers/{id}/os-instance-actions/{request_id} reaches the action, events and all."""
    data = yaml.safe_load(SCENARIO.read_text())
    server_data = next(s for s in data["servers"] if s["name"] == "web-01")
    server_data["history"][-1]["request_id"] = request_id
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(yaml.safe_dump(data))
    async with testing.start_region(scenario, tmp_path) as region:
        api = OpenStackApi.from_settings(
            OpenStackSettings(cloud="sim", clouds_file=region.paths["clouds"])
        )
        try:
            ref = MigrationRef(server="web-01")
            server = await api.resolve_server(ref)
            records = await api.migration_records(server)
            assert isinstance(records, MigrationRecords)
            migration = summarize_migration(server, records, None, ref)
            actions = await api.instance_actions(server, migration)
        finally:
            api.close()
    assert isinstance(actions, InstanceActions)
    action = actions.migration_action
    assert action is not None
    assert action.request_id == request_id
    assert action.failed_events  # the detail call answered, not a list or a 404

"""The request graph as the operator sees it: `diagnose --verbose` and the JSON `timing`."""

from __future__ import annotations

import io
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from bot.cli import build_parser
from bot.settings import BotSettings
from diagnostics import cli_diagnose
from diagnostics.settings import load_settings
from sim.testing import start_region

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
SCHEMA = json.loads(
    resources.files("diagnostics.report").joinpath("schema.json").read_text()
)


async def _run(config: Path, *argv: str) -> str:
    args = build_parser().parse_args(["diagnose", *argv, "--config", str(config)])
    out = io.StringIO()
    code = await cli_diagnose.run(args, load_settings(args.config, BotSettings), out)
    assert code == cli_diagnose.EXIT_ROOT_CAUSE  # port-binding-failed has a cause

    return out.getvalue()


async def test_json_timing_is_a_graph_of_real_requests(tmp_path: Path) -> None:
    """Every request names only earlier ones as what it waited on; the lists after the
    server; the bound is no longer than the span."""
    async with start_region("port-binding-failed", tmp_path) as region:
        config = region.paths["config"]  # type: ignore[attr-defined]
        report = json.loads(await _run(config, "api-01", "--format", "json"))
    jsonschema.validate(report, SCHEMA)
    timing = report["timing"]
    requests = {r["id"]: r for r in timing["requests"]}
    assert requests
    for rid, request in requests.items():
        assert all(dep < rid for dep in request["depends_on"])
    by_stage: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for request in requests.values():
        by_stage.setdefault(request["stage"], []).append(request)
    server_ids = {r["id"] for r in by_stage["server"]}
    (migrations,) = by_stage["migrations"]
    (listed,) = by_stage["actions"]
    assert set(migrations["depends_on"]) <= server_ids  # not on the action list
    assert set(listed["depends_on"]) <= server_ids  # not on the migrations
    assert migrations["what"].startswith("GET /os-migrations?instance_uuid=")
    assert 0 < timing["dependency_bound_ms"] <= timing["api_span_ms"] + 1
    assert all(i in requests for i in timing["critical_path"])
    families = {r["family"] for r in requests.values()}
    assert {"nova", "placement", "neutron", "ssh"} <= families
    # the bound is about the API: no SSH command sits on it
    assert all(requests[i]["family"] != "ssh" for i in timing["critical_path"])


async def test_verbose_text_lists_requests_and_the_bound(tmp_path: Path) -> None:
    """--verbose adds one line per request after the verdict, the bound ones starred."""
    async with start_region("port-binding-failed", tmp_path) as region:
        config = region.paths["config"]  # type: ignore[attr-defined]
        out = await _run(config, "api-01", "--verbose")
    tail = out[out.index("requests: OpenStack API span") :].splitlines()
    assert "dependency bound" in tail[0]
    assert any(line.startswith(" *#") for line in tail[1:])
    assert any("GET /os-migrations?instance_uuid=" in line for line in tail[1:])

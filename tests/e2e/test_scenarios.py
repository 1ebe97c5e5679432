"""Every bundled scenario, diagnosed through the CLI over real HTTP and SSH."""

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
from sim.scenario.load import list_scenarios, load_scenario
from sim.testing import start_region

SCHEMA = json.loads(
    resources.files("diagnostics.report").joinpath("schema.json").read_text()
)
SCENARIOS = [
    name for name in list_scenarios() if load_scenario(name).expect is not None
]


async def diagnose_json(
    region_paths: dict[str, Path], *argv: str
) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """Run `migrate-diag diagnose ... --format json` in-process; (exit, json, stderr)."""
    args = build_parser().parse_args(
        ["diagnose", *argv, "--format", "json", "--config", str(region_paths["config"])]
    )
    settings = load_settings(args.config, BotSettings)
    out = io.StringIO()
    code = await cli_diagnose.run(args, settings, out)
    return code, (json.loads(out.getvalue()) if code == 0 else {}), ""


@pytest.mark.parametrize("name", SCENARIOS)
async def test_scenario_gives_its_expected_root_cause(
    name: str, tmp_path: Path
) -> None:
    """The JSON validates against the contract and names the scenario's root cause."""
    scenario = load_scenario(name)
    expect = scenario.expect
    assert expect is not None
    argv = [expect.vm]
    if expect.target_host:
        argv += ["--target-host", expect.target_host]
    kind = getattr(expect, "kind", None)
    if kind:
        argv += ["--kind", kind]
    async with start_region(name, tmp_path) as region:
        code, report, _ = await diagnose_json(region.paths, *argv)  # type: ignore[attr-defined]
    assert code == 0
    jsonschema.validate(report, SCHEMA)
    got = report["root_cause"]["id"] if report["root_cause"] else None
    detail = json.dumps(
        {"root_cause": report["root_cause"], "other": report["other_findings"],
         "steps": [(s["number"], s["status"], s["summary"]) for s in report["steps"]]},
        indent=1,
    )  # fmt: skip
    assert got == expect.root_cause, detail
    if expect.confidence is not None:
        assert report["root_cause"]["confidence"] == expect.confidence, detail
    if scenario.mode == "saas":
        step4 = next(s for s in report["steps"] if s["number"] == 4)
        assert step4["status"] == "skipped"
    if got == "unknown":
        assert report["root_cause"]["evidence"], "unknown must show the raw fault"

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
    region_paths: dict[str, Path], *argv: str, ssh: bool = True
) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """Run `migrate-diag diagnose ... --format json` in-process; (exit, json, stderr)."""
    args = build_parser().parse_args(
        ["diagnose", *argv, "--format", "json", "--config", str(region_paths["config"])]
    )
    settings = load_settings(args.config, BotSettings)
    if not ssh:
        settings = settings.model_copy(
            update={"ssh": settings.ssh.model_copy(update={"enabled": False})}
        )
    out = io.StringIO()
    code = await cli_diagnose.run(args, settings, out)
    return code, (json.loads(out.getvalue()) if out.getvalue() else {}), ""


_EXIT = {
    "no_failure": cli_diagnose.EXIT_NO_FAILURE,
    "root_cause": cli_diagnose.EXIT_ROOT_CAUSE,
    "inconclusive": cli_diagnose.EXIT_INCONCLUSIVE,
}


def _confirmed(report: dict) -> set[str]:  # type: ignore[type-arg]
    findings = [report["root_cause"], *report["other_findings"]]
    return {f["id"] for f in findings if f and f["confidence"] == "confirmed"}


@pytest.mark.parametrize("name", SCENARIOS)
async def test_scenario_gives_its_expected_root_cause(
    name: str, tmp_path: Path
) -> None:
    """Through the CLI: the scenario's root cause at its confidence, the exit status of
    the conclusion, and no cause the scenario rules out ever `confirmed`."""
    scenario = load_scenario(name)
    expect = scenario.expect
    assert expect is not None
    argv = [expect.vm]
    if expect.target_host:
        argv += ["--target-host", expect.target_host]
    if expect.kind:
        argv += ["--kind", expect.kind]
    if expect.migration:
        argv += ["--migration", expect.migration]
    async with start_region(name, tmp_path) as region:
        code, report, _ = await diagnose_json(region.paths, *argv, ssh=expect.ssh)  # type: ignore[attr-defined]
    if expect.exit_code is not None:
        assert code == expect.exit_code
        if code == cli_diagnose.EXIT_USAGE:
            assert report == {}, "a usage error runs nothing and prints no diagnosis"
            return
    jsonschema.validate(report, SCHEMA)
    assert code == _EXIT[report["conclusion"]]
    got = report["root_cause"]["id"] if report["root_cause"] else None
    detail = json.dumps(
        {"root_cause": report["root_cause"], "other": report["other_findings"],
         "conclusion": report["conclusion"], "could_not_check": report["could_not_check"],
         "steps": [(s["number"], s["status"], s["summary"]) for s in report["steps"]]},
        indent=1,
    )  # fmt: skip
    assert got == expect.root_cause, detail
    if got is not None:
        assert expect.confidence is not None, f"{name}: give expect.confidence"
        assert report["root_cause"]["confidence"] == expect.confidence, detail
    assert not _confirmed(report) & set(expect.not_confirmed), detail
    if scenario.mode == "saas":
        step4 = next(s for s in report["steps"] if s["number"] == 4)
        assert step4["status"] == "skipped"
    if got == "unknown":
        assert report["root_cause"]["evidence"], "unknown must show the raw fault"
        assert report["conclusion"] == "inconclusive"
    if got is None:
        assert report["conclusion"] in ("no_failure", "inconclusive")
    else:
        causes = [s for s in report["steps"] if s["role"] == "cause"]
        assert got == "unknown" or len(causes) == 1, detail
        assert all(s["status"] == "failed" for s in causes)


async def test_refused_evacuation_without_kind_is_inconclusive_and_says_what_to_try(
    tmp_path: Path,
) -> None:
    """The API refused the evacuation (no migration record) and --kind was not given:
    never "no failure"; the steps that could not run are named and --kind is suggested."""
    async with start_region("evacuation-source-up", tmp_path) as region:
        code, report, _ = await diagnose_json(region.paths, "app-05")  # type: ignore[attr-defined]
    assert code == cli_diagnose.EXIT_INCONCLUSIVE
    assert report["conclusion"] == "inconclusive"
    assert report["root_cause"] is None
    assert any("step 7" in c for c in report["could_not_check"])
    assert any("--kind evacuation" in n for n in report["next_steps"])
    assert not any("check SSH" in n for n in report["next_steps"])

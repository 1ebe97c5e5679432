"""`--target-host` over every bundled scenario: nothing said about the target H cites the
failed move's destination D, the past verdict stays about D, and H = D changes nothing.

With H a healthy host of the VM's zone (not D), the diagnosis still explains the past
failure on D, at a confidence no higher than without the flag, and names no finding
after H; with H = D it is the plain diagnosis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sim.scenario.load import list_scenarios, load_scenario
from sim.scenario.model import Scenario
from sim.testing import start_region
from tests.e2e.test_scenarios import diagnose_json

_RANK = {"possible": 0, "likely": 1, "confirmed": 2}
# host settings that make a host unhealthy or special; a host with none of them is healthy
_PLAIN_HOST = {"az", "host_ip", "instances_path"}
_API_REQUEST = re.compile(r"\[req-[0-9a-f-]{36}\]")


def _vm_and_dest(scenario: Scenario) -> tuple[Any, str | None]:
    assert scenario.expect is not None
    vm = next(s for s in scenario.servers if s.name == scenario.expect.vm)
    last = vm.history[-1] if vm.history else None
    return vm, (last.dest if last is not None else None)


def healthy_target(scenario: Scenario) -> str | None:
    """A host of the VM's zone that is neither its host nor D and has nothing wrong."""
    vm, dest = _vm_and_dest(scenario)
    source = scenario.hosts[vm.host]
    for name, host in scenario.hosts.items():
        spec = host.model_dump(exclude_defaults=True)
        same_cpu = spec.pop("cpu", None) == source.model_dump(
            exclude_defaults=True
        ).get("cpu")
        if name in (vm.host, dest) or set(spec) - _PLAIN_HOST or not same_cpu:
            continue
        if host.az == source.az:
            return name
    return None


def _cases() -> tuple[list[Any], list[Any]]:
    other, same = [], []
    for name in list_scenarios():
        scenario = load_scenario(name)
        expect = scenario.expect
        if expect is None or expect.exit_code == 2:
            continue  # a usage error runs nothing
        _, dest = _vm_and_dest(scenario)
        if dest is None:
            continue  # never scheduled: H's evidence is what explains "why not H"
        vm, _ = _vm_and_dest(scenario)
        if vm.history[-1].status not in ("completed", "confirmed", "done"):
            # a move that worked is "no failure" only without --target-host: asking
            # about a host needs its probes, so it is inconclusive when they cannot run
            same.append(pytest.param(name, dest, id=name))
        target = healthy_target(scenario)
        if target is not None:
            other.append(pytest.param(name, dest, target, id=f"{name}-{target}"))
    return other, same


OTHER, SAME = _cases()


def _argv(scenario: Scenario) -> list[str]:
    expect = scenario.expect
    assert expect is not None
    argv = [expect.vm]
    if expect.kind:
        argv += ["--kind", expect.kind]
    if expect.migration:
        argv += ["--migration", expect.migration]
    return argv


async def _both(name: str, tmp_path: Path, target: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    scenario = load_scenario(name)
    assert scenario.expect is not None
    async with start_region(name, tmp_path) as region:
        paths = region.paths  # type: ignore[attr-defined]
        ssh = scenario.expect.ssh
        _, plain, _ = await diagnose_json(paths, *_argv(scenario), ssh=ssh)
        _, aimed, _ = await diagnose_json(
            paths, *_argv(scenario), "--target-host", target, ssh=ssh
        )
    return plain, aimed


def _findings(report: dict) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in (report["root_cause"], *report["other_findings"]) if f]


def test_every_scenario_with_a_destination_is_covered() -> None:
    """The healthy-target run covers most scenarios (a scenario without a healthy third
    host in the VM's zone is listed here, not silently left out)."""
    covered = {p.values[0] for p in OTHER}
    uncovered = {p.values[0] for p in SAME} - covered - {"healthy"}
    assert len(covered) >= 12, covered
    assert uncovered <= {
        "sudo-less-completed",  # two hosts only, both without sudo
        "sudo-less-failed",
    }, uncovered


@pytest.mark.parametrize(("name", "dest", "target"), OTHER)
async def test_a_healthy_other_target_leaves_the_past_verdict_about_its_destination(
    name: str, dest: str, target: str, tmp_path: Path
) -> None:
    """--target-host H (healthy, not D): the move is still shown going to D, the past
    root cause is the same and about D (at no higher confidence), no finding is about
    H, and no finding cites anything read on or about H."""
    plain, aimed = await _both(name, tmp_path, target)
    detail = {"plain": plain.get("root_cause"), "aimed": aimed.get("root_cause"),
              "other": aimed.get("other_findings")}  # fmt: skip
    assert aimed["migration"]["dest_host"] == dest
    assert aimed["target_host"] == target
    assert aimed["conclusion"] == plain["conclusion"], detail
    before, after = plain["root_cause"], aimed["root_cause"]
    if before is None or after is None:
        assert before == after, detail
    elif before["id"] != after["id"]:
        # qualified: D's own probes (which told the plain run) did not run, so a
        # symptom's reading below confirmed that names the rival on D it could not rule out
        assert after["confidence"] != "confirmed", detail
        assert any(dest in c for c in after["caveats"]), detail
    else:
        assert _RANK[after["confidence"]] <= _RANK[before["confidence"]], detail
    if before is not None and after is not None and dest in before["summary"]:
        assert dest in after["summary"], detail
    for finding in _findings(aimed):
        assert target not in finding["summary"], finding
        for item in finding["evidence"]:
            assert target not in item["source"] + item["text"], (finding, item)


@pytest.mark.parametrize(("name", "dest"), SAME)
async def test_the_destination_as_target_is_the_plain_diagnosis(
    name: str, dest: str, tmp_path: Path
) -> None:
    """--target-host D (the failed move's own destination): the same verdict, findings
    and steps as without the flag."""
    plain, aimed = await _both(name, tmp_path, dest)

    def verdict(r: dict) -> str:  # type: ignore[type-arg]
        seen = (
            r["conclusion"],
            r["root_cause"],
            r["other_findings"],
            r["could_not_check"],
            [(s["number"], s["status"], s["summary"]) for s in r["steps"]],
        )
        # each API call has its own request id; the evidence behind it is the same
        return _API_REQUEST.sub("[req]", json.dumps(seen, sort_keys=True))

    got, want = verdict(aimed), verdict(plain)
    # the first place they part, so a failure says what changed
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), 0)
    assert got == want, (
        f"…{want[max(at - 200, 0) : at + 300]}… became …{got[max(at - 200, 0) : at + 300]}…"
    )

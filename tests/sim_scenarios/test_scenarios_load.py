"""The bundled scenarios load, cover the contract, and malformed files fail with file and key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.scenario.load import ScenarioError, list_scenarios, load_scenario
from sim.scenario.model import Outcome, Scenario
from tests import reference

ROOT_CAUSES = reference.ROOT_CAUSES
_ID_ROW = re.compile(r"^\| `(?P<id>[a-z_]+)` \|", re.MULTILINE)


def _all() -> list[Scenario]:
    return [load_scenario(name) for name in list_scenarios()]


def _outcomes(scenario: Scenario) -> list[Outcome]:
    found: list[Outcome] = []
    for server in scenario.servers:
        found.extend(server.history)
        if server.on_migrate is not None:
            found.append(server.on_migrate)
    return found


def _root_cause_ids() -> set[str]:
    return set(_ID_ROW.findall(ROOT_CAUSES.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", list_scenarios())
def test_bundled_scenario_loads_with_expectation(name: str) -> None:
    """Every bundled scenario validates, says what it expects, and names an existing VM."""
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.expect is not None
    assert scenario.expect.vm in {server.name for server in scenario.servers}


def test_every_root_cause_has_a_scenario() -> None:
    """Each root-cause id of shared/root-causes.md is the expected cause of some scenario."""
    ids = _root_cause_ids()
    assert "unknown" in ids  # the table parsed
    expected = {s.expect.root_cause for s in _all() if s.expect is not None}
    assert ids - expected == set()


def test_expected_root_causes_are_known_ids() -> None:
    """No scenario expects a root cause that the contract does not define."""
    expected = {s.expect.root_cause for s in _all() if s.expect and s.expect.root_cause}
    assert expected <= _root_cause_ids()


def test_a_healthy_scenario_exists() -> None:
    """At least one scenario expects no failure at all."""
    assert any(s.expect is not None and s.expect.root_cause is None for s in _all())


def test_every_migration_kind_appears() -> None:
    """Live on shared storage, block live, cold migration and evacuation are all exercised."""
    kinds: set[str] = set()
    for scenario in _all():
        for outcome in _outcomes(scenario):
            if outcome.kind == "live-migration":
                kinds.add("block-live" if outcome.block_migration else "live-shared")
            else:
                kinds.add(outcome.kind)
    assert {"live-shared", "block-live", "migration", "evacuation"} <= kinds


def test_both_deployment_modes_appear() -> None:
    """SaaS and self-hosted regions are both bundled, SaaS at least twice."""
    modes = [s.mode for s in _all()]
    assert modes.count("saas") >= 2
    assert "self-hosted" in modes


def test_self_hosted_scenarios_have_the_management_plane() -> None:
    """Self-hosted scenarios run the nova pods the diagnostics read logs from."""
    wanted = {"nova-api-osapi", "nova-conductor", "nova-scheduler"}
    for scenario in _all():
        deployments = {pod.deployment for pod in scenario.pods}
        if scenario.mode == "self-hosted":
            assert wanted <= deployments, scenario.name
        else:
            assert deployments == set(), scenario.name


_MINIMAL = {
    "name": "tiny",
    "description": "smallest valid scenario",
    "hosts": {"cmp-a-01": {"az": "az-1"}},
    "flavors": [{"name": "m1.small"}],
    "servers": [{"name": "vm-1", "flavor": "m1.small", "host": "cmp-a-01"}],
}


def _write(tmp_path: Path, data: object, text: str | None = None) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(
        text if text is not None else yaml.safe_dump(data), encoding="utf-8"
    )
    return path


def test_minimal_scenario_loads_from_a_path(tmp_path: Path) -> None:
    """A scenario outside sim/scenario/bundled loads by path (the base for the failure cases)."""
    assert load_scenario(_write(tmp_path, _MINIMAL)).servers[0].name == "vm-1"


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        pytest.param(
            lambda d: d["servers"][0].update(flavour="m1.small"),
            "servers.0.flavour",
            id="typo-key",
        ),
        pytest.param(
            lambda d: d["flavors"][0].update(vcpus="many"),
            "flavors.0.vcpus",
            id="bad-type",
        ),
        pytest.param(
            lambda d: d["servers"][0].update(
                history=[{"kind": "live-migration", "at": "5 minutes ago"}]
            ),
            "servers.0.history.0.at",
            id="bad-relative-time",
        ),
        pytest.param(
            lambda d: d["hosts"]["cmp-a-01"].update(
                logs={"/var/log/x.log": [{"at": "-5x", "text": "t"}]}
            ),
            "hosts.cmp-a-01.logs./var/log/x.log.0.at",
            id="bad-relative-time-in-log",
        ),
        pytest.param(lambda d: d.update(mode="cloud"), "mode", id="bad-literal"),
    ],
)
def test_malformed_scenario_names_file_and_key(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], key: str
) -> None:
    """A wrong key, type or relative time fails with ScenarioError naming the file and the key."""
    data = yaml.safe_load(yaml.safe_dump(_MINIMAL))
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert f": {key}: " in message


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    """A file that is not YAML fails with ScenarioError naming the file."""
    path = _write(tmp_path, None, text="name: x\nhosts: [unclosed\n")
    with pytest.raises(ScenarioError, match=re.escape(str(path)) + ": not valid YAML"):
        load_scenario(path)


def test_unknown_scenario_name_is_reported() -> None:
    """Asking for a scenario that does not exist says so and points at `sim list`."""
    with pytest.raises(ScenarioError, match="no such scenario"):
        load_scenario("no-such-scenario-here")

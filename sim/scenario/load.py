"""Load a scenario by name (bundled) or by path, with strict validation."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from sim.scenario.model import Scenario

SCENARIO_DIR = Path(__file__).parent / "bundled"


class ScenarioError(Exception):
    """A scenario file that does not load; the message names the file and the key."""


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by name (from ``sim/scenario/bundled``) or by path; strict validation."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario (try `migrate-diag sim list`)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"{path}: {key}: {first['msg']}") from exc


def list_scenarios() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))

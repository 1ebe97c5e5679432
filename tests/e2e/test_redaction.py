"""The redaction corpus planted across a simulated region never reaches an output.

Planted in the server fault (message, details), the failed event (details, traceback),
the source and destination hypervisor logs (single lines, keys logged over several lines,
a lone key body line) and the management-plane pod logs; the diagnosis runs through the
real engine over HTTP and SSH, and every rendering (text, JSON, Slack blocks, the evidence
file) is scanned for every secret of the corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.actions.show_evidence import evidence_report
from bot.cards import render_root_cause
from bot.rendering import ParentState, fit, render_parent, render_step
from bot.settings import BotSettings
from diagnostics.engine import Engine
from diagnostics.evidence.base import CollectContext, Collector
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import Diagnosis, MigrationRef
from diagnostics.report import json as json_report
from diagnostics.report import text
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.testing import start_region
from tests.redaction_corpus import leaks
from tests.redaction_plant import planted_scenario


def every_output(diagnosis: Diagnosis) -> dict[str, str]:
    """Each way a diagnosis leaves the process (the Slack blocks as posted JSON)."""
    state = ParentState(case_id="c1", vm_name="vm", diagnosis=diagnosis, run_id="r1")
    slack = [fit(render_parent(state)), fit(render_root_cause(diagnosis, "r1", None))]
    slack += [fit(render_step(s)) for s in diagnosis.steps]
    return {
        "text": text.render(diagnosis),
        "json": json_report.dumps(diagnosis),
        "slack": json.dumps(slack, ensure_ascii=False),
        "evidence file": evidence_report(diagnosis),
    }


def record_evidence(engine: Engine, seen: list[object]) -> None:
    """Keep every evidence value the engine collects (bootstrap included) in ``seen``."""

    def recording(collect: Collector) -> Collector:
        async def run(ctx: CollectContext) -> Evidence | Unavailable:
            value = await collect(ctx)
            seen.append(value)
            return value

        return run

    engine.collectors = {t: recording(c) for t, c in engine.collectors.items()}
    bootstrap = engine._bootstrap

    async def recording_bootstrap(*args: Any) -> Any:
        ctx, got = await bootstrap(*args)
        seen.extend(got.values())
        return ctx, got

    engine._bootstrap = recording_bootstrap  # type: ignore[method-assign]


async def test_planted_secrets_never_reach_any_output(tmp_path: Path) -> None:
    """0 corpus secrets in the evidence, text, JSON, Slack blocks and the evidence file."""
    scenario, vm = planted_scenario(tmp_path)
    seen: list[object] = []
    async with start_region(scenario, tmp_path) as region:
        settings = load_settings(region.paths["config"], BotSettings)
        async with open_engine(settings) as engine:
            record_evidence(engine, seen)
            diagnosis = await engine.diagnose(MigrationRef(server=vm))
    evidence = "\n".join(repr(value) for value in seen)
    # the plants did reach the model, from the API, both hosts and the pods
    for tag in ("PLANTED-FAULT", "PLANTED-EVENT", "PLANTED-SRC", "PLANTED-DST"):
        assert tag in evidence, f"{tag} never reached the evidence"
    assert "PLANTED-POD" in evidence
    assert "MessagingTimeout" in evidence  # the traceback's last line
    assert "Loaded migration key: -----BEGIN RSA PRIVATE KEY-----***" in evidence
    assert leaks([evidence]) == []
    outputs = every_output(diagnosis)
    for name, rendered in outputs.items():
        assert leaks([rendered]) == [], f"leaked into {name}"
    assert "PLANTED-FAULT" in outputs["evidence file"]

"""Secrets in hypervisor logs never reach any rendered output (text, JSON, Slack blocks)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.cards import render_root_cause
from bot.rendering import ParentState, fit, render_parent, render_step
from bot.settings import BotSettings
from diagnostics.model import MigrationRef
from diagnostics.report import json as json_report
from diagnostics.report import text
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.scenario.load import SCENARIO_DIR
from sim.testing import start_region

SECRETS = {
    "transport_url = rabbit://nova:Rabb1tPassw0rd@10.0.0.5:5672/nova": "Rabb1tPassw0rd",
    "X-Auth-Token: gAAAAABnSecretFernetTokenValue1234567890abcdefghij": "gAAAAABnSecretFernetTokenValue1234567890abcdefghij",
    "iscsiadm -m node -T iqn.2010-10.org.openstack:vol -o update -n node.session.auth.password -v Chap5ecretXYZ": "Chap5ecretXYZ",
    "connection_info {'auth_password': 'Chap5ecretABC', 'target_portal': '10.0.0.50:3260'}": "Chap5ecretABC",
    "slack token xoxb-1111111111-2222222222-SecretSlackTokenValue": "SecretSlackTokenValue",
    "-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEAsecretkeymaterial -----END RSA PRIVATE KEY-----": "secretkeymaterial",
}


def _scenario_with_secrets(tmp_path: Path) -> Path:
    data = yaml.safe_load((SCENARIO_DIR / "unknown-failure.yaml").read_text())
    server = next(s for s in data["servers"] if s["name"] == data["expect"]["vm"])
    logs = server["history"][-1]["logs"]["{source}"]["/var/log/pf9/ostackhost.log"]
    template = logs[0]
    for line in SECRETS:
        logs.append({**template, "text": f"Live Migration failure: {line}"})
    path = tmp_path / "secrets.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_secrets_in_logs_are_redacted_everywhere(tmp_path: Path) -> None:
    """Passwords in URLs, tokens, CHAP secrets and PEM keys are masked before rendering."""
    scenario = _scenario_with_secrets(tmp_path)
    vm = yaml.safe_load(scenario.read_text())["expect"]["vm"]
    async with start_region(scenario, tmp_path) as region:
        settings = load_settings(region.paths["config"], BotSettings)  # type: ignore[attr-defined]
        async with open_engine(settings) as engine:
            diagnosis = await engine.diagnose(MigrationRef(server=vm))
    state = ParentState(case_id="c1", vm_name=vm, diagnosis=diagnosis, run_id="r1")
    slack = [fit(render_parent(state)), fit(render_root_cause(diagnosis, "r1", None))]
    slack += [fit(render_step(s)) for s in diagnosis.steps]
    outputs = {
        "text": text.render(diagnosis),
        "json": json_report.dumps(diagnosis),
        "slack": json.dumps(slack),
    }
    cited = [c.text for c in diagnosis.root_cause.evidence]  # type: ignore[union-attr]
    assert any("Live Migration failure" in c for c in cited)  # the lines did arrive
    for name, rendered in outputs.items():
        for secret in SECRETS.values():
            assert secret not in rendered, f"{secret!r} leaked into {name}"

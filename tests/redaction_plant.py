"""The redaction corpus planted in a simulated region: API fault, failed event, logs.

``planted_scenario`` takes a bundled scenario and writes the corpus of
``tests.redaction_corpus`` into the server fault (message, details), the failed event
(details, traceback), both hypervisors' logs (single lines, keys logged over several
records, a lone key body line) and a management-plane pod's log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.scenario.load import SCENARIO_DIR
from tests.redaction_corpus import (
    MULTI_LINE,
    ORPHAN_BODY_LINE,
    SINGLE_LINE,
    traceback_text,
)

BASE = "unknown-failure"
ALL_ON_ONE_LINE = " | ".join(t for t, _ in SINGLE_LINE)


def _log(at: str, text: str, logger: str = "nova.compute.manager") -> dict[str, Any]:
    return {
        "at": at,
        "level": "ERROR",
        "logger": logger,
        "request_id": "{request_id}",
        "text": text,
    }


def _planted_logs(
    tag: str, logger: str = "nova.compute.manager"
) -> list[dict[str, Any]]:
    """Every corpus entry as log records: one line each, blocks as consecutive records."""
    lines = [_log("-837s", f"{tag} single: {t}", logger) for t, _ in SINGLE_LINE]
    for block, _ in MULTI_LINE:
        lines += [_log("-836s", line, logger) for line in block]
    lines.append(_log("-835s", ORPHAN_BODY_LINE, logger))
    return lines


def planted_scenario(tmp_path: Path) -> tuple[Path, str]:
    """``unknown-failure`` with the corpus in the API's fault and events and in every log."""
    data = yaml.safe_load((SCENARIO_DIR / f"{BASE}.yaml").read_text())
    server = next(s for s in data["servers"] if s["name"] == data["expect"]["vm"])
    attempt = server["history"][-1]
    attempt.update(
        message="Error",
        server_status="ERROR",
        vm_state="error",
        fault={
            "code": 500,
            "message": f"PLANTED-FAULT {ALL_ON_ONE_LINE}",
            "details": traceback_text(),
        },
    )
    failed = next(
        e for e in attempt["events"] if e["event"] == "compute_live_migration"
    )
    failed.update(
        result="Error",
        traceback=traceback_text(),
        details=f"PLANTED-EVENT {ALL_ON_ONE_LINE}",
    )
    logs = attempt["logs"]
    logs["{source}"]["/var/log/pf9/ostackhost.log"] += _planted_logs("PLANTED-SRC")
    logs["{dest}"]["/var/log/pf9/ostackhost.log"] = _planted_logs("PLANTED-DST")
    logs["mgmt:nova-conductor"] = {
        "nova-conductor": _planted_logs("PLANTED-POD", "nova.conductor.manager")
    }
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data["expect"]["vm"]

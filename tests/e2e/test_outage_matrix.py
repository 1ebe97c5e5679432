"""Each API family failing or hanging in turn, through the CLI over real HTTP and SSH.

For nine scenarios of different root causes, each family (Keystone, Nova, Placement,
Neutron, Cinder, Kubernetes, the SSH hosts) is made to answer 500 (its service's own
error body) or to hang (``sim.region.faults``), one at a time, and the CLI is run against
it. Every cell must:

- exit with a documented code within the time bound; Keystone or Nova down means nothing
  about the VM can be read, so the CLI exits 3 with one line naming the cloud and why
  (README, "Exit status"); Nova answering the server but nothing after it gives a report;
- leave no step that needed the failed family ``passed``: it says what it could not
  check (the steps are those whose evidence the healthy run fetched from that family,
  read from the healthy run's request graph);
- never conclude on what is missing: the verdict is the healthy run's cause at no higher
  confidence, cites nothing the failed family would have answered, or is ``unknown`` and
  inconclusive; no other cause is confirmed that the healthy run did not confirm.

One region per scenario serves every cell (faults are switched on the running region),
and small timeouts keep the hung cells short.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.settings import BotSettings
from diagnostics import cli_diagnose
from diagnostics.evidence import types as ev
from diagnostics.settings import load_settings
from sim.region.faults import Fault
from sim.testing import start_region

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
    pytest.mark.timeout(180),
]

API_TIMEOUT_S = 1.5
COLLECTOR_TIMEOUT_S = 2.0
SSH_CONNECT_TIMEOUT_S = 1.0
# bootstrap (server, then migrations and actions, then the action's events: three calls
# in a row at most, each bounded by api_timeout_s) + the collectors' bound + room for a
# loaded machine
TIME_BOUND_S = 3 * API_TIMEOUT_S + COLLECTOR_TIMEOUT_S + 6.0

# (scenario, vm); each cause from a different family's evidence
SCENARIOS = [
    ("libvirt-tls-expired-cert", "web-02"),  # SSH probes (openssl, virsh)
    ("port-binding-failed", "api-01"),  # Neutron bindings + the conductor's pod log
    ("insufficient-resources", "erp-01"),  # Placement + the scheduler's refusal
    ("volume-cinder-volume-down", "db-02"),  # Cinder's services and volumes
    ("compute-service-down", "crm-01"),  # Nova's os-services
    ("no-valid-host-evacuation", "ha-02"),  # SaaS: no Kubernetes at all
    ("stale-leftovers", "queue-01"),  # the leftover named only in the conductor's log
    ("live-migration-not-converging", "cache-02"),  # a move still running
    ("libvirtd-down-destination", "db-03"),  # a cause that explains another (SaaS)
]
FAULTS: dict[str, tuple[str, ...]] = {
    "keystone": ("500", "hang"),
    "nova": ("500", "hang"),
    "placement": ("500", "hang"),
    "neutron": ("500", "hang"),
    "cinder": ("500", "hang"),
    "kubernetes": ("500", "hang"),
    "ssh": ("refused", "hang"),
}
# Nova answering the server itself but nothing after it (os-migrations, actions,
# os-services, hypervisors, aggregates): the report must stand on what is left
AFTER_LOOKUP = r"^/compute/v2\.1/(?!servers/detail$|servers/[0-9a-f-]+$)"
CELLS: list[tuple[str, str, Fault]] = [
    *((family, family, Fault(mode=mode)) for family, modes in FAULTS.items() for mode in modes),
    ("nova-after-lookup", "nova", Fault(mode="500", match=AFTER_LOOKUP)),
    ("nova-after-lookup", "nova", Fault(mode="hang", match=AFTER_LOOKUP)),
]  # fmt: skip
# without them nothing about the VM can be read: exit 3, no report
UNREACHABLE_FAMILIES = {"keystone", "nova"}
RANK = {"possible": 0, "likely": 1, "confirmed": 2}


def fast_config(paths: dict[str, Path], tmp_path: Path, *, fast: bool = True) -> Path:
    """The region's CLI config with no token reuse (so a Keystone outage is met, not
    skipped by a cached token) and, when ``fast``, small timeouts. The healthy baseline
    runs with the default timeouts: on a loaded machine a cold first run can take longer
    than the small ones, and a baseline cut short would set the bar too low."""
    config: dict[str, Any] = yaml.safe_load(paths["config"].read_text())
    config["openstack"]["token_cache"] = False
    if fast:
        config["openstack"]["api_timeout_s"] = API_TIMEOUT_S
        config["ssh"].update(
            connect_timeout_s=SSH_CONNECT_TIMEOUT_S,
            command_timeout_s=COLLECTOR_TIMEOUT_S,
        )
        config["engine"] = {"collector_timeout_s": COLLECTOR_TIMEOUT_S}
    path = tmp_path / ("fast.yaml" if fast else "healthy.yaml")
    path.write_text(yaml.safe_dump(config))
    return path


async def run_cli(config: Path, vm: str) -> tuple[int, dict[str, Any], float]:
    """`migrate-diag diagnose VM --format json` in-process: (exit, report, seconds)."""
    args = build_parser().parse_args(
        ["diagnose", vm, "--format", "json", "--config", str(config)]
    )
    settings = load_settings(args.config, BotSettings)
    out = io.StringIO()
    started = time.monotonic()
    code = await cli_diagnose.run(args, settings, out)
    elapsed = time.monotonic() - started
    return code, (json.loads(out.getvalue()) if out.getvalue() else {}), elapsed


def steps_fed_by(report: dict[str, Any], family: str) -> set[int]:
    """Runbook steps whose evidence the run fetched from ``family`` (its request graph:
    each request's stage is the evidence type it was made for)."""
    steps = set()
    for request in report["timing"]["requests"]:
        kind = getattr(ev, request["stage"], None)
        if (
            request["family"] == family
            and isinstance(kind, type)
            and issubclass(kind, ev.Evidence)
            and kind.STEP
        ):
            steps.add(kind.STEP)
    return steps


def cites_family(source: str, family: str) -> bool:
    """Whether a citation's source is an answer of ``family``."""
    if family == "ssh":
        return "$ " in source or (
            ":/" in source and source.rsplit(":", 1)[-1].isdigit()
        )
    if family == "kubernetes":  # a pod log line: "pod-name (container)"
        return re.fullmatch(r"[a-z0-9.-]+ \([a-z0-9.-]+\)", source) is not None
    markers = {
        "placement": ("/placement", "/resource_providers", "/allocations"),
        "neutron": ("/ports", "/agents", "/network"),
        "cinder": ("/volumes", "/volume", "cinder"),
    }
    return any(m in source for m in markers.get(family, ()))


def _summary(report: dict[str, Any]) -> str:
    rc = report.get("root_cause")
    return json.dumps(
        {
            "root_cause": rc and [rc["id"], rc["confidence"], [e["source"] for e in rc["evidence"]]],
            "conclusion": report.get("conclusion"),
            "steps": [(s["number"], s["status"], s["summary"][:140]) for s in report.get("steps", [])],
        }
    )  # fmt: skip


def judge(
    label: str,
    family: str,
    mode: str,
    code: int,
    report: dict[str, Any],
    elapsed: float,
    stderr: str,
    healthy: dict[str, Any],
) -> list[str]:
    """What is wrong with one cell (empty: it holds)."""
    cell = f"{label}={mode}"
    problems: list[str] = []
    if elapsed > TIME_BOUND_S:
        problems.append(f"{cell}: took {elapsed:.1f}s (bound {TIME_BOUND_S:.1f}s)")
    if label in UNREACHABLE_FAMILIES:
        lines = stderr.strip().splitlines()
        if code != cli_diagnose.EXIT_UNREACHABLE or report:
            problems.append(f"{cell}: exit {code}, wanted 3 and no report")
        elif len(lines) != 1 or "the cloud 'sim'" not in lines[0]:
            problems.append(f"{cell}: stderr is not one reason line: {stderr!r}")
        return problems
    if code not in (cli_diagnose.EXIT_ROOT_CAUSE, cli_diagnose.EXIT_INCONCLUSIVE):
        return [*problems, f"{cell}: exit {code} ({stderr.strip()[:200]})"]
    exits = {"root_cause": 4, "inconclusive": 5}
    if exits.get(report["conclusion"]) != code:
        problems.append(f"{cell}: exit {code} for conclusion {report['conclusion']}")
    steps = {s["number"]: s for s in report["steps"]}
    for number in sorted(steps_fed_by(healthy, family)):
        step = steps[number]
        text = " ".join([step["summary"], *step["findings"]]).lower()
        if step["status"] == "passed" or "could not" not in text:
            problems.append(
                f"{cell}: step {number} lacked {family}'s evidence but is "
                f"{step['status']}: {step['summary'][:200]}"
            )
    want = healthy["root_cause"]
    got = report["root_cause"]
    if got is None or got["id"] == "unknown":
        # no cause (the failed migration itself could not be read) or an unknown one:
        # only as an inconclusive report, never "no failure"
        if report["conclusion"] != "inconclusive":
            problems.append(f"{cell}: no known cause but {report['conclusion']}")
    else:
        # the healthy run's cause, or a consequence it explained (no_valid_host beside
        # an aggregate mismatch: "no more specific cause could be proven"), never higher
        allowed = {want["id"]: want["confidence"]} | {
            f["id"]: f["confidence"]
            for f in healthy["other_findings"]
            if f.get("consequence_of") == want["id"]
        }
        # a consequence was demoted beside its proven cause; without that cause's
        # evidence it may stand at its own cap, likely, naming the rival it could not
        # rule out (libvirt TLS refused while libvirtd's state is unknown)
        ceiling = dict(allowed)
        caveated = any(
            c.startswith("could not rule out") for c in got.get("caveats", [])
        )
        if got["id"] in allowed and got["id"] != want["id"] and caveated:
            ceiling[got["id"]] = max(ceiling[got["id"]], "likely", key=RANK.__getitem__)
        if got["id"] not in allowed:
            problems.append(
                f"{cell}: WRONG VERDICT {got['id']} (healthy: {want['id']})"
            )
        elif RANK[got["confidence"]] > RANK[ceiling[got["id"]]]:
            problems.append(f"{cell}: {got['confidence']} above the healthy run's")
    if got is not None:
        for cite in got["evidence"]:
            if cites_family(cite["source"], family):
                problems.append(f"{cell}: cites {family}'s {cite['source']!r}")
    confirmed_before = {
        f["id"]
        for f in [want, *healthy["other_findings"]]
        if f["confidence"] == "confirmed"
    }
    for finding in report["other_findings"]:
        if (
            finding["confidence"] == "confirmed"
            and finding["id"] not in confirmed_before
        ):
            problems.append(
                f"{cell}: confirms {finding['id']}, the healthy run did not"
            )
    if problems:
        problems.append(f"{cell}: {_summary(report)}")
    return problems


@pytest.mark.parametrize(("scenario", "vm"), SCENARIOS, ids=[s for s, _ in SCENARIOS])
async def test_each_family_failing_or_hanging_in_turn(
    scenario: str, vm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every family × {500 or refused, hang}: a documented exit within the bound, steps
    that lacked evidence say so, and no verdict rests on what is missing."""
    problems: list[str] = []
    async with start_region(scenario, tmp_path) as region:
        paths = region.paths  # type: ignore[attr-defined]
        code, healthy, _ = await run_cli(fast_config(paths, tmp_path, fast=False), vm)
        assert code == cli_diagnose.EXIT_ROOT_CAUSE, _summary(healthy)
        config = fast_config(paths, tmp_path)
        for label, family, fault in CELLS:
            await region.set_fault(family, fault)
            capsys.readouterr()
            code, report, elapsed = await run_cli(config, vm)
            stderr = capsys.readouterr().err
            await region.set_fault(family, None)
            problems += judge(
                label, family, fault.mode, code, report, elapsed, stderr, healthy
            )
    assert not problems, "\n".join(problems)

"""Every `openstack` command the bot can suggest runs with the real CLI against the sim.

For each bundled scenario the diagnosis runs through `migrate-diag diagnose` over real
HTTP and SSH; then every `openstack` command of its remediation, and of every variant of
the concluded checks' remediation (each ``when`` branch, filled with the scenario's own
facts), runs with python-openstackclient (and osc-placement) in-process against the same
simulated region. A command is accepted when it exits 0, or when the CLI sent its request
and the API refused it for a reason documented below; an argparse/usage error, an
unknown column or a client-side lookup that found nothing is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import shlex
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser
from bot.settings import BotSettings
from diagnostics import cli_diagnose
from diagnostics.evaluate import _UNKNOWN_REMEDIES
from diagnostics.plugins import bundled_check, bundled_checks
from diagnostics.remedies import PROGRAMS, RemedyTemplate, fill_one, programs_of
from diagnostics.settings import load_settings
from sim.region.state import server_by_name, stable_uuid
from sim.scenario.load import list_scenarios, load_scenario
from sim.testing import start_region

osc_shell = pytest.importorskip("openstackclient.shell")
ks_session = pytest.importorskip("keystoneauth1.session")
osc_clients = pytest.importorskip("osc_lib.clientmanager")


def _forget_clients() -> None:
    """osc-lib caches each service client on the ClientManager class: one CLI process
    talks to one cloud. In-process, every command gets fresh clients (and endpoints)."""
    for attr in vars(osc_clients.ClientManager).values():
        if isinstance(attr, osc_clients.ClientCache):
            attr._handle = None


pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

# a scenario whose request is a usage error (exit 2) prints no diagnosis: nothing to run
SCENARIOS = [
    n
    for n in list_scenarios()
    if (e := load_scenario(n).expect) is not None and e.exit_code != 2
]

# API refusals that are documented behaviour, by command prefix: (statuses, why)
DOCUMENTED_REFUSALS: dict[str, tuple[frozenset[int], str]] = {
    "openstack server migrate": (
        frozenset({400, 409}),
        "Nova refuses the move in this VM's state or fails its pre-check (the very "
        "failure being diagnosed)",
    ),
    "openstack server evacuate": (
        frozenset({400, 409}),
        "Nova refuses to evacuate from a host whose service is up or a VM in this state",
    ),
    "openstack server start": (
        frozenset({404, 409}),
        "sim: no os-start action; 409 when running",
    ),
    "openstack server unlock": (frozenset({404}), "sim: no unlock action"),
    "openstack server reboot": (frozenset({404}), "sim: no reboot action"),
    "openstack server set": (frozenset({404, 405}), "sim: no os-resetState action"),
    "openstack compute service set": (
        frozenset({400}),
        "Nova refuses --up while `done` evacuation records from the host remain "
        "(they complete when its nova-compute restarts)",
    ),
    "openstack aggregate set": (frozenset({404, 405}), "sim: aggregates are read-only"),
    "openstack server migration force complete": (
        frozenset({409}),
        "Nova refuses to force complete a migration that is no longer running (the "
        "abort suggested beside it, run first here, has already ended it)",
    ),
    "openstack aggregate add host": (
        frozenset({409}),
        "Nova refuses a host already in the aggregate or in another zone's aggregate",
    ),
    "openstack resource provider allocation delete": (
        frozenset({405}),
        "sim: Placement allocations are read-only",
    ),
    "openstack resource provider allocation show": (
        frozenset({404}),
        "no allocation held by that consumer",
    ),
}


@dataclasses.dataclass
class Run:
    command: str
    code: int
    statuses: list[int]
    stderr: str

    def verdict(self) -> str | None:
        """None when accepted, else why not."""
        if self.code == 0:
            return None
        if self.code == 2 or "usage:" in self.stderr:
            return "usage error"
        if "No recognized column names" in self.stderr:
            return "unknown column"
        # the API must have refused the last request the CLI sent (a lookup by name
        # answered 404 and then found by listing does not count)
        last = self.statuses[-1] if self.statuses else 0
        if last < 400:
            return "refused by the CLI itself (the API did not refuse its last request)"
        for prefix, (allowed, _) in DOCUMENTED_REFUSALS.items():
            if self.command.startswith(prefix) and last in allowed:
                return None
        return f"undocumented API refusal {last}"


class _Recorder:
    """Records the HTTP status of every request keystoneauth sends (one CLI at a time)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self._original = ks_session.Session.request

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        recorder, original = self, self._original

        def request(session: Any, url: str, method: str, **kw: Any) -> Any:
            try:
                resp = original(session, url, method, **kw)
            except Exception as exc:
                recorder.statuses.append(int(getattr(exc, "http_status", 0) or 0))
                raise
            recorder.statuses.append(resp.status_code)
            return resp

        ks_session.Session.request = request  # type: ignore[method-assign]
        try:
            yield
        finally:
            ks_session.Session.request = original  # type: ignore[method-assign]


def _run_cli(recorder: _Recorder, clouds: Path, command: str) -> Run:
    """``command`` with the real openstack CLI, in this process (blocking)."""
    argv = ["--os-cloud", "sim", *shlex.split(command)[1:]]
    out, err = io.StringIO(), io.StringIO()
    with recorder.lock:
        recorder.statuses = []
        with warnings.catch_warnings(), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            _forget_clients()
            shell = osc_shell.OpenStackShell()
            shell.stdout, shell.stderr = out, err
            try:
                code = shell.run(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
        return Run(command, int(code or 0), list(recorder.statuses), err.getvalue())


def _openstack_commands(report: dict[str, Any]) -> list[str]:
    """The report's own openstack steps, then every variant of the concluded checks'."""
    found: list[str] = []
    findings = [report["root_cause"], *report["other_findings"]]
    for finding in findings:
        for step in finding["remediation"] if finding else ():
            if step["place"] == "openstack" and step.get("command"):
                found.append(step["command"])
    for result in report["checks"]:
        if result["status"] != "concluded":
            continue
        for template in bundled_check(result["id"]).remediation:
            step = fill_one(dataclasses.replace(template, when=None), result["facts"])
            if step is not None and step.command and step.on.place.value == "openstack":
                found.append(step.command)
    return [c for c in dict.fromkeys(found) if c.startswith("openstack ")]


async def _diagnose(config: Path, argv: list[str]) -> dict[str, Any]:
    args = build_parser().parse_args(
        ["diagnose", *argv, "--format", "json", "--config", str(config)]
    )
    out = io.StringIO()
    await cli_diagnose.run(args, load_settings(args.config, BotSettings), out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def _debug(name: str, runs: list[Run]) -> None:
    """With REMEDY_CLI_LOG=file, one line per command: how the CLI and the API answered."""
    path = os.environ.get("REMEDY_CLI_LOG")
    if path:
        with Path(path).open("a") as log:
            for r in runs:
                tail = r.stderr.strip()[-200:]
                log.write(
                    f"{name}\t{r.code}\t{r.statuses[-1:]}\t{r.verdict()}\t{r.command}\t{tail!r}\n"
                )


def _openstack_templates() -> list[RemedyTemplate]:
    every = [t for spec in bundled_checks() for t in spec.remediation]
    every += list(_UNKNOWN_REMEDIES)
    unique = {t.command: t for t in every if (t.command or "").startswith("openstack ")}
    return list(unique.values())


def _real_facts(region: Any) -> dict[str, str]:
    """Real names and ids of the region for every placeholder an openstack step uses."""
    scenario, state = region.scenario, region.state
    vm = server_by_name(state, scenario.expect.vm)
    other = next(h for h in scenario.hosts if h != vm["host"])
    aggregate = scenario.aggregates[0].name if scenario.aggregates else ""
    request_id = next(
        a.request_id for a in state.actions if a.instance_uuid == vm["id"]
    )
    running = [
        m.id
        for m in state.migrations
        if m.instance_uuid == vm["id"] and m.status == "running"
    ]
    return {
        "server_id": vm["id"], "request_id": request_id, "flavor_name": scenario.flavors[0].name,
        "host": other, "dest_host": other, "source_host": vm["host"], "az_host": other,
        "aggregate": aggregate, "holder_aggregate": aggregate, "agg_key": "ssd",
        "agg_value": "true", "port_id": next(iter(vm["port_ids"]), ""),
        "leftover_port_id": next(iter(vm["port_ids"]), ""),
        "volume_id": next(iter(vm["volume_ids"]), ""),
        "rp_uuid": stable_uuid(scenario.name, "rp", other),
        # the VM's own allocation: a consumer Placement knows
        "leftover_migration_uuid": vm["id"], "vcpus": "1", "ram_mb": "512", "disk_gb": "1",
    } | ({"running_number": str(running[0])} if running else {})  # fmt: skip


async def test_every_openstack_step_any_check_can_suggest_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each openstack template of every check, filled with real names of a region, runs.

    Covers the ``when`` branches no bundled scenario reaches (aggregate fixes, leftover
    allocations); together with the per-scenario test, every suggestion is exercised.
    """
    templates = _openstack_templates()
    recorder = _Recorder()
    runs: list[Run] = []
    unfilled = set(range(len(templates)))
    for name in (
        "aggregate-metadata-mismatch",
        "storage-iscsi",
        "port-binding-failed",
        "live-migration-not-converging",
    ):
        mine: list[Run] = []
        async with start_region(name, tmp_path / name) as region:
            facts = _real_facts(region)
            monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(region.paths["clouds"]))  # type: ignore[attr-defined]
            monkeypatch.delenv("OS_CLOUD", raising=False)
            with recorder.installed():
                for i, template in enumerate(templates):
                    step = fill_one(dataclasses.replace(template, when=None), facts)
                    if step is None or step.command is None:
                        continue
                    unfilled.discard(i)
                    clouds = region.paths["clouds"]  # type: ignore[attr-defined]
                    mine.append(
                        await asyncio.to_thread(
                            _run_cli, recorder, clouds, step.command
                        )
                    )
            await region.wait_idle()
        _debug(f"every-step:{name}", mine)
        runs += mine
    assert not unfilled, [templates[i].command for i in sorted(unfilled)]
    bad = [
        (r.command, r.verdict(), r.stderr.strip()[-300:]) for r in runs if r.verdict()
    ]
    assert not bad, json.dumps(bad, indent=1)


@pytest.mark.parametrize("name", SCENARIOS)
async def test_suggested_openstack_commands_run_with_the_real_cli(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every suggested openstack command of the scenario is accepted by the real CLI."""
    expect = load_scenario(name).expect
    assert expect is not None
    argv = [expect.vm]
    if expect.target_host:
        argv += ["--target-host", expect.target_host]
    if getattr(expect, "kind", None):
        argv += ["--kind", expect.kind]
    recorder = _Recorder()
    async with start_region(name, tmp_path) as region:
        paths = region.paths  # type: ignore[attr-defined]
        report = await _diagnose(paths["config"], argv)
        commands = _openstack_commands(report)
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(paths["clouds"]))
        monkeypatch.delenv("OS_CLOUD", raising=False)
        runs = []
        with recorder.installed():
            for command in commands:
                runs.append(
                    await asyncio.to_thread(
                        _run_cli, recorder, paths["clouds"], command
                    )
                )
        await region.wait_idle()
    for finding in [report["root_cause"], *report["other_findings"]]:
        for step in finding["remediation"] if finding else ():
            command = step.get("command")
            assert command is None or set(programs_of(command)) <= PROGRAMS, command
    bad = [
        (r.command, r.verdict(), r.stderr.strip()[-300:]) for r in runs if r.verdict()
    ]
    _debug(name, runs)
    assert not bad, json.dumps(bad, indent=1)

"""Hostile --target-host, --migration, VM names and request ids, through the real checks.

Whatever the operator (or a Slack user) types, or a log line carries, every remediation
command a check produces has exactly the words its template intends, and a host that is
no host name gets no command at all.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.checks.cold_migration_ssh import cold_migration_ssh
from diagnostics.checks.compute_service_down import compute_service_down
from diagnostics.checks.invalid_vm_state import invalid_vm_state
from diagnostics.checks.port_binding import port_binding
from diagnostics.checks.stale_leftovers import stale_leftovers
from diagnostics.checks.tls_connect import tls_connect
from diagnostics.evaluate import to_finding, unknown_finding
from diagnostics.model import Concluded, Remedy
from diagnostics.plugins import bundled_check as get_check
from diagnostics.remedies import HOST_NAME, fill_one
from tests.checks.conftest import (
    PORT_ID,
    SRC,
    actions,
    agents,
    dest_logs,
    event,
    no_records,
    record,
    records,
    server,
    services,
    svc,
)
from tests.remedies.test_templates import HOSTILE, intended_words

Case = Callable[[str, str, str], dict[str, Any]]


def _tls(host: str, name: str, mig: str) -> dict[str, Any]:
    line = f"Live Migration failure: unable to connect to server at '{host}:16514': Connection refused"
    return {"server": server(name=name), "records": records(record(id=mig, dest_compute=host)),
            "probe": None, "source_logs": None, "dest_logs": dest_logs(line), "actions": None}  # fmt: skip


def _service(host: str, name: str, mig: str) -> dict[str, Any]:
    return {"server": server(name=name), "records": no_records(target_host=host),
            "services": services(svc(SRC), svc(host, state="down")), "source_units": None,
            "dest_units": None, "actions": None, "mgmt": None}  # fmt: skip


def _binding(host: str, name: str, mig: str) -> dict[str, Any]:
    text = f"Binding failed for port {PORT_ID} and host {host}."
    return {"server": server(name=name), "records": records(record(id=mig, dest_compute=host)),
            "ports": None, "agents": agents(dest_alive=False),
            "actions": actions(event("compute_check_can_live_migrate_destination", text)),
            "source_logs": None, "dest_logs": None, "mgmt": None}  # fmt: skip


def _ssh(host: str, name: str, mig: str) -> dict[str, Any]:
    text = (
        f"Resize error: not able to execute ssh command: Unexpected error while running "
        f"command.\nCommand: ssh -o BatchMode=yes {host} mkdir -p /x\nExit code: 255\n"
        f"Stdout: ''\nStderr: 'Host key verification "
    )
    return {"server": server(name=name),
            "records": records(record(id=mig, kind="migration", dest_compute=host)),
            "probe": None, "actions": actions(event("compute_resize_instance", text), action="migrate"),
            "source_logs": None}  # fmt: skip


def _leftover(host: str, name: str, mig: str) -> dict[str, Any]:
    text = f"Binding for port {PORT_ID} on host {host} already exists."
    return {"server": server(name=name), "records": records(record(id=mig, dest_compute=host)),
            "leftovers": None, "ports": None, "source_logs": None, "dest_logs": None,
            "actions": actions(event("compute_check_can_live_migrate_destination", text)),
            "mgmt": None}  # fmt: skip


def _state(host: str, name: str, mig: str) -> dict[str, Any]:
    return {"server": server(name=name, task_state="migrating", host=host),
            "records": no_records(target_host=host), "actions": None, "mgmt": None}  # fmt: skip


CASES: list[tuple[str, Callable[..., Any], Case]] = [
    ("libvirt.tls-connect", tls_connect, _tls),
    ("nova.compute-service-down", compute_service_down, _service),
    ("neutron.port-binding", port_binding, _binding),
    ("nova.cold-migration-ssh", cold_migration_ssh, _ssh),
    ("nova.stale-leftovers", stale_leftovers, _leftover),
    ("nova.invalid-vm-state", invalid_vm_state, _state),
]


def _assert_intended(
    check_id: str, steps: tuple[Remedy, ...], facts: dict[str, str]
) -> None:
    spec = get_check(check_id)
    for template in spec.remediation:
        step = fill_one(template, facts)
        if step is None or step.command is None:
            continue
        assert step in steps
        assert len(shlex.split(step.command)) == intended_words(template), step.command
        if step.on.name is not None and step.on.place.value == "host":
            assert HOST_NAME.match(step.on.name), step.on.name


@pytest.mark.parametrize(("check_id", "fn", "case"), CASES, ids=[c[0] for c in CASES])
@settings(max_examples=30, deadline=None)
@given(host=HOSTILE | st.just("cmp-b-01"), name=HOSTILE, mig=HOSTILE)
def test_typed_values_never_reshape_a_command(
    check_id: str, fn: Callable[..., Any], case: Case, host: str, name: str, mig: str
) -> None:
    """--target-host, the VM's name and --migration go through the check into the steps."""
    outcome = fn(**case(host, name, mig))
    if not isinstance(outcome, Concluded):
        return
    finding = to_finding(get_check(check_id), outcome)
    _assert_intended(check_id, finding.remediation, dict(outcome.facts))
    # a value made only of '-', '.' and spaces occurs in any command ("-c"): it can
    # shape nothing by itself, and _assert_intended already counts the words
    if host.strip("-. ") and not HOST_NAME.match(host):
        assert all(host not in (s.command or "") for s in finding.remediation)


def test_the_benign_host_still_gets_its_commands() -> None:
    """The same cases with a real host name do produce host commands (the test can fail)."""
    for check_id, fn, case in CASES:
        outcome = fn(**case("cmp-b-01", "web-1", "42"))
        assert isinstance(outcome, Concluded), check_id
        steps = to_finding(get_check(check_id), outcome).remediation
        assert any(s.command for s in steps), check_id


@settings(max_examples=50, deadline=None)
@given(request_id=HOSTILE, server_id=HOSTILE)
def test_unknown_cause_steps_take_only_real_ids(
    request_id: str, server_id: str
) -> None:
    """The 'unknown' verdict's commands appear only for a real server uuid and request id."""
    finding = unknown_finding((), {"server_id": server_id, "request_id": request_id})
    assert finding.remediation == ()
    real = unknown_finding((), {"server_id": "6f0c1a52-3d7e-4c1b-9a8e-2b1f5c7d9e01",
                                "request_id": "req-6f0c1a52-3d7e-4c1b-9a8e-2b1f5c7d9e01"})  # fmt: skip
    assert [len(shlex.split(s.command or "")) for s in real.remediation] == [6, 6]

"""nova.invalid-vm-state: the VM's state does not allow the move."""

from __future__ import annotations

import pytest

from diagnostics.checks.invalid_vm_state import invalid_vm_state
from diagnostics.model import Concluded, Confidence, Inconclusive
from tests.checks.conftest import (
    SRC,
    VM_ID,
    mgmt,
    no_records,
    record,
    records,
    rendered,
    server,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "nova.invalid-vm-state"
LIVE = no_records(kind_hint="live-migration")


def run(**kw):
    base = {"server": server(), "records": LIVE, "actions": None, "mgmt": None}
    return outcome_of(invalid_vm_state, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_409_and_task_state():
    """The API's 409 and the server's task_state agreeing is confirmed."""
    logs = mgmt(
        f"Cannot 'os-migrateLive' instance {VM_ID} while it is in task_state migrating"
    )
    outcome = run(server=server(task_state="migrating"), mgmt=logs)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert f"openstack server set --state active --auto-approve {VM_ID}" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        pytest.param({"server": server(locked=True)}, "locked", id="locked"),
        pytest.param({"server": server(status="SHUTOFF")}, "SHUTOFF", id="shutoff-live"),
        pytest.param({"records": no_records(target_host=SRC, kind_hint="live-migration")},
                     "current host", id="same-host"),
        pytest.param({"records": records(record(status="error")),
                      "mgmt": mgmt(f"Unable to migrate instance ({VM_ID}) to current host ({SRC}).")},
                     "current host", id="same-host-text"),
    ],
)  # fmt: skip
def test_concludes(kw, problem):
    """Locked, wrong status for the kind, or the same host conclude."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert_concludes(outcome)
    assert problem in outcome.facts["problem"]


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({}, id="active-unlocked"),
        pytest.param({"server": server(status="SHUTOFF"),
                      "records": no_records(kind_hint="migration")}, id="shutoff-cold-ok"),
        pytest.param({"server": server(locked=True), "records": records()},
                     id="recorded-migration-was-not-refused"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """A state that allows the move rules it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_missing_optional_evidence_still_reads_the_server():
    """Without records, actions or logs the server's lock still concludes."""
    outcome = run(server=server(locked=True), records=None)
    assert_missing_evidence(outcome, Concluded)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "missing_evidence")
def test_a_task_state_without_migration_records_concludes_nothing():
    """os-migrations unreadable and the VM in task_state migrating: that may be the move
    itself, still running, so no refusal is concluded (and no state reset suggested)."""
    outcome = run(server=server(task_state="migrating"), records=None)
    assert_missing_evidence(outcome, Inconclusive)
    assert "migration records could not be read" in outcome.reason

"""nova.storage-mode-mismatch: the storage mode asked for does not match the disks."""

from __future__ import annotations

import pytest

from diagnostics.checks.storage_mode_mismatch import storage_mode_mismatch
from diagnostics.model import Confidence, Inconclusive
from tests.checks.conftest import (
    DST,
    SRC,
    VM_ID,
    actions,
    commands,
    event,
    record,
    records,
    rendered,
    server,
    src_logs,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "nova.storage-mode-mismatch"
NOT_SHARED = (
    f"{SRC} is not on shared storage: Shared storage live-migration requires either "
    "shared storage or boot-from-volume with no local disks."
)
WRAPPED = (
    f"Migration pre-check error: Error while check_can_live_migrate_source from {SRC} to "
    f"host {DST}: InvalidSharedStorage_Remote {NOT_SHARED}"
)


def run(**kw):
    base = {"server": server(), "records": records(record(status="error")), "actions": None,
                "source_logs": None, "dest_logs": None}  # fmt: skip
    return outcome_of(storage_mode_mismatch, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize("text", [pytest.param(NOT_SHARED, id="bare"),
                                  pytest.param(WRAPPED, id="wrapped")])  # fmt: skip
def test_concludes_on_bare_and_wrapped_invalid_shared_storage(text):
    """InvalidSharedStorage, bare or wrapped, concludes and suggests block_migration auto."""
    outcome = run(actions=actions(event("compute_check_can_live_migrate_source", text)))
    out = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert "disks are local" in outcome.facts["mode"]
    assert f"openstack server migrate --live-migration --host {DST} {VM_ID}" in out


@pytest.mark.outcome(ID, "concluded")
def test_two_sources_confirm():
    """The event and the source log agreeing is confirmed."""
    outcome = run(actions=actions(event("compute_check_can_live_migrate_source", WRAPPED)),
                  source_logs=src_logs(NOT_SHARED))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED


@pytest.mark.outcome(ID, "concluded")
def test_evacuation_on_shared_storage_flag():
    """An evacuation with the wrong shared-storage flag suggests a plain evacuate."""
    acts = actions(event("compute_rebuild_instance",
                         "Invalid state of instance files on shared storage"))  # fmt: skip
    outcome = run(
        records=records(record(kind="evacuation", status="error")), actions=acts
    )
    assert_concludes(outcome)
    assert commands(ID, outcome) == [f"openstack server evacuate {VM_ID}"]


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_for_other_precheck_errors():
    """A different pre-check error rules it out."""
    acts = actions(event("compute_check_can_live_migrate_destination",
                         "Unacceptable CPU info: CPU doesn't have compatibility."))  # fmt: skip
    assert_rules_out(run(actions=acts))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_failure_text():
    """No events and no logs is inconclusive."""
    assert_missing_evidence(run(records=None), Inconclusive)

"""nova.unsupported-device: a device or feature that cannot be live migrated."""

from __future__ import annotations

import pytest

from diagnostics.checks.unsupported_device import unsupported_device
from diagnostics.model import Concluded, Confidence, CouldNotCheck
from tests.checks.conftest import (
    VM_ID,
    actions,
    event,
    mgmt,
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

ID = "nova.unsupported-device"


def run(**kw):
    base = {"server": server(), "actions": None, "mgmt": None, "source_logs": None}
    return outcome_of(unsupported_device, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_refusal_and_flavor():
    """The SEV refusal and the flavor's hw:mem_encryption agreeing is confirmed."""
    logs = mgmt(
        f"Operation 'live-migration' not supported for SEV-enabled instance ({VM_ID})."
    )
    outcome = run(server=server(extra_specs={"hw:mem_encryption": "true"}), mgmt=logs)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert f"openstack server migrate {VM_ID}" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("text", "feature"),
    [
        pytest.param("TPM secret was not found. Try hard-rebooting the instance to recover.",
                     "vTPM secret missing", id="vtpm-secret"),
        pytest.param("Your destination node does not support retrieving listen addresses. "
                     "In order for live migration to work properly you must disable serial "
                     "console.", "serial console", id="serial-console"),
        pytest.param("Migration pre-check error: This request does not explicitly request "
                     "live-migratable devices.", "PCI passthrough", id="pci"),
        pytest.param("Instance has an associated NUMA topology, cell contains compute nodes "
                     "older than train, and the enable_numa_live_migration workaround is "
                     "disabled.", "NUMA with pre-Train computes", id="numa"),
    ],
)  # fmt: skip
def test_names_the_feature(text, feature):
    """Each refusal text names its feature; the text alone is likely."""
    outcome = run(actions=actions(event("conductor_live_migrate_instance", text)))
    rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.facts["feature"] == feature
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "missing_evidence")
def test_flavor_alone_is_possible():
    """A vTPM flavor with no refusal seen (e.g. SaaS, no API log) is possible."""
    outcome = run(server=server(extra_specs={"hw:tpm_version": "2.0"}))
    assert_missing_evidence(outcome, Concluded)
    assert outcome.confidence is Confidence.POSSIBLE


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_for_plain_guests():
    """A plain flavor and an unrelated failure rule it out."""
    logs = src_logs("Live Migration failure: operation failed: Failed to connect")
    read = actions(event("compute_live_migration", "Failed to connect"))
    assert_rules_out(run(source_logs=logs, actions=read))


@pytest.mark.outcome(ID, "missing_evidence")
def test_unread_events_and_conductor_log_are_not_a_pass():
    """With neither the action's events nor the conductor's log read, a plain flavor is
    no proof that Nova did not refuse the device: could not check, never ruled out."""
    logs = src_logs("Live Migration failure: operation failed: Failed to connect")
    outcome = assert_missing_evidence(run(source_logs=logs), CouldNotCheck)
    assert "conductor" in outcome.why
    assert "os-instance-actions" in outcome.needs

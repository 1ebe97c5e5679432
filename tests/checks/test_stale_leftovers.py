"""nova.stale-leftovers: a leftover from an earlier attempt made this one fail."""

from __future__ import annotations

from dataclasses import replace

import pytest

from diagnostics.checks.stale_leftovers import stale_leftovers
from diagnostics.model import Confidence, Inconclusive
from tests.checks.conftest import (
    DST,
    PORT_ID,
    VM_ID,
    actions,
    commands,
    dest_logs,
    event,
    leftovers,
    mgmt,
    ports,
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

ID = "nova.stale-leftovers"
EXISTS = f"Binding for port {PORT_ID} on host {DST} already exists."


def run(**kw):
    base = {"server": server(), "records": records(), "leftovers": None, "ports": None, "actions": None,
                "source_logs": None, "dest_logs": None, "mgmt": None}  # fmt: skip
    return outcome_of(stale_leftovers, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_the_inactive_binding_still_there():
    """'Binding ... already exists' and the INACTIVE binding in Neutron is confirmed."""
    acts = actions(event("conductor_live_migrate_instance", EXISTS))
    outcome = run(actions=acts, ports=ports(inactive_on=DST))
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert f"{PORT_ID} {DST}" in text
    assert f"--host {DST} {VM_ID}" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("kw", "cleanup"),
    [
        pytest.param({"dest_logs": dest_logs(
            f"The supplied disk path (/opt/data/instances/{VM_ID}) already exists, it is "
            "expected not to exist.")},
            f"mv /opt/data/instances/{VM_ID} /opt/data/instances/{VM_ID}.stale",
            id="destination-disk-exists"),
        pytest.param({"source_logs": src_logs(
            "Live Migration failure: Requested operation is not valid: domain "
            "'instance-0000002a' is already active")},
            "virsh destroy instance-0000002a", id="domain-already-active"),
    ],
)  # fmt: skip
def test_cleanup_for_each_leftover(kw, cleanup):
    """Each leftover text gets its cleanup command; the text alone is likely."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert cleanup in commands(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "concluded")
def test_probe_leftover_confirms_disk_text():
    """The instance directory still present on the destination confirms."""
    logs = dest_logs(
        f"The supplied disk path (/opt/data/instances/{VM_ID}) already exists"
    )
    outcome = run(dest_logs=logs, leftovers=leftovers(instance_dir=True))
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_failure_names_no_leftover():
    """A leftover on the host without it in the failure text is not the primary cause."""
    acts = actions(
        event("conductor_live_migrate_instance", "No valid host was found. ")
    )
    outcome = run(
        actions=acts, leftovers=leftovers(domain=True),
        mgmt=mgmt(), source_logs=src_logs(), dest_logs=dest_logs(),
    )  # fmt: skip
    assert_rules_out(outcome)


@pytest.mark.outcome(ID, "missing_evidence")
def test_a_leftover_is_not_ruled_out_while_the_conductor_log_is_unread():
    """Nova turns Neutron's 'already exists' into a generic "Binding failed" event and
    logs the reason in nova-conductor: with that log unread (Kubernetes API down, or a
    SaaS region), a binding failure does not rule a leftover out."""
    acts = actions(event(
        "conductor_live_migrate_instance",
        f"Binding failed for port {PORT_ID}, please check neutron logs for more "
        "information.",
    ))  # fmt: skip
    outcome = run(
        actions=acts, ports=ports(inactive_on=DST), source_logs=src_logs(),
        dest_logs=dest_logs(),
    )  # fmt: skip
    assert_missing_evidence(outcome, Inconclusive)
    assert "management plane's Nova logs could not be read" in outcome.reason


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_failure_text():
    """No failure text at all is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "concluded")
def test_with_another_target_the_leftover_stays_the_failed_destinations():
    """--target-host H: "Binding ... already exists" on D with D's INACTIVE binding still
    in Neutron is confirmed about D; H's own probe (a domain left on H) is not D's proof."""
    acts = actions(event("conductor_live_migrate_instance", EXISTS))
    outcome = assert_concludes(run(
        records=records(target_host="cmp-b-09"), actions=acts, ports=ports(inactive_on=DST),
        leftovers=replace(leftovers(domain=True), host="cmp-b-09"),
    ))  # fmt: skip
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["dest_host"] == DST
    assert all("cmp-b-09" not in c.source + c.text for c in outcome.cites)
    # the binding is gone from D: the text alone, likely, and H's leftover not cited
    gone = assert_concludes(run(
        records=records(target_host="cmp-b-09"), actions=acts, ports=ports(),
        leftovers=replace(leftovers(domain=True), host="cmp-b-09"),
    ))  # fmt: skip
    assert gone.confidence is Confidence.LIKELY
    assert all("cmp-b-09" not in c.source + c.text for c in gone.cites)

"""nova.leftovers-on-dest: leftovers on the destination will break a retry."""

from __future__ import annotations

import pytest

from diagnostics.checks.leftovers_on_dest import leftovers_on_dest
from diagnostics.model import Confidence, Inconclusive
from tests.checks.conftest import (
    DST,
    MIG_UUID,
    PORT_ID,
    actions,
    event,
    leftovers,
    placement,
    ports,
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

ID = "nova.leftovers-on-dest"


def run(**kw):
    base = {"server": server(), "records": records(), "leftovers": None, "ports": None,
                "placement": None, "actions": None, "dest_logs": None}  # fmt: skip
    return outcome_of(leftovers_on_dest, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_lists_every_leftover_with_its_cleanup():
    """Domain, directory, inactive binding and a held allocation are all listed."""
    held = placement(allocations={MIG_UUID: {"rp": {"VCPU": 2}}})
    outcome = run(leftovers=leftovers(domain=True, instance_dir=True),
                  ports=ports(inactive_on=DST), placement=held)  # fmt: skip
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["leftovers"].count(";") == 3
    assert "delete_port_binding(" in text
    assert f"{PORT_ID} {DST}" in text
    assert f"openstack resource provider allocation delete {MIG_UUID}" in text


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_nothing_is_left():
    """A clean destination rules it out."""
    assert_rules_out(run(leftovers=leftovers(), ports=ports(), placement=placement()))


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_the_failure_names_it():
    """When the failure text names the leftover, nova.stale-leftovers reports it instead."""
    acts = actions(event("conductor_live_migrate_instance",
                         f"Binding for port {PORT_ID} on host {DST} already exists."))  # fmt: skip
    assert_rules_out(run(actions=acts, ports=ports(inactive_on=DST)))


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_the_vm_runs_on_the_destination():
    """The VM's own domain on its current host is not a leftover."""
    assert_rules_out(run(server=server(host=DST), leftovers=leftovers(domain=True)))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_probe_ports_or_placement():
    """No leftover evidence at all is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_while_the_migration_is_still_running():
    """The destination's INACTIVE binding of a migration under way is its own, not a leftover."""
    outcome = run(
        records=records(record(status="running")), ports=ports(inactive_on=DST)
    )
    assert_rules_out(outcome)
    assert "still running" in outcome.reason

"""nova.leftovers-on-dest: leftovers on the destination will break a retry."""

from __future__ import annotations

from diagnostics.checks.leftovers_on_dest import leftovers_on_dest
from diagnostics.model import Concluded, Confidence, Inconclusive, RuledOut
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

ID = "nova.leftovers-on-dest"


def run(**kw):
    base = {"server": server(), "records": records(), "leftovers": None, "ports": None,
                "placement": None, "actions": None, "dest_logs": None}  # fmt: skip
    return leftovers_on_dest(**(base | kw))


def test_lists_every_leftover_with_its_cleanup():
    """Domain, directory, inactive binding and a held allocation are all listed."""
    held = placement(allocations={MIG_UUID: {"rp": {"VCPU": 2}}})
    outcome = run(leftovers=leftovers(domain=True, instance_dir=True),
                  ports=ports(inactive_on=DST), placement=held)  # fmt: skip
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["leftovers"].count(";") == 3
    assert "delete_port_binding(" in text
    assert f"{PORT_ID} {DST}" in text
    assert f"openstack resource provider allocation delete {MIG_UUID}" in text


def test_ruled_out_when_nothing_is_left():
    """A clean destination rules it out."""
    assert isinstance(
        run(leftovers=leftovers(), ports=ports(), placement=placement()), RuledOut
    )


def test_ruled_out_when_the_failure_names_it():
    """When the failure text names the leftover, nova.stale-leftovers reports it instead."""
    acts = actions(event("conductor_live_migrate_instance",
                         f"Binding for port {PORT_ID} on host {DST} already exists."))  # fmt: skip
    assert isinstance(run(actions=acts, ports=ports(inactive_on=DST)), RuledOut)


def test_ruled_out_when_the_vm_runs_on_the_destination():
    """The VM's own domain on its current host is not a leftover."""
    assert isinstance(
        run(server=server(host=DST), leftovers=leftovers(domain=True)), RuledOut
    )


def test_inconclusive_without_probe_ports_or_placement():
    """No leftover evidence at all is inconclusive."""
    assert isinstance(run(), Inconclusive)


def test_ruled_out_while_the_migration_is_still_running():
    """The destination's INACTIVE binding of a migration under way is its own, not a leftover."""
    outcome = run(
        records=records(record(status="running")), ports=ports(inactive_on=DST)
    )
    assert isinstance(outcome, RuledOut)
    assert "still running" in outcome.reason

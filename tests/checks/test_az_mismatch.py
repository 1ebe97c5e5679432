"""nova.az-mismatch: the destination is outside the VM's pinned availability zone."""

from __future__ import annotations

import pytest

from diagnostics.checks.az_mismatch import az_mismatch
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
)
from tests.checks.conftest import (
    DST,
    actions,
    agg,
    aggregates,
    event,
    mgmt,
    records,
    rendered,
    server,
    zones,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "nova.az-mismatch"
PINNED = server(pinned_availability_zone="az1")


def run(**kw):
    base = {"server": PINNED, "records": records(), "zones": zones(), "aggregates": None,
                "mgmt": None, "actions": None}  # fmt: skip
    return outcome_of(az_mismatch, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_when_scheduler_found_no_candidates():
    """Pinned az1, destination in az2, and Placement returned nothing: confirmed."""
    logs = mgmt(
        "Got no allocation candidates from the Placement API. This could be due"
    )
    outcome = run(mgmt=logs)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert (outcome.facts["requested_az"], outcome.facts["dest_az"]) == ("az1", "az2")
    assert "openstack server migrate --live-migration --host cmp-a-02" in text


@pytest.mark.outcome(ID, "concluded")
def test_likely_from_aggregates_alone():
    """The destination's zone from its aggregate, without scheduler logs, is likely."""
    aggs = aggregates(agg("rack2", (DST,), az="az2"))
    outcome = run(zones=None, aggregates=aggs, actions=actions(event(
        "conductor_live_migrate_instance", "No valid host was found. ")))  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"server": server()}, id="not-pinned"),
        pytest.param({"zones": zones(az1=("cmp-a-01", DST))}, id="same-zone"),
    ],
)
def test_ruled_out(kw):
    """An unpinned VM, or a destination in the same zone, rules it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_could_not_check_without_zone_data():
    """No AZ list and no aggregates for a pinned VM: could not check, with the access."""
    outcome = run(zones=None)
    assert_missing_evidence(outcome, CouldNotCheck)
    assert "os-availability-zone" in outcome.needs

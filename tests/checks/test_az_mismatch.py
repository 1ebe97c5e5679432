"""nova.az-mismatch: the destination is outside the VM's pinned availability zone."""

from __future__ import annotations

import pytest

from diagnostics.checks.az_mismatch import az_mismatch
from diagnostics.model import (
    Concluded,
    Confidence,
    CouldNotCheck,
    RuledOut,
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

ID = "nova.az-mismatch"
PINNED = server(pinned_availability_zone="az1")


def run(**kw):
    base = {"server": PINNED, "records": records(), "zones": zones(), "aggregates": None,
                "mgmt": None, "actions": None}  # fmt: skip
    return az_mismatch(**(base | kw))


def test_confirmed_when_scheduler_found_no_candidates():
    """Pinned az1, destination in az2, and Placement returned nothing: confirmed."""
    logs = mgmt(
        "Got no allocation candidates from the Placement API. This could be due"
    )
    outcome = run(mgmt=logs)
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.CONFIRMED
    assert (outcome.facts["requested_az"], outcome.facts["dest_az"]) == ("az1", "az2")
    assert "openstack server migrate --live-migration --host cmp-a-02" in text


def test_likely_from_aggregates_alone():
    """The destination's zone from its aggregate, without scheduler logs, is likely."""
    aggs = aggregates(agg("rack2", (DST,), az="az2"))
    outcome = run(zones=None, aggregates=aggs, actions=actions(event(
        "conductor_live_migrate_instance", "No valid host was found. ")))  # fmt: skip
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"server": server()}, id="not-pinned"),
        pytest.param({"zones": zones(az1=("cmp-a-01", DST))}, id="same-zone"),
    ],
)
def test_ruled_out(kw):
    """An unpinned VM, or a destination in the same zone, rules it out."""
    assert isinstance(run(**kw), RuledOut)


def test_could_not_check_without_zone_data():
    """No AZ list and no aggregates for a pinned VM: could not check, with the access."""
    outcome = run(zones=None)
    assert isinstance(outcome, CouldNotCheck)
    assert "os-availability-zone" in outcome.needs

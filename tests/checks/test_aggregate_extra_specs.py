"""nova.aggregate-extra-specs: the flavor needs aggregate metadata the destination lacks."""

from __future__ import annotations

import pytest

from diagnostics.checks.aggregate_extra_specs import aggregate_extra_specs
from diagnostics.model import Confidence, Inconclusive
from tests.checks.conftest import (
    DST,
    SRC,
    agg,
    aggregates,
    commands,
    mgmt,
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

ID = "nova.aggregate-extra-specs"
SSD = server(extra_specs={"aggregate_instance_extra_specs:ssd": "true"})


def run(**kw):
    base = {"server": SSD, "records": records(), "mgmt": None,
                "aggregates": aggregates(agg("fast", (SRC,), metadata={"ssd": "true"}),
                                      agg("slow", (DST,), metadata={"ssd": "false"}))}  # fmt: skip
    return outcome_of(aggregate_extra_specs, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_the_scheduler_filter_line():
    """Metadata mismatch plus 'AggregateInstanceExtraSpecsFilter returned 0 hosts'."""
    outcome = run(
        mgmt=mgmt("Filter AggregateInstanceExtraSpecsFilter returned 0 hosts")
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["missing"] == "ssd=true"
    assert "openstack aggregate set --property ssd=true slow" in text


@pytest.mark.outcome(ID, "concluded")
def test_host_in_no_aggregate_suggests_adding_it():
    """A destination in no aggregate is told to join the aggregate holding the key."""
    outcome = run(aggregates=aggregates(agg("fast", (SRC,), metadata={"ssd": "true"})))
    assert_concludes(outcome)
    assert f"openstack aggregate add host fast {DST}" in commands(ID, outcome)


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"server": server()}, id="flavor-without-specs"),
        pytest.param({"aggregates": aggregates(agg("a", (DST,), metadata={"ssd": "true,x"}))},
                     id="destination-matches"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """No scoped extra specs, or matching metadata, rules it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_aggregates():
    """The aggregate list unavailable is inconclusive, not a pass."""
    assert_missing_evidence(run(aggregates=None), Inconclusive)

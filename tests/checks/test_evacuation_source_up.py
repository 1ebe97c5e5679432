"""nova.evacuation-source-up: evacuation refused because the source is still up."""

from __future__ import annotations

import pytest

from diagnostics.checks.evacuation_source_up import evacuation_source_up
from diagnostics.model import Confidence, Inconclusive
from tests.checks.conftest import (
    SRC,
    VM_ID,
    mgmt,
    no_records,
    record,
    records,
    rendered,
    server,
    services,
    svc,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "nova.evacuation-source-up"
EVAC = no_records(kind_hint="evacuation")


def run(**kw):
    base = {
        "server": server(),
        "records": EVAC,
        "services": None,
        "actions": None,
        "mgmt": None,
    }
    return outcome_of(evacuation_source_up, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_service_state_and_api_refusal():
    """Source up in the API and 'still in use' in nova-api's log is confirmed."""
    logs = mgmt(f"Compute service of {SRC} is still in use.")
    outcome = run(services=services(), mgmt=logs)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert f"compute service set --down {SRC} nova-compute" in text
    assert f"openstack server evacuate {VM_ID}" in text


@pytest.mark.outcome(ID, "concluded")
def test_service_state_alone_is_likely():
    """Without logs (SaaS) the service state alone is likely."""
    outcome = run(services=services())
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_source_is_down():
    """A down source is what evacuation needs."""
    assert_rules_out(run(services=services(svc(SRC, state="down"))))


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_when_the_evacuation_went_through():
    """An evacuation that is done was not refused."""
    done = records(record(kind="evacuation", status="done"))
    assert_rules_out(run(records=done, services=services()))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_services_or_text():
    """Nothing to look at is inconclusive."""
    assert_missing_evidence(run(records=None), Inconclusive)

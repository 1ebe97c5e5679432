"""nova.compute-service-down: nova-compute or libvirtd down on a host of the move."""

from __future__ import annotations

import pytest

from diagnostics.checks.compute_service_down import compute_service_down
from diagnostics.evidence.types import DestHostServices, SourceHostServices
from diagnostics.model import (
    Confidence,
    CouldNotCheck,
    Inconclusive,
)
from tests.checks.conftest import (
    DST,
    SRC,
    actions,
    commands,
    event,
    record,
    records,
    rendered,
    server,
    services,
    svc,
    tls_probe,
    units,
)
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

BOTH = {
    "source_units": units(SourceHostServices),
    "dest_units": units(DestHostServices),
}

ID = "nova.compute-service-down"


def run(**kw):
    base = {"server": server(), "records": records(record(status="error")), "services": None,
                "source_units": None, "dest_units": None, "actions": None, "mgmt": None,
            "probe": None}  # fmt: skip
    return outcome_of(compute_service_down, **(base | kw))


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_api_state_and_conductor_message():
    """Destination down in the API and 'Compute service ... unavailable' is confirmed."""
    acts = actions(event("conductor_live_migrate_instance",
                         f"Compute service of {DST} is unavailable at this time."))  # fmt: skip
    outcome = run(services=services(svc(SRC), svc(DST, state="down")), actions=acts)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["host"] == DST
    steps = commands(ID, outcome)
    restart = steps.index("systemctl restart pf9-ostackhost")
    assert steps[restart - 1] == "journalctl -u pf9-ostackhost -n 100 --no-pager"
    assert f"fix on host {DST}" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("kw", "fix"),
    [
        pytest.param({"services": services(svc(SRC), svc(DST, status="disabled"))},
                     f"openstack compute service set --enable {DST} nova-compute",
                     id="destination-disabled"),
        pytest.param({"services": services(svc(SRC, forced_down=True), svc(DST))},
                     f"openstack compute service set --up {SRC} nova-compute",
                     id="source-forced-down"),
        pytest.param({"dest_units": units(DestHostServices, libvirtd="failed")},
                     "systemctl restart libvirtd", id="libvirtd-failed"),
    ],
)  # fmt: skip
def test_names_the_fix(kw, fix):
    """Each service problem gets its exact fix command."""
    outcome = run(**kw)
    rendered(ID, outcome)
    assert fix in commands(ID, outcome)


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"services": services(svc(SRC, status="disabled"), svc(DST)), **BOTH},
                     id="disabled-source-is-fine"),
        pytest.param({"services": services(svc(SRC, state="down"), svc(DST)),
                      "dest_units": units(DestHostServices),
                      "records": records(record(kind="evacuation", status="error"))},
                     id="down-source-expected-for-evacuation"),
        pytest.param({"services": services(svc(SRC), svc(DST)), **BOTH}, id="all-up"),
    ],
)  # fmt: skip
def test_ruled_out(kw):
    """Healthy services, a disabled source, or a down evacuation source rule it out."""
    assert_rules_out(run(**kw))


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_service_evidence():
    """No service list, units or failure text is inconclusive."""
    assert_missing_evidence(run(), Inconclusive)


@pytest.mark.outcome(ID, "missing_evidence")
@pytest.mark.parametrize(
    ("kw", "missing"),
    [
        pytest.param({"services": services(svc(SRC), svc(DST))},
                     f"units on {DST}, {SRC}", id="api-only"),
        pytest.param(BOTH, "nova-compute state (os-services)", id="units-only"),
    ],
)  # fmt: skip
def test_never_rules_out_on_evidence_it_did_not_get(kw, missing):
    """Without the API state or a host's units, 'up' is never claimed: could not check."""
    outcome = run(**kw)
    assert_missing_evidence(outcome, CouldNotCheck)
    assert missing in outcome.why
    assert outcome.needs


@pytest.mark.outcome(ID, "concluded")
def test_dead_libvirtd_and_refused_tls_port_agree_confirmed():
    """libvirtd failed on the destination and the probe's refused 16514 confirm it."""
    probe = tls_probe(connect_ok=False, port_open=False,
                      connect_output="unable to connect to server at 'cmp-b-01:16514': "
                                     "Connection refused")  # fmt: skip
    outcome = run(
        services=services(svc(SRC), svc(DST)),
        dest_units=units(DestHostServices, libvirtd="inactive"),
        probe=probe,
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.facts["host"] == DST
    assert "libvirtd not active" in outcome.facts["problem"]


H = "cmp-b-09"


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.outcome(ID, "ruled_out")
def test_the_failed_moves_destination_stays_the_cause_with_another_target():
    """--target-host H, healthy: D's down compute service (API, Nova's message) still
    explains the past failure, about D, at the confidence its own sources give; H's
    units are neither cited for it nor needed to check D."""
    retarget = records(record(status="error"), target_host=H)
    healthy_h = units(DestHostServices)
    acts = actions(event("conductor_live_migrate_instance",
                         f"Compute service of {DST} is unavailable at this time."))  # fmt: skip
    outcome = run(
        records=retarget, services=services(svc(SRC), svc(DST, state="down"), svc(H)),
        source_units=units(SourceHostServices), dest_units=healthy_h, actions=acts,
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["host"] == DST
    assert outcome.confidence is Confidence.CONFIRMED  # API and Nova's message
    assert all(c.source != healthy_h.provenance for c in outcome.cites)
    api_only = run(
        records=retarget, services=services(svc(SRC), svc(DST, state="down"), svc(H)),
        source_units=units(SourceHostServices), dest_units=healthy_h,
    )  # fmt: skip
    assert_concludes(api_only)
    assert api_only.facts["host"] == DST
    assert api_only.confidence is Confidence.LIKELY
    all_up = run(
        records=retarget, services=services(svc(SRC), svc(DST), svc(H)),
        source_units=units(SourceHostServices), dest_units=healthy_h,
    )  # fmt: skip
    assert_rules_out(all_up)


@pytest.mark.outcome(ID, "concluded")
def test_a_dead_libvirtd_on_the_target_host_is_about_the_target():
    """--target-host H with libvirtd dead on H: the finding names H, from H's units."""
    outcome = run(
        records=records(record(status="error"), target_host=H),
        services=services(svc(SRC), svc(DST), svc(H)),
        source_units=units(SourceHostServices),
        dest_units=units(DestHostServices, libvirtd="failed"),
        probe=tls_probe(connect_ok=False, port_open=False),  # towards D: not about H
    )
    assert_concludes(outcome)
    assert outcome.facts["host"] == H
    assert "16514" not in outcome.facts["problem"]

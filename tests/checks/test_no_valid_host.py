"""nova.no-valid-host: scheduling failed and nothing more specific was proven."""

from __future__ import annotations

import pytest

from diagnostics.checks.no_valid_host import no_valid_host
from diagnostics.model import (
    Confidence,
    Inconclusive,
    RootCauseId,
)
from tests.checks.conftest import (
    DST,
    SRC,
    actions,
    event,
    mgmt,
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

ID = "nova.no-valid-host"
NVH = actions(event("conductor_live_migrate_instance",
                    "No valid host was found. There are not enough hosts available."))  # fmt: skip


@pytest.mark.outcome(ID, "concluded")
def test_names_the_filter_from_the_scheduler_log():
    """With scheduler logs, the summary names the filter that removed the last host."""
    logs = mgmt("Filter ComputeFilter returned 0 hosts",
                "Skipping host: cmp-c-01 because: Unacceptable CPU info")  # fmt: skip
    up = services(svc(SRC), svc(DST))
    outcome = outcome_of(
        no_valid_host, server=server(), actions=NVH, mgmt=logs, services=up
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert "filter ComputeFilter removed the last host" in outcome.facts["detail"]
    assert "cmp-c-01 was skipped" in text
    assert "--resource MEMORY_MB=4096" in text


@pytest.mark.outcome(ID, "concluded")
def test_says_management_logs_were_missing():
    """Without management-plane logs (SaaS) the summary says so."""
    outcome = outcome_of(
        no_valid_host, server=server(), actions=NVH, mgmt=None, services=None
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert "not available" in outcome.facts["detail"]


@pytest.mark.outcome(ID, "concluded")
def test_cold_migrate_wording_concludes():
    """'No valid host found for cold migrate' is the same symptom."""
    acts = actions(
        event("conductor_migrate_server", "No valid host found for cold migrate")
    )
    assert_concludes(
        outcome_of(
            no_valid_host, server=server(), actions=acts, mgmt=None, services=None
        )
    )


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_for_other_failures():
    """A failure that is not a scheduling failure rules it out."""
    acts = actions(event("compute_pre_live_migration", "Volume device not found at ."))
    assert_rules_out(
        outcome_of(
            no_valid_host, server=server(), actions=acts, mgmt=None, services=None
        )
    )


@pytest.mark.outcome(ID, "missing_evidence")
def test_inconclusive_without_any_failure_text():
    """No actions, no fault and no logs is inconclusive."""
    assert_missing_evidence(
        outcome_of(
            no_valid_host, server=server(), actions=None, mgmt=None, services=None
        ),
        Inconclusive,
    )


@pytest.mark.outcome(ID, "concluded")
def test_a_filter_is_not_confirmed_without_the_compute_services():
    """NoValidHost is a filter's doing only if the services were up: unknown -> likely."""
    logs = mgmt("Filter ComputeFilter returned 0 hosts")
    outcome = outcome_of(
        no_valid_host, server=server(), actions=NVH, mgmt=logs, services=None
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert any("compute services being down" in c for c in outcome.not_ruled_out)


@pytest.mark.outcome(ID, "concluded")
def test_every_specific_cause_explains_no_valid_host():
    """A specific scheduling cause found beside it is the deeper cause."""
    outcome = outcome_of(
        no_valid_host, server=server(), actions=NVH, mgmt=None, services=None
    )
    assert_concludes(outcome)
    assert RootCauseId.COMPUTE_SERVICE_DOWN in outcome.explained_by
    assert RootCauseId.INSUFFICIENT_RESOURCES in outcome.explained_by
    assert RootCauseId.NO_VALID_HOST not in outcome.explained_by

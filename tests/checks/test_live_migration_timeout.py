"""nova.live-migration-timeout: the live migration did not complete in time."""

from __future__ import annotations

import pytest

from diagnostics.checks.live_migration_timeout import live_migration_timeout
from diagnostics.evidence.types import DestHostServices
from diagnostics.model import Confidence, Inconclusive, RootCauseId
from tests.checks.conftest import (
    DST,
    SRC,
    record,
    records,
    rendered,
    server,
    services,
    src_logs,
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

ID = "nova.live-migration-timeout"
# the rivals of a timeout, each seen healthy: the stream (TLS probe), libvirtd, nova-compute
RIVALS_RULED_OUT = {
    "services": services(svc(SRC), svc(DST)),
    "dest_units": units(DestHostServices),
    "probe": tls_probe(),
}
PROGRESS = (
    "Migration running for {s} secs, memory {m}% remaining (bytes processed=1, "
    "remaining=2, total=3); disk 0% remaining (bytes processed=0, remaining=0, total=0)"
)


@pytest.mark.outcome(ID, "concluded")
def test_confirmed_by_cancelled_status_and_timeout_line():
    """Status cancelled plus the timeout line, with flat progress, is confirmed."""
    logs = src_logs(
        PROGRESS.format(s=30, m=40),
        PROGRESS.format(s=60, m=41),
        "Live migration not completed after 3200 sec",
        "Migration operation was cancelled",
    )
    outcome = outcome_of(
        live_migration_timeout,
        server=server(),
        records=records(record(status="cancelled")),
        source_logs=logs,
        **RIVALS_RULED_OUT,
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.CONFIRMED
    assert outcome.not_ruled_out == ()
    assert "3200 seconds" in outcome.facts["detail"]
    assert "stayed at 41%" in outcome.facts["detail"]
    assert "--host cmp-b-01" in text


@pytest.mark.outcome(ID, "concluded")
@pytest.mark.parametrize(
    ("status", "lines"),
    [
        pytest.param("cancelled", (), id="cancelled-status-only"),
        pytest.param("failed", ("Migration operation was cancelled",), id="log-only"),
    ],
)
def test_likely_from_one_source(status, lines):
    """One source of evidence (status or log line) is likely."""
    outcome = outcome_of(
        live_migration_timeout,
        server=server(),
        records=records(record(status=status)),
        source_logs=src_logs(*lines),
    )
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY


@pytest.mark.outcome(ID, "ruled_out")
def test_ruled_out_for_a_failed_migration_without_timeout():
    """A failed (not cancelled) migration with other errors is not a timeout."""
    logs = src_logs("Live Migration failure: operation failed: Failed to connect")
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=records(), source_logs=logs
    )
    assert_rules_out(outcome)


@pytest.mark.outcome(ID, "missing_evidence")
def test_missing_logs_and_records_is_inconclusive():
    """Without the record and the source log nothing can be said."""
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=None, source_logs=None
    )
    assert_missing_evidence(outcome, Inconclusive)


@pytest.mark.outcome(ID, "concluded")
def test_running_with_flat_progress_will_not_converge():
    """A migration still running whose memory remaining stopped falling is likely, and
    the fixes are abort or force complete (never a second migration on top)."""
    logs = src_logs(*(PROGRESS.format(s=s, m=m) for s, m in ((30, 81), (330, 47),
                                                              (630, 44), (930, 46))))  # fmt: skip
    outcome = outcome_of(
        live_migration_timeout,
        server=server(),
        records=records(record(status="running")),
        source_logs=logs,
    )
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert "still running after 930 seconds" in outcome.facts["detail"]
    assert "lowest 44%, 46% now" in outcome.facts["detail"]
    assert "openstack server migration abort" in text
    assert "openstack server migration force complete" in text
    assert "openstack server migrate --live-migration" not in text


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "memory",
    [
        pytest.param((81, 47, 30), id="converging"),
        pytest.param((81, 80), id="too-few-lines"),
    ],
)
def test_running_and_converging_or_too_early_is_ruled_out(memory):
    """Memory remaining still falling, or fewer than three progress lines, is no finding."""
    logs = src_logs(*(PROGRESS.format(s=30 * i, m=m) for i, m in enumerate(memory, 1)))
    outcome = outcome_of(
        live_migration_timeout,
        server=server(),
        records=records(record(status="running")),
        source_logs=logs,
    )
    assert_rules_out(outcome)


TIMED_OUT = (
    "Live migration not completed after 3200 sec",
    "Migration operation was cancelled",
)


@pytest.mark.outcome(ID, "concluded")
def test_rivals_it_cannot_see_cap_it_at_likely_and_are_named():
    """Timeout line and cancelled status, but libvirtd, the compute service and the
    stream to the destination were not looked at: likely, each rival named."""
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=records(record(status="cancelled")),
        source_logs=src_logs(*TIMED_OUT),
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    caveats = " ".join(outcome.not_ruled_out)
    assert "libvirtd on cmp-b-01" in caveats
    assert "compute service of cmp-b-01" in caveats
    assert "TLS" in caveats


@pytest.mark.outcome(ID, "concluded")
def test_a_dropped_stream_explains_a_bare_cancel():
    """Cancelled with the stream seen dropping (no Nova timeout line): the network/TLS
    failure is the deeper cause; the timeout is only possible and its consequence."""
    logs = src_logs(
        "Live Migration failure: End of file while reading data: Input/output error",
        "Migration operation was cancelled",
    )
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=records(record(status="cancelled")), source_logs=logs,
        **RIVALS_RULED_OUT,
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.POSSIBLE
    assert outcome.explained_by == frozenset({RootCauseId.LIBVIRT_TLS})
    assert any("End of file" in c.text for c in outcome.cites)


@pytest.mark.parametrize(
    ("rival", "seen"),
    [
        pytest.param({"dest_units": units(DestHostServices, libvirtd="failed")},
                     "libvirtd on cmp-b-01 dying (failed)", id="dead-libvirtd"),
        pytest.param({"services": services(svc(SRC), svc(DST, state="down"))},
                     "the compute service of cmp-b-01 going down (down)", id="compute-down"),
    ],
)  # fmt: skip
@pytest.mark.outcome(ID, "concluded")
def test_a_dead_destination_explains_the_abort(rival, seen):
    """libvirtd or nova-compute seen down on the destination explains the abort
    (compute_service_down); never confirmed as a timeout."""
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=records(record(status="cancelled")),
        source_logs=src_logs(*TIMED_OUT), **(RIVALS_RULED_OUT | rival),
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.confidence is Confidence.LIKELY
    assert outcome.explained_by == frozenset({RootCauseId.COMPUTE_SERVICE_DOWN})
    assert seen in outcome.not_ruled_out


@pytest.mark.outcome(ID, "concluded")
def test_with_another_target_host_the_timeout_stays_on_its_destination():
    """--target-host H: the timeout is about the move's own destination, and H's units
    and probe do not rule out D's rivals (capped at likely)."""
    outcome = outcome_of(
        live_migration_timeout, server=server(), records=records(record(status="cancelled"), target_host="cmp-b-09"),
        source_logs=src_logs(*TIMED_OUT), **RIVALS_RULED_OUT,
    )  # fmt: skip
    assert_concludes(outcome)
    assert outcome.facts["dest_host"] == DST
    assert outcome.confidence is Confidence.LIKELY
    assert "cmp-b-09" not in rendered(ID, outcome)

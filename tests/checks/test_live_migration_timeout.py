"""nova.live-migration-timeout: the live migration did not complete in time."""

from __future__ import annotations

import pytest

from diagnostics.checks.live_migration_timeout import live_migration_timeout
from diagnostics.model import Concluded, Confidence, Inconclusive, RuledOut
from tests.checks.conftest import record, records, rendered, server, src_logs

ID = "nova.live-migration-timeout"
PROGRESS = (
    "Migration running for {s} secs, memory {m}% remaining (bytes processed=1, "
    "remaining=2, total=3); disk 0% remaining (bytes processed=0, remaining=0, total=0)"
)


def test_confirmed_by_cancelled_status_and_timeout_line():
    """Status cancelled plus the timeout line, with flat progress, is confirmed."""
    logs = src_logs(
        PROGRESS.format(s=30, m=40),
        PROGRESS.format(s=60, m=41),
        "Live migration not completed after 3200 sec",
        "Migration operation was cancelled",
    )
    outcome = live_migration_timeout(
        server=server(), records=records(record(status="cancelled")), source_logs=logs
    )
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.CONFIRMED
    assert "3200 seconds" in outcome.facts["detail"]
    assert "stayed at 41%" in outcome.facts["detail"]
    assert "--host cmp-b-01" in text


@pytest.mark.parametrize(
    ("status", "lines"),
    [
        pytest.param("cancelled", (), id="cancelled-status-only"),
        pytest.param("failed", ("Migration operation was cancelled",), id="log-only"),
    ],
)
def test_likely_from_one_source(status, lines):
    """One source of evidence (status or log line) is likely."""
    outcome = live_migration_timeout(
        server=server(),
        records=records(record(status=status)),
        source_logs=src_logs(*lines),
    )
    assert isinstance(outcome, Concluded)
    assert outcome.confidence is Confidence.LIKELY


def test_ruled_out_for_a_failed_migration_without_timeout():
    """A failed (not cancelled) migration with other errors is not a timeout."""
    logs = src_logs("Live Migration failure: operation failed: Failed to connect")
    outcome = live_migration_timeout(
        server=server(), records=records(), source_logs=logs
    )
    assert isinstance(outcome, RuledOut)


def test_missing_logs_and_records_is_inconclusive():
    """Without the record and the source log nothing can be said."""
    outcome = live_migration_timeout(server=server(), records=None, source_logs=None)
    assert isinstance(outcome, Inconclusive)

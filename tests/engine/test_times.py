"""diagnostics.times: the one rule for times (aware UTC; naive means UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from diagnostics.times import as_utc, parse_time

WHEN = datetime(2026, 11, 25, 19, 2, 11, 532000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-11-25T19:02:11.532000", "2026-11-25T19:02:11.532000Z",
     "2026-11-25 19:02:11.532000", "2026-11-25T20:02:11.532000+01:00"],
    ids=["nova-naive", "zulu", "oslo-space", "offset"],
)  # fmt: skip
def test_iso_forms_parse_to_the_same_utc_moment(text: str) -> None:
    """API, notification and offset forms give one aware UTC time."""
    parsed = parse_time(text)
    assert parsed == WHEN
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value", [None, "", "  ", "yesterday", 42, "2026-13-45T99:00:00"]
)
def test_absent_or_malformed_is_none(value: object) -> None:
    """Nothing or garbage is None, never an exception."""
    assert parse_time(value) is None


def test_as_utc_reads_naive_as_utc_and_converts_aware() -> None:
    """Naive means UTC; an aware time keeps its instant and is shown in UTC."""
    assert as_utc(WHEN.replace(tzinfo=None)) == WHEN
    plus_one = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert as_utc(plus_one).tzinfo is UTC
    assert as_utc(plus_one) == WHEN

"""Log lines of ostackhost, libvirtd, qemu and nova pods parse into aware, redacted lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from diagnostics.evidence.log_lines import in_window, parse_log_line, within

REQ = "req-0f9e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_oslo_line_gives_utc_time_level_and_request_id():
    """oslo.log stamps have no offset: read as UTC (hosts and pods run in UTC)."""
    text = (
        f"2026-11-25 19:02:11.532 3521 ERROR nova.virt.libvirt.driver [{REQ} u p - - default"
        " default] [instance: 5d7a] Live Migration failure: operation failed"
    )
    line = parse_log_line("cmp-a-01:/var/log/pf9/ostackhost.log:12", text)
    assert line.timestamp == datetime(2026, 11, 25, 19, 2, 11, 532000, tzinfo=UTC)
    assert line.level == "ERROR"
    assert line.request_id == REQ
    assert line.cite().source == "cmp-a-01:/var/log/pf9/ostackhost.log:12"


def test_libvirtd_line_honours_its_offset():
    """libvirtd writes +0000 (or another offset); the stamp is converted to UTC."""
    text = (
        "2026-11-25 21:02:11.498+0200: 2211: error : virNetTLSContextCheckCertificate:1093 :"
        " Certificate check failed"
    )
    line = parse_log_line("h:/var/log/libvirt/libvirtd.log:3", text)
    assert line.timestamp == datetime(2026, 11, 25, 19, 2, 11, 498000, tzinfo=UTC)
    assert line.level == "ERROR"
    assert line.request_id is None


def test_qemu_line_has_a_time_but_no_level():
    """qemu logs ISO stamps with Z and no level."""
    line = parse_log_line(
        "h:q:1", "2026-11-25T19:02:11.498571Z qemu-kvm: terminating on signal 15"
    )
    assert line.timestamp == datetime(2026, 11, 25, 19, 2, 11, 498571, tzinfo=UTC)
    assert line.level is None


def test_secrets_in_lines_are_redacted():
    """A transport_url in a logged config dump is masked before it becomes evidence."""
    line = parse_log_line(
        "h:f:1",
        "2026-11-25 19:02:11.532 1 DEBUG oslo transport_url = rabbit://u:pw1@mq//",
    )
    assert "pw1" not in line.text
    assert line.timestamp is not None


def test_window_keeps_stamped_lines_inside_and_unstamped_lines():
    """Outside the window goes; inside and unstamped stay; naive bounds count as UTC."""
    t0 = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    inside = parse_log_line("s", "2026-11-25 19:05:00.000 1 ERROR x boom")
    outside = parse_log_line("s", "2026-11-25 17:00:00.000 1 ERROR x old")
    bare = parse_log_line("s", "Traceback (most recent call last):")
    window = (t0, t0 + timedelta(minutes=10))
    assert within([inside, outside, bare], window) == (inside, bare)
    naive = (t0.replace(tzinfo=None), (t0 + timedelta(minutes=10)).replace(tzinfo=None))
    assert in_window(inside, naive)
    assert not in_window(outside, naive)
    assert in_window(outside, None)


@given(st.text())
def test_any_line_parses_and_stamps_are_aware(text):
    """Arbitrary text never raises; a parsed timestamp is always timezone-aware."""
    line = parse_log_line("src", text)
    assert line.timestamp is None or line.timestamp.tzinfo is not None


@given(
    st.datetimes(min_value=datetime(1000, 1, 1)),  # noqa: DTZ001 - naive on purpose
    st.sampled_from(["+0000", "-0530", "+2359", "-2359", "+9999", "+2360"]),
    st.text(),
)
def test_generated_libvirtd_stamps_never_raise(at, offset, rest):
    """Any date with any (even impossible) offset yields an aware stamp or none."""
    text = (
        at.strftime("%Y-%m-%d %H:%M:%S.")
        + f"{at.microsecond // 1000:03d}{offset}: 1: error : {rest}"
    )
    line = parse_log_line("s", text)
    assert line.timestamp is None or line.timestamp.tzinfo is not None

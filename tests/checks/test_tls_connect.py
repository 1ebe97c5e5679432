"""libvirt.tls-connect: the source cannot open qemu+tls to the destination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics.checks.tls_connect import tls_connect
from diagnostics.model import Concluded, Confidence, Inconclusive, RuledOut
from diagnostics.plugins import bundled_check as get_check
from diagnostics.remedies import fill
from tests.checks.conftest import (
    DST,
    NOW,
    SRC,
    actions,
    cert,
    dest_logs,
    records,
    rendered,
    server,
    src_logs,
    tls_probe,
)

ID = "libvirt.tls-connect"
URI_FAIL = (
    "Live Migration failure: operation failed: Failed to connect to remote libvirt URI "
    f"qemu+tls://{DST}/system: authentication failed: Failed to verify peer's certificate"
)
EXPIRED = (
    "2026-11-25 19:02:11.498+0000: 2211: error : virNetTLSContextCheckCertificate:1093 : "
    "Certificate check failed The server certificate /etc/pki/libvirt/servercert.pem "
    "has expired"
)


def run(**kw):
    base = {"server": server(), "records": records(), "probe": None, "source_logs": None,
                "dest_logs": None, "actions": None}  # fmt: skip
    return tls_connect(**(base | kw))


@pytest.mark.parametrize(
    ("kw", "reason", "confidence"),
    [
        pytest.param({"source_logs": src_logs(URI_FAIL)}, "peer's certificate failed",
                     Confidence.LIKELY, id="peer-cert-in-source-log"),
        pytest.param({"source_logs": src_logs(URI_FAIL), "dest_logs": dest_logs(EXPIRED)},
                     "servercert.pem has expired", Confidence.LIKELY,
                     id="libvirtd-reason-beats-peer-cert"),
        pytest.param({"probe": tls_probe(connect_ok=False, port_open=False)},
                     "TCP 16514 on cmp-b-01 is closed", Confidence.CONFIRMED,
                     id="probe-port-closed"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(not_after=NOW - timedelta(days=2)))},
                     "expired on", Confidence.CONFIRMED, id="probe-cert-expired"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(not_before=NOW + timedelta(hours=3)))},
                     "not yet valid", Confidence.CONFIRMED, id="probe-cert-not-yet-valid"),
        pytest.param({"probe": tls_probe(connect_ok=False,
                                         dest_server_cert=cert(sans=("DNS:cmp-b-01.mgmt",),
                                                               subject="CN = cmp-b-01.mgmt"))},
                     "not the Nova host name cmp-b-01", Confidence.CONFIRMED,
                     id="probe-san-mismatch"),
        pytest.param({"actions": actions(), "source_logs": src_logs(
            "Live Migration failure: operation failed: Failed to connect to remote libvirt URI "
            f"qemu+tls://{DST}/system: unable to connect to server at '{DST}:16514': "
            "Connection refused")},
                     "TCP 16514 on cmp-b-01: Connection refused", Confidence.LIKELY,
                     id="socket-refused-in-log"),
    ],
)  # fmt: skip
def test_concludes_with_the_most_specific_reason(kw, reason, confidence):
    """A TLS failure in the logs or the probe concludes, naming the specific reason."""
    outcome = run(**kw)
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert reason in outcome.facts["reason"]
    assert outcome.confidence is confidence
    assert f"virsh -r -c qemu+tls://{DST}/system version" in text
    assert outcome.facts["source_host"] == SRC


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"probe": tls_probe()}, id="probe-connects"),
        pytest.param({"probe": tls_probe(), "source_logs": src_logs(
            "Live Migration failure: operation failed: guest CPU doesn't match "
            "specification: missing features: avx512f")}, id="other-libvirt-failure"),
    ],
)  # fmt: skip
def test_ruled_out_when_tls_works(kw):
    """A working TLS connect and no TLS line rules the check out."""
    assert isinstance(run(**kw), RuledOut)


def test_inconclusive_without_probe_or_logs():
    """No probe and no logs is not 'looked and found nothing'."""
    assert isinstance(run(records=None), Inconclusive)


def test_logs_only_without_records_still_concludes():
    """Missing optional records: host names fall back to the server and the log."""
    outcome = run(records=None, source_logs=src_logs(URI_FAIL))
    rendered(ID, outcome)


def test_expired_certificate_is_cited_with_its_dates_and_host_to_fix():
    """The probe's certificate (subject, dates, SAN) is evidence; the fix names its host."""
    expired = cert(not_after=NOW - timedelta(days=2))
    probe = tls_probe(
        connect_ok=False,
        dest_server_cert=expired,
        provenance=(
            f"{SRC}$ virsh -r -c qemu+tls://{DST}/system version; "
            f"{DST}$ openssl x509 -noout -in {expired.path}"
        ),
    )
    outcome = run(probe=probe)
    assert isinstance(outcome, Concluded)
    cert_cite = outcome.cites[1]
    assert cert_cite.source == f"{DST}$ openssl x509 -noout -in {expired.path}"
    assert f"notAfter={(NOW - timedelta(days=2)):%Y-%m-%d}" in cert_cite.text
    steps = fill(get_check(ID).remediation, outcome.facts)
    renew = [s for s in steps if s.command and s.command.startswith("install")]
    assert [(s.on.name, s.command) for s in renew] == [
        (DST, f"install -m 0644 {expired.path}.new {expired.path}")
    ]

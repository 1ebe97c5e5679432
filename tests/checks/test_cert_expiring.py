"""libvirt.cert-expiring: a libvirt certificate expires within 14 days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics.checks.cert_expiring import cert_expiring
from diagnostics.evaluate import evaluate
from diagnostics.model import Inconclusive, Skipped
from diagnostics.plugins import bundled_check as get_check
from tests.checks.conftest import DST, NOW, SRC, cert, rendered, tls_probe
from tests.checks.outcomes import (
    assert_concludes,
    assert_missing_evidence,
    assert_rules_out,
    outcome_of,
)

ID = "libvirt.cert-expiring"


@pytest.mark.outcome(ID, "concluded")
def test_concludes_for_server_cert_expiring_in_a_week():
    """A destination server certificate with 7 days left is a warning."""
    probe = tls_probe(dest_server_cert=cert(not_after=NOW + timedelta(days=7, hours=1)))
    outcome = outcome_of(cert_expiring, probe=probe)
    text = rendered(ID, outcome)
    assert_concludes(outcome)
    assert outcome.facts["cert_host"] == DST
    assert outcome.facts["days_left"] == "7"
    assert "/etc/pki/libvirt/servercert.pem" in text


@pytest.mark.outcome(ID, "concluded")
def test_concludes_for_client_cert_on_the_source():
    """The source's client certificate counts too."""
    client = cert("/etc/pki/libvirt/clientcert.pem", not_after=NOW + timedelta(days=3))
    outcome = outcome_of(cert_expiring, probe=tls_probe(source_client_cert=client))
    assert_concludes(outcome)
    assert outcome.facts["cert_host"] == SRC


@pytest.mark.outcome(ID, "ruled_out")
@pytest.mark.parametrize(
    "not_after",
    [
        pytest.param(NOW + timedelta(days=60), id="far-away"),
        pytest.param(NOW - timedelta(days=1), id="already-expired-is-tls-connect"),
    ],
)
def test_ruled_out_outside_the_window(not_after):
    """Certificates valid for long, or already expired, are not this warning."""
    outcome = outcome_of(
        cert_expiring, probe=tls_probe(dest_server_cert=cert(not_after=not_after))
    )
    assert_rules_out(outcome)


def test_inconclusive_without_certificates_or_clock():
    """No certificate read, or no clock to compare with, is inconclusive."""
    no_certs = tls_probe(dest_server_cert=None, source_client_cert=None)
    assert isinstance(cert_expiring(probe=no_certs), Inconclusive)
    no_clock = tls_probe(dest_clock=None, source_clock=None)
    assert isinstance(cert_expiring(probe=no_clock), Inconclusive)


@pytest.mark.outcome(ID, "missing_evidence")
def test_skipped_without_the_probe():
    """The TLS probe not run (SSH off or refused): skipped, never 'no certificate expires'."""
    result = evaluate(get_check(ID), {})
    assert_missing_evidence(result, Skipped)
    assert "LibvirtTlsProbe" in result.outcome.reason

"""libvirt.cert-expiring: a libvirt certificate expires within 14 days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from diagnostics.checks.cert_expiring import cert_expiring
from diagnostics.model import Concluded, Inconclusive, RuledOut
from tests.checks.conftest import DST, NOW, SRC, cert, rendered, tls_probe

ID = "libvirt.cert-expiring"


def test_concludes_for_server_cert_expiring_in_a_week():
    """A destination server certificate with 7 days left is a warning."""
    probe = tls_probe(dest_server_cert=cert(not_after=NOW + timedelta(days=7, hours=1)))
    outcome = cert_expiring(probe=probe)
    text = rendered(ID, outcome)
    assert isinstance(outcome, Concluded)
    assert outcome.facts["cert_host"] == DST
    assert outcome.facts["days_left"] == "7"
    assert "/etc/pki/libvirt/servercert.pem" in text


def test_concludes_for_client_cert_on_the_source():
    """The source's client certificate counts too."""
    client = cert("/etc/pki/libvirt/clientcert.pem", not_after=NOW + timedelta(days=3))
    outcome = cert_expiring(probe=tls_probe(source_client_cert=client))
    assert isinstance(outcome, Concluded)
    assert outcome.facts["cert_host"] == SRC


@pytest.mark.parametrize(
    "not_after",
    [
        pytest.param(NOW + timedelta(days=60), id="far-away"),
        pytest.param(NOW - timedelta(days=1), id="already-expired-is-tls-connect"),
    ],
)
def test_ruled_out_outside_the_window(not_after):
    """Certificates valid for long, or already expired, are not this warning."""
    outcome = cert_expiring(probe=tls_probe(dest_server_cert=cert(not_after=not_after)))
    assert isinstance(outcome, RuledOut)


def test_inconclusive_without_certificates_or_clock():
    """No certificate read, or no clock to compare with, is inconclusive."""
    assert isinstance(
        cert_expiring(probe=tls_probe(dest_server_cert=None, source_client_cert=None)),
        Inconclusive,
    )
    assert isinstance(
        cert_expiring(probe=tls_probe(dest_clock=None, source_clock=None)), Inconclusive
    )

"""A libvirt TLS certificate expires within 14 days (secondary finding)."""

from __future__ import annotations

from datetime import timedelta

from diagnostics import remedies as r
from diagnostics.checks import _tls
from diagnostics.evidence.types import LibvirtTlsProbe
from diagnostics.model import (
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
    Severity,
)
from diagnostics.registry import check

WARN_BEFORE = timedelta(days=14)


@check(
    id="libvirt.cert-expiring",
    title="libvirt TLS certificate expires soon",
    applies_to={MigrationKind.LIVE},
    root_cause=RootCauseId.LIBVIRT_TLS,
    severity=Severity.WARNING,
    priority=40,
    step=7,
    summary=(
        "The libvirt certificate {cert_path} on {cert_host} expires on {not_after} "
        "({days_left} days left); live migrations to or from {cert_host} will fail then."
    ),
    remediation=(
        *_tls.RENEW_REMEDIES,
        r.check(
            r.host("{cert_host}"),
            "openssl x509 -noout -subject -enddate -in {cert_path}",
            "The installed certificate's new end date.",
        ),
    ),
    references=("https://libvirt.org/kbase/tlscerts.html",),
)
def cert_expiring(probe: LibvirtTlsProbe) -> CheckOutcome:
    """Certificates that are still valid but expire within 14 days will break the next
    live migrations. Reported beside the primary cause, never as it. Expired certificates
    belong to libvirt.tls-connect. Dates are compared with the clock of the host holding
    the certificate, as the probe read it, so the check stays pure.
    """
    candidates = (
        (probe.dest_server_cert, probe.dest, probe.dest_clock or probe.source_clock),
        (
            probe.source_client_cert,
            probe.source,
            probe.source_clock or probe.dest_clock,
        ),
    )
    if all(cert is None for cert, _, _ in candidates):
        return Inconclusive(reason="the probe read no certificate")
    soonest = None
    for cert, host, clock in candidates:
        if cert is None or cert.not_after is None:
            continue
        if clock is None:
            return Inconclusive(reason=f"no clock read on {host} to compare dates with")
        left = cert.not_after - clock
        if timedelta(0) < left <= WARN_BEFORE and (
            soonest is None or left < soonest[0]
        ):
            soonest = (left, cert, host)
    if soonest is None:
        return RuledOut(reason="no certificate expires within 14 days")
    left, cert, host = soonest
    assert cert.not_after is not None  # checked in the loop
    return Concluded(
        facts=_tls.renew_facts(host, cert.path)
        | {
            "not_after": f"{cert.not_after:%Y-%m-%d %H:%M} UTC",
            "days_left": str(left.days),
        },
        cites=(
            Citation(
                source=probe.provenance, text=f"{cert.path}: notAfter={cert.not_after}"
            ),
        ),
        confidence=Confidence.CONFIRMED,
    )

"""Reasons and fixes for libvirt TLS failures, from log text or from the TLS probe."""

from __future__ import annotations

import re
from datetime import datetime

from diagnostics import signatures as sig
from diagnostics.evidence.types import CertificateInfo, LibvirtTlsProbe

_DROPPED = re.compile(
    r"Live Migration failure: .*(?P<what>End of file while reading data|Cannot recv data"
    r"|Cannot write data)"
)
# failure-signatures §3.3: the most specific first
BY_SPECIFICITY: tuple[re.Pattern[str], ...] = (
    sig.CERT_TIMES,
    sig.CERT_OWNER,
    sig.CERT_VALIDATION,
    sig.CERT_READ,
    sig.PEER_CERT,
    sig.SOCKET_CONNECT,
    sig.QEMU_TLS,
    sig.REMOTE_URI,
    _DROPPED,
)
_RENEW = "Renew {file} from the region CA on the host that holds it, then restart libvirtd there"


def _g(m: re.Match[str], name: str, default: str = "") -> str:
    value = m.groupdict().get(name)
    return value if value is not None else default


def reason_of_match(m: re.Match[str]) -> tuple[str, str]:
    """(reason, fix) for one matched TLS signature."""
    p = m.re
    if p is sig.CERT_TIMES:
        which, file, state = _g(m, "which"), _g(m, "file"), _g(m, "state")
        if state == "is not yet active":
            fix = "Fix the clocks: run date -u on both hosts and repair NTP (chronyc tracking)"
        else:
            fix = _RENEW.format(file=file)
        return f"the {which} certificate {file} {state}", fix
    if p is sig.CERT_OWNER:
        host = _g(m, "host")
        return (
            f"the certificate does not name {host} (SAN/CN mismatch with the Nova host name)",
            f"Re-issue the server certificate with subjectAltName DNS:{host}, or set "
            "[libvirt]live_migration_inbound_addr to a name the certificate covers",
        )
    if p is sig.CERT_VALIDATION:
        return (
            f"certificate validation failed: {_g(m, 'why').rstrip('.')}",
            "Install the region CA as /etc/pki/CA/cacert.pem on both hosts and re-issue "
            "the libvirt certificates from it",
        )
    if p is sig.CERT_READ:
        path = _g(m, "path")
        return (
            f"libvirt cannot read {_g(m, 'what')} {path}",
            f"Restore {path} (readable by libvirtd)",
        )
    if p is sig.PEER_CERT:
        return (
            "the peer's certificate failed verification",
            "Look for 'Certificate check failed' in libvirtd.log on both hosts and renew "
            "or re-issue the certificate it names",
        )
    if p is sig.SOCKET_CONNECT:
        host, port = _g(m, "host"), _g(m, "port")
        return (
            f"TCP {port} on {host}: {_g(m, 'errno')}",
            f"Open TCP {port} from the source to {host} and make sure libvirtd listens "
            f"on it (on {host}: ss -ltn '( sport = :{port} )')",
        )
    if p is sig.QEMU_TLS:
        return (
            "QEMU native TLS failed: " + (_g(m, "why") or f"missing {_g(m, 'path')}"),
            "Place the /etc/pki/qemu certificates on both hosts, then stop and start the guest",
        )
    if p is _DROPPED:
        return (
            f"the libvirt connection dropped ({_g(m, 'what')})",
            "Check the network between the hosts and libvirtd.log on the destination",
        )
    cause = _g(m, "cause")
    return (
        f"connecting to {_g(m, 'uri')} failed" + (f": {cause}" if cause else ""),
        "Check libvirtd (TLS listener) on the destination and the certificates on both hosts",
    )


def rank(m: re.Match[str]) -> int:
    """Position of the matched pattern in BY_SPECIFICITY: lower is more specific."""
    return BY_SPECIFICITY.index(m.re) if m.re in BY_SPECIFICITY else len(BY_SPECIFICITY)


def _names(cert: CertificateInfo) -> set[str]:
    names = {n.split(":", 1)[-1].strip() for n in cert.sans}
    names.add(cert.subject.rsplit("=", 1)[-1].strip())
    return names


def _cert_problem(
    cert: CertificateInfo | None, host: str, clock: datetime | None
) -> str | None:
    if cert is None or clock is None:
        return None
    if cert.not_after is not None and cert.not_after < clock:
        return f"the certificate {cert.path} on {host} expired on {cert.not_after:%Y-%m-%d}"
    if cert.not_before is not None and cert.not_before > clock:
        return f"the certificate {cert.path} on {host} is not yet valid (from {cert.not_before:%Y-%m-%d %H:%M} UTC)"
    return None


def probe_reason(
    probe: LibvirtTlsProbe, dest_name: str | None
) -> tuple[str, str, int] | None:
    """(reason, fix, rank) when the probe reproduced the failure, else None.

    What the probe measured directly (port, dates, SAN) ranks above any message text.
    """
    if probe.connect_ok:
        return None
    dest = dest_name or probe.dest
    if probe.port_open is False:
        return (
            f"TCP 16514 on {dest} is closed or filtered from {probe.source}",
            f"Open TCP 16514 from {probe.source} to {dest} and enable the libvirt TLS listener",
            -1,
        )
    server_cert, client_cert = probe.dest_server_cert, probe.source_client_cert
    # the source checks the server certificate, the destination the client certificate
    checked = (
        (server_cert, dest, probe.source_clock or probe.dest_clock),
        (client_cert, probe.source, probe.dest_clock or probe.source_clock),
    )
    for cert, host, clock in checked:
        problem = _cert_problem(cert, host, clock)
        if problem and cert is not None:
            if "not yet valid" in problem:
                return (
                    problem,
                    "Fix the clocks: run date -u on both hosts and repair NTP",
                    -1,
                )
            fix = (
                f"On {host}: renew {cert.path} from the region CA, "
                "then restart libvirtd on that host"
            )
            return problem, fix, -1
    if server_cert is not None and dest not in _names(server_cert):
        return (
            f"the server certificate on {dest} names {', '.join(sorted(_names(server_cert)))}, "
            f"not the Nova host name {dest}",
            f"Re-issue {server_cert.path} on {dest} with subjectAltName DNS:{dest}",
            -1,
        )
    for pattern in BY_SPECIFICITY:
        m = pattern.search(probe.connect_output)
        if m:
            return (*reason_of_match(m), rank(m))
    first = next(
        (ln for ln in probe.connect_output.splitlines() if ln.strip()), "no output"
    )
    reason = f"virsh could not connect: {first.strip()}"
    return reason, "Read libvirtd.log on both hosts", len(BY_SPECIFICITY)

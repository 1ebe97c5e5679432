"""Reasons and fixes for libvirt TLS failures, from log text or from the TLS probe.

A reason comes with ``fix`` facts: ``tls_fix`` selects the steps of TLS_REMEDIES, and a
certificate to renew adds ``cert_host``/``cert_path`` (see ``renew_facts``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.evidence.types import CertificateInfo, LibvirtTlsProbe
from diagnostics.probe_faults import (
    REFUSED,
    TIMED_OUT,
    SelfFailure,
    first_line,
    probe_self_failure,
)
from diagnostics.remedies import RemedyTemplate

__all__ = ["SelfFailure", "TlsReason", "probe_reason", "probe_self_failure"]

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
_CA = "/etc/pki/CA/cacert.pem"
_SERVER_CERT = "/etc/pki/libvirt/servercert.pem"
_CLIENT_CERT = "/etc/pki/libvirt/clientcert.pem"

# renewing one certificate: CSR with the host's own key, verify the signed one, install
RENEW_REMEDIES: tuple[RemedyTemplate, ...] = (
    r.fix(r.host("{cert_host}"),
          "openssl req -new -key {key_path} -subj /CN={cert_host} "
          "-addext subjectAltName=DNS:{cert_host} -out {csr_path}",
          "A signing request for the host's Nova name, with its own key.",
          when="cert_path"),
    r.instruct(r.host("{cert_host}"),
               "Have the region CA sign {csr_path} and put the certificate at "
               "{signed_path}.", when="cert_path"),
    r.check(r.host("{cert_host}"), f"openssl verify -CAfile {_CA} {{signed_path}}",
            "The signed certificate must verify against the region CA before it "
            "replaces the old one.", when="cert_path"),
    r.fix(r.host("{cert_host}"), "install -m 0644 {signed_path} {cert_path}",
          "Puts the new certificate in place of the old one.", when="cert_path"),
    r.fix(r.host("{cert_host}"), "systemctl restart libvirtd",
          "libvirtd reads its certificates only when it starts.", when="cert_path"),
)  # fmt: skip
TLS_REMEDIES: tuple[RemedyTemplate, ...] = (
    *RENEW_REMEDIES,
    r.check(r.host("{dest_host}"), "journalctl -u libvirtd -n 100 --no-pager",
            "Why libvirtd stopped or does not listen, before a restart hides it.",
            when="tls_fix=listener"),
    r.fix(r.host("{dest_host}"), "systemctl restart libvirtd",
          "libvirtd opens the TLS listener on 16514 when it starts with listen_tls on.",
          when="tls_fix=listener"),
    r.check(r.host("{source_host}"), "chronyc tracking",
            "The source's clock offset from NTP.", when="tls_fix=clock"),
    r.check(r.host("{dest_host}"), "chronyc tracking",
            "The destination's clock offset from NTP.", when="tls_fix=clock"),
    r.fix(r.host("{source_host}"), "chronyc makestep",
          "Steps the clock to NTP time now instead of slewing slowly.",
          when="tls_fix=clock"),
    r.fix(r.host("{dest_host}"), "chronyc makestep",
          "Steps the clock to NTP time now instead of slewing slowly.",
          when="tls_fix=clock"),
    # checks only from here: the fixes above come first
    r.check(r.host("{dest_host}"), "ss -ltn '( sport = :16514 )'",
            "Something must listen on TCP 16514 on the destination.",
            when="tls_fix=listener"),
    r.check(r.host("{source_host}"), "nc -z -w 3 {dest_host} 16514",
            "The port must be reachable from the source; a listener that this cannot "
            "reach means a firewall drops it.", when="tls_fix=listener"),
    r.check(r.host("{dest_host}"), f"openssl verify -CAfile {_CA} {_SERVER_CERT}",
            "The destination's server certificate must chain to the CA both hosts trust.",
            when="tls_fix=ca"),
    r.check(r.host("{source_host}"), f"openssl verify -CAfile {_CA} {_CLIENT_CERT}",
            "The source's client certificate must chain to the same CA.",
            when="tls_fix=ca"),
    r.check(r.host("{source_host}"), "ls -l {missing_path}",
            "The file libvirt could not read, and who may read it.",
            when="tls_fix=restore"),
    r.check(r.host("{dest_host}"), "ls -l {missing_path}",
            "The same file on the destination.", when="tls_fix=restore"),
    r.check(r.host("{source_host}"),
            "journalctl -u libvirtd --grep 'Certificate check failed' --no-pager",
            "libvirtd logs why it rejected the peer's certificate.", when="tls_fix=peer"),
    r.check(r.host("{dest_host}"),
            "journalctl -u libvirtd --grep 'Certificate check failed' --no-pager",
            "The destination logs its side of the check.", when="tls_fix=peer"),
    r.check(r.host("{source_host}"), "ls -l /etc/pki/qemu",
            "QEMU's own TLS certificates for the migration stream.", when="tls_fix=qemu"),
    r.check(r.host("{dest_host}"), "ls -l /etc/pki/qemu",
            "The same certificates on the destination.", when="tls_fix=qemu"),
    r.check(r.host("{source_host}"), "ping -c 3 {dest_host}",
            "Whether the network between the hosts drops packets.",
            when="tls_fix=network"),
    r.check(r.host("{dest_host}"), "journalctl -u libvirtd -n 100 --no-pager",
            "What libvirtd on the destination logged when the connection ended.",
            when="tls_fix=network"),
    r.check(r.host("{dest_host}"), "systemctl status libvirtd --no-pager",
            "Whether libvirtd runs on the destination.", when="tls_fix=generic"),
    r.check(r.host("{dest_host}"),
            f"openssl x509 -noout -subject -enddate -ext subjectAltName -in {_SERVER_CERT}",
            "The destination's certificate: its names must include {dest_host} and its "
            "dates the current time."),
    r.check(r.host("{source_host}"), "virsh -r -c qemu+tls://{dest_host}/system version",
            "Opens the migration's connection again; it must print versions before a "
            "retry."),
)  # fmt: skip


def renew_facts(host: str, cert_path: str) -> dict[str, str]:
    """The facts of RENEW_REMEDIES for ``cert_path`` on ``host`` (key in ../private/)."""
    path = PurePosixPath(cert_path)
    key = path.parent / "private" / path.name.replace("cert", "key")
    return {
        "cert_host": host,
        "cert_path": cert_path,
        "key_path": str(key),
        "csr_path": str(path.with_suffix(".csr")),
        "signed_path": f"{cert_path}.new",
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsReason:
    """Why the TLS connection failed; ``fix`` facts select the steps that repair it.

    ``rank`` is the specificity (lower wins), as the position in BY_SPECIFICITY; what
    the probe measured directly ranks -1. ``refused`` / ``timed_out`` say the symptom
    was a refused or unanswered connect, which other causes explain too (a libvirtd
    that is not running, a host that is down).
    """

    reason: str
    fix: Mapping[str, str] = field(default_factory=dict)
    rank: int = -1
    refused: bool = False
    timed_out: bool = False


def _g(m: re.Match[str], name: str, default: str = "") -> str:
    value = m.groupdict().get(name)
    return value if value is not None else default


def reason_of_match(m: re.Match[str], source: str, dest: str) -> TlsReason:
    """The reason and fix facts for one matched TLS signature."""
    p, rank_ = m.re, rank(m)
    if p is sig.CERT_TIMES:
        which, file, state = _g(m, "which"), _g(m, "file"), _g(m, "state")
        reason = f"the {which} certificate {file} {state}"
        if state == "is not yet active":
            return TlsReason(reason=reason, fix={"tls_fix": "clock"}, rank=rank_)
        if which == "CA":
            return TlsReason(reason=reason, fix={"tls_fix": "ca"}, rank=rank_)
        holder = dest if which == "server" else source
        return TlsReason(reason=reason, fix=renew_facts(holder, file), rank=rank_)
    if p is sig.CERT_OWNER:
        host = _g(m, "host")
        return TlsReason(
            reason=f"the certificate does not name {host} (SAN/CN mismatch with the "
            "Nova host name)",
            fix=renew_facts(dest, _SERVER_CERT),
            rank=rank_,
        )
    if p is sig.CERT_VALIDATION:
        return TlsReason(
            reason=f"certificate validation failed: {_g(m, 'why').rstrip('.')}",
            fix={"tls_fix": "ca"},
            rank=rank_,
        )
    if p is sig.CERT_READ:
        path = _g(m, "path")
        return TlsReason(
            reason=f"libvirt cannot read {_g(m, 'what')} {path}",
            fix={"tls_fix": "restore", "missing_path": path},
            rank=rank_,
        )
    if p is sig.PEER_CERT:
        return TlsReason(
            reason="the peer's certificate failed verification",
            fix={"tls_fix": "peer"},
            rank=rank_,
        )
    if p is sig.SOCKET_CONNECT:
        host, port = _g(m, "host"), _g(m, "port")
        return TlsReason(
            reason=f"TCP {port} on {host}: {_g(m, 'errno')}",
            fix={"tls_fix": "listener"},
            rank=rank_,
        )
    if p is sig.QEMU_TLS:
        return TlsReason(
            reason="QEMU native TLS failed: "
            + (_g(m, "why") or f"missing {_g(m, 'path')}"),
            fix={"tls_fix": "qemu"},
            rank=rank_,
        )
    if p is _DROPPED:
        return TlsReason(
            reason=f"the libvirt connection dropped ({_g(m, 'what')})",
            fix={"tls_fix": "network"},
            rank=rank_,
        )
    cause = _g(m, "cause")
    return TlsReason(
        reason=f"connecting to {_g(m, 'uri')} failed" + (f": {cause}" if cause else ""),
        fix={"tls_fix": "generic"},
        rank=rank_,
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


def probe_reason(probe: LibvirtTlsProbe, dest_name: str | None) -> TlsReason | None:
    """What the probe found, else None (connect works, or virsh failed for its own
    reasons and nothing measured explains it: see ``probe_self_failure``).

    What the probe measured directly (port, dates, SAN) ranks above any message text and
    stands even when virsh itself could not run (nc and openssl need no client key).
    """
    if probe.connect_ok:
        return None
    dest = dest_name or probe.dest
    refused = bool(REFUSED.search(probe.connect_output))
    timed_out = bool(TIMED_OUT.search(probe.connect_output))
    if probe.port_open is False:
        how = "refuses connections" if refused else "is closed or filtered"
        return TlsReason(
            reason=f"TCP 16514 on {dest} {how} from {probe.source}",
            fix={"tls_fix": "listener"},
            refused=refused,
            timed_out=timed_out or not refused,
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
                return TlsReason(reason=problem, fix={"tls_fix": "clock"})
            return TlsReason(reason=problem, fix=renew_facts(host, cert.path))
    if server_cert is not None and dest not in _names(server_cert):
        return TlsReason(
            reason=f"the server certificate on {dest} names "
            f"{', '.join(sorted(_names(server_cert)))}, not the Nova host name {dest}",
            fix=renew_facts(dest, server_cert.path),
        )
    if probe_self_failure(probe) is not None:
        # what nc and openssl measured above stands; virsh's own message does not
        return None
    for pattern in BY_SPECIFICITY:
        m = pattern.search(probe.connect_output)
        if m:
            found = reason_of_match(m, probe.source, dest)
            return replace(found, refused=refused, timed_out=timed_out)
    return TlsReason(
        reason=f"virsh could not connect: {first_line(probe.connect_output)}",
        fix={"tls_fix": "generic"},
        rank=len(BY_SPECIFICITY),
        refused=refused,
        timed_out=timed_out,
    )

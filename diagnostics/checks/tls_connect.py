"""The source cannot open qemu+tls://<dest>/system (F1): port, certificate or handshake."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from diagnostics.checks import _tls
from diagnostics.checks._common import (
    cites,
    gather,
    move_of,
    on_host,
    probes_went_to,
)
from diagnostics.evidence.types import (
    DestHostLogs,
    DestHostServices,
    InstanceActions,
    LibvirtTlsProbe,
    MigrationRecords,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    CheckOutcome,
    Citation,
    Concluded,
    Confidence,
    CouldNotCheck,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check


@check(
    id="libvirt.tls-connect",
    title="Source cannot open the libvirt TLS connection to the destination",
    needs_any=(LibvirtTlsProbe, SourceHostLogs, DestHostLogs, InstanceActions),
    applies_to={MigrationKind.LIVE},
    root_cause=RootCauseId.LIBVIRT_TLS,
    priority=800,
    step=7,
    summary=(
        "{source_host} could not open qemu+tls://{dest_host}/system for the live "
        "migration: {reason}."
    ),
    remediation=_tls.TLS_REMEDIES,
    references=(
        "https://github.com/vexxhost/atmosphere/issues/2553",
        "https://docs.openstack.org/nova/latest/admin/secure-live-migration-with-qemu-native-tls.html",
    ),
)
def tls_connect(
    server: Server,
    records: MigrationRecords | None,
    probe: LibvirtTlsProbe | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
    actions: InstanceActions | None,
    dest_units: DestHostServices | None = None,
) -> CheckOutcome:
    """Live migration opens a libvirt connection from source to destination over TLS
    (TCP 16514). It fails when the port is closed, a certificate is expired, not yet
    valid, issued by an unknown CA, or does not name the destination's Nova host name.

    The most specific reason wins (failure-signatures §3.3): a libvirtd certificate reason
    beats "Failed to verify peer's certificate", which beats "Failed to connect to remote
    libvirt URI". The probe (virsh from the source, certificate dates and SANs, port
    16514) confirms; log lines alone are "likely".

    "Connection refused" is a symptom: nothing listens on 16514 when libvirtd is not
    running on the destination, which is ``compute_service_down`` (the deeper cause; this
    finding is then its consequence). It is TLS only when libvirtd is seen running there;
    with its state unknown the finding is at most "likely" and says so. A probe that
    failed for its own reasons (the diagnosis user cannot read the client key, a name
    that does not resolve) is "could not check", never a conclusion.
    """
    move = move_of(records, server)
    dest = move.dest
    caveats: list[str] = []
    if move.retargeted and probe is not None:
        if _tls.probe_reason(probe, move.dest) is not None:
            # the target's own probe fails: that alone speaks of the target; the logs
            # are the failed move's, towards its own destination
            actions = source_logs = dest_logs = None
        elif not _tls.probe_self_failure(probe):
            # the target is fine; what the failed move logged is about its destination,
            # which no probe reached: the probe and the target's units say nothing of it
            probe, dest_units, dest = None, None, move.failed_at
            dest_logs = on_host(dest_logs, dest)
            caveats.append(probes_went_to(move))
    elif move.retargeted:
        dest_units, dest = None, move.failed_at
        dest_logs = on_host(dest_logs, dest)
        caveats.append(probes_went_to(move))
    texts = gather(actions=actions, source_logs=source_logs, dest_logs=dest_logs)
    log_hits = [h for p in _tls.BY_SPECIFICITY for h in texts.find_all(p)]
    log_hit = min(log_hits, key=lambda h: _tls.rank(h.match), default=None)
    own = _tls.probe_self_failure(probe) if probe is not None else None
    from_probe = _tls.probe_reason(probe, dest) if probe is not None else None
    if log_hit is None and from_probe is None and caveats:
        return RuledOut(
            reason=f"the TLS connect to {move.dest} works and the failed move logged "
            "no TLS failure"
        )
    if log_hit is None and from_probe is None:
        if own is not None:
            return CouldNotCheck(why=own.why, needs=own.needs)
        if probe is None:
            return CouldNotCheck(
                why="the libvirt TLS probe did not run and no TLS failure was logged",
                needs="SSH to the source hypervisor (step 7)",
            )
        return RuledOut(reason="the TLS connect works and no TLS failure was logged")
    source = move.source or (probe.source if probe else "")
    dest = dest or (probe.dest if probe else "")
    chosen: _tls.TlsReason
    if from_probe is not None and (
        log_hit is None or from_probe.rank <= _tls.rank(log_hit.match)
    ):
        chosen = from_probe
    else:
        assert log_hit is not None  # one of the two is set (checked above)
        chosen = _tls.reason_of_match(log_hit.match, source, dest)
        text = log_hit.match.group(0)
        chosen = replace(
            chosen,
            refused="Connection refused" in text,
            timed_out="timed out" in text,
        )
    confidence = Confidence.CONFIRMED if from_probe is not None else Confidence.LIKELY
    reason, fix = chosen.reason, dict(chosen.fix)
    where = dest or "the destination"
    explained_by: frozenset[RootCauseId] = frozenset()
    libvirtd = dest_units.units.get("libvirtd") if dest_units is not None else None
    if own is not None:
        # measured (port, certificate) but not reproduced by virsh: one source
        confidence = min(confidence, Confidence.LIKELY, key=_strength)
        caveats.append(f"a failure virsh would show (it could not run: {own.why})")
    if chosen.refused and libvirtd is not None and libvirtd != "active":
        # nothing listens because libvirtd is not running: that is the cause
        reason = (
            f"nothing listens on TCP 16514 because libvirtd on {where} is {libvirtd}"
        )
        fix = {"tls_fix": "listener"}
        confidence = Confidence.POSSIBLE
        explained_by = frozenset({RootCauseId.COMPUTE_SERVICE_DOWN})
    elif chosen.refused and libvirtd is None:
        caveats.append(
            f"libvirtd not running on {where} (its unit state could not be read)"
        )
    elif chosen.refused:
        reason += (
            f" (libvirtd is active on {where}: its TLS listener is off or a firewall "
            "rejects the port)"
        )
    elif chosen.timed_out and dest_units is None:
        caveats.append(
            f"{where} being down or unreachable (nothing could be read from it)"
        )
    if caveats and confidence is Confidence.CONFIRMED:
        confidence = Confidence.LIKELY
    probe_cites: tuple[Citation, ...] = ()
    if probe is not None and from_probe is not None:
        output = probe.connect_output.strip() or from_probe.reason
        # virsh's output about its own key or sudo is the probe's failure, not evidence
        if own is None:
            probe_cites = (Citation(source=probe.call(0), text=output),)
        for cert, host in (
            (probe.dest_server_cert, probe.dest),
            (probe.source_client_cert, probe.source),
        ):
            if cert is not None and cert.path in from_probe.reason:
                probe_cites += (
                    Citation(
                        source=probe.call_with(f"{host}$", cert.path),
                        text=f"{cert.subject}; notBefore={_when(cert.not_before)} "
                        f"notAfter={_when(cert.not_after)}; "
                        f"SAN {', '.join(cert.sans) or '(none)'}",
                    ),
                )
    if dest_units is not None and chosen.refused:
        probe_cites += (
            Citation(
                source=dest_units.provenance,
                text=f"libvirtd on {dest_units.host}: {libvirtd or 'unknown'}",
            ),
        )
    return Concluded(
        facts={
            "source_host": source or "the source host",
            "dest_host": dest or "the destination host",
            "reason": reason,
        }
        | fix,
        cites=probe_cites + cites(log_hit),
        confidence=confidence,
        explained_by=explained_by,
        not_ruled_out=tuple(caveats),
    )


def _strength(c: Confidence) -> int:
    return (Confidence.POSSIBLE, Confidence.LIKELY, Confidence.CONFIRMED).index(c)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "unknown"

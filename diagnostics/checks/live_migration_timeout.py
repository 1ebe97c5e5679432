"""The live migration ran but did not converge, hit the timeout, or was aborted (F1b)."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import Hit, Move, Texts, cites, gather, move_of
from diagnostics.evidence.types import (
    ComputeServices,
    DestHostServices,
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
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.probe_faults import probe_self_failure
from diagnostics.registry import check


@check(
    id="nova.live-migration-timeout",
    title="Live migration did not complete in time",
    applies_to={MigrationKind.LIVE},
    root_cause=RootCauseId.MIGRATION_TIMEOUT,
    priority=650,
    step=8,
    summary=(
        "The live migration of {server_name} from {source_host} to {dest_host} "
        "did not complete: {detail}."
    ),
    remediation=(
        r.fix(
            r.CLI,
            "openstack server migration abort {server_id} {running_number}",
            "Stops the copy now (compute 2.24): the VM keeps running on {source_host} "
            "and the copy made so far is thrown away.",
            when="running_number",
        ),
        r.fix(
            r.CLI,
            "openstack server migration force complete {server_id} {running_number}",
            "Or finish it (compute 2.22): Nova pauses the guest until the copy is "
            "done (post-copy instead, if enabled); the VM does not answer meanwhile.",
            when="running_number",
        ),
        r.fix(
            r.CLI,
            "openstack server migrate --live-migration --host {dest_host} {server_id}",
            "Retry when the guest is quiet: the timeout grows with its memory, not "
            "with how fast it writes.",
            when="!running_number",
        ),
        r.check(
            r.CLI,
            "openstack server migration list --server {server_id}",
            "A running retry shows here; if it stalls, openstack server migration "
            "force complete pauses the guest to finish it.",
        ),
        r.check(
            r.host("{source_host}"),
            "grep -F 'Migration running for' /var/log/pf9/ostackhost.log",
            "Memory remaining per progress line: not falling means the guest dirties "
            "pages faster than they are copied (enable auto-converge or post-copy).",
        ),
    ),
    references=(
        "https://docs.openstack.org/nova/latest/admin/live-migration-usage.html",
    ),
)
def live_migration_timeout(
    server: Server,
    records: MigrationRecords | None,
    source_logs: SourceHostLogs | None,
    services: ComputeServices | None = None,
    dest_units: DestHostServices | None = None,
    probe: LibvirtTlsProbe | None = None,
) -> CheckOutcome:
    """Nova aborts a live migration that has not finished after
    live_migration_completion_timeout (800 s per GiB by default) and sets the migration
    to cancelled. The memory-remaining progress lines show whether the guest dirtied
    pages faster than they were copied. Status cancelled and Nova's own timeout line
    ("not completed after N sec") agreeing is "confirmed"; one of them alone is "likely".
    A migration still ``running`` whose last progress lines show memory remaining not
    falling will not converge either (the timeout is coming): "likely", from the
    progress lines alone.

    A cancelled job or an abort is a symptom: the stream also dies when the network or
    TLS between the hosts fails, when libvirtd on the destination dies, or when its
    compute goes down. Those rivals explain this finding when seen (it is then their
    consequence, at "possible" without Nova's timeout line); unseen because their
    evidence is missing, they are named and the finding is at most "likely".
    """
    move = move_of(records, server)
    dest = move.failed_at
    if move.retargeted:
        # the units and the probe are the --target-host's: nothing about this move
        dest_units, probe = None, None
    texts = gather(source_logs=source_logs)
    hit = texts.find(sig.NOT_COMPLETED, sig.STUCK, sig.CANCELLED, sig.ABORTED_BY_CLIENT)
    cancelled = move.status == "cancelled"
    if hit is None and move.status == "running":
        return _still_running(server, move, texts)
    if hit is None and not cancelled:
        if move.record is None and source_logs is None:
            return Inconclusive(reason="no migration record and no source log")
        return RuledOut(reason="not cancelled and no timeout or abort logged")
    secs = hit.get("secs") if hit is not None else ""
    memory = [int(h.match["mem"]) for h in texts.find_all(sig.PROGRESS)]
    if secs:
        detail = f"Nova gave up after {secs} seconds"
    elif hit is not None:
        detail = "the migration job was cancelled (abort or completion timeout)"
    else:
        detail = "the migration is cancelled (abort or completion timeout)"
    if len(memory) >= 2 and memory[-1] >= min(memory[:-1]):
        detail += f"; memory remaining stayed at {memory[-1]}% (the guest dirties "
        detail += "pages faster than they are copied)"
    stream = texts.find(sig.STREAM_BROKEN)
    rivals = _rivals(dest, stream, services, dest_units, probe)
    confidence = Confidence.CONFIRMED if secs and cancelled else Confidence.LIKELY
    if rivals.seen and not secs:
        confidence = Confidence.POSSIBLE  # the abort is what the rival would cause
    elif rivals.seen or rivals.unseen:
        confidence = min(confidence, Confidence.LIKELY, key=_strength)
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "source_host": move.source or "the source host",
            "dest_host": dest or "the destination host",
            "detail": detail,
            "running_number": "",
        },
        cites=cites(hit, stream) + rivals.cites,
        confidence=confidence,
        explained_by=rivals.explained_by,
        not_ruled_out=rivals.seen + rivals.unseen,
    )


# progress lines needed to call a running migration not converging: the first lines of
# every migration fall steeply (the first pass), so a trend needs at least three
_TREND_LINES = 3


def _still_running(server: Server, move: Move, texts: Texts) -> CheckOutcome:
    """A migration still running: concluded only when its progress has stopped falling."""
    progress = list(texts.find_all(sig.PROGRESS))
    if len(progress) < _TREND_LINES:
        return RuledOut(
            reason=f"still running; {len(progress)} progress lines, too few to tell "
            "whether it converges"
        )
    memory = [int(h.match["mem"]) for h in progress]
    if memory[-1] < min(memory[:-1]):
        return RuledOut(
            reason=f"still running and converging: memory remaining fell to {memory[-1]}%"
        )
    last = progress[-1]
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "source_host": move.source or "the source host",
            "dest_host": move.failed_at or "the destination host",
            "running_number": move.record.id if move.record else "",
            "detail": f"it is still running after {last.match['secs']} seconds and "
            f"memory remaining is not falling ({memory[0]}% at first, lowest "
            f"{min(memory)}%, {memory[-1]}% now): the guest dirties pages faster than "
            "they are copied, so it will not converge before the completion timeout",
        },
        cites=cites(last),
        confidence=Confidence.LIKELY,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rivals:
    seen: tuple[str, ...] = ()  # a rival the evidence shows
    unseen: tuple[str, ...] = ()  # a rival whose evidence is missing
    cites: tuple[Citation, ...] = ()
    explained_by: frozenset[RootCauseId] = frozenset()


def _rivals(
    dest: str | None,
    stream: Hit | None,
    services: ComputeServices | None,
    dest_units: DestHostServices | None,
    probe: LibvirtTlsProbe | None,
) -> _Rivals:
    """What else ends a live migration's job, as far as the evidence shows it."""
    where = dest or "the destination"
    seen: list[str] = []
    unseen: list[str] = []
    cited: list[Citation] = []
    causes: set[RootCauseId] = set()
    tls_failed = (
        probe is not None and not probe.connect_ok and probe_self_failure(probe) is None
    )
    if stream is not None or tls_failed:
        seen.append(f"the migration stream to {where} failing (network or TLS)")
        causes.add(RootCauseId.LIBVIRT_TLS)
        if tls_failed and probe is not None:
            cited.append(
                Citation(source=probe.call(0), text=probe.connect_output[:300])
            )
    elif probe is None or probe_self_failure(probe) is not None:
        unseen.append(
            f"a network or TLS failure to {where} that ended the stream (the libvirt "
            "TLS probe did not run)"
        )
    libvirtd = dest_units.units.get("libvirtd") if dest_units is not None else None
    svc = services.on(dest) if services is not None else None
    if libvirtd not in (None, "active") and dest_units is not None:
        seen.append(f"libvirtd on {where} dying ({libvirtd})")
        cited.append(
            Citation(source=dest_units.provenance, text=f"libvirtd {libvirtd}")
        )
        causes.add(RootCauseId.COMPUTE_SERVICE_DOWN)
    elif libvirtd is None:
        unseen.append(f"libvirtd on {where} dying (its unit state could not be read)")
    if svc is not None and (svc.state != "up" or svc.forced_down):
        seen.append(f"the compute service of {where} going down ({svc.state})")
        causes.add(RootCauseId.COMPUTE_SERVICE_DOWN)
    elif services is None:
        unseen.append(
            f"the compute service of {where} going down (os-services could not be read)"
        )
    return _Rivals(
        seen=tuple(seen),
        unseen=tuple(unseen),
        cites=tuple(cited),
        explained_by=frozenset(causes),
    )


def _strength(c: Confidence) -> int:
    return (Confidence.POSSIBLE, Confidence.LIKELY, Confidence.CONFIRMED).index(c)

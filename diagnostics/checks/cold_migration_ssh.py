"""Compute-to-compute SSH/scp/rsync failed during a cold migration (F7.6-7.7)."""

from __future__ import annotations

from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    ColdMigrationSshProbe,
    InstanceActions,
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
from diagnostics.registry import check

COMPUTE_USER = (
    "pf9"  # pf9-ostackhost runs nova-compute as pf9 (failure-signatures §0.10)
)


def _classify(stderr: str) -> str:
    for label, pattern in sig.SSH_STDERR_KINDS:
        if pattern.search(stderr):
            return label
    first = stderr.strip().splitlines()[0] if stderr.strip() else "no stderr"
    return f"ssh failed ({first})"


@check(
    id="nova.cold-migration-ssh",
    title="Compute-to-compute SSH failed during the cold migration",
    applies_to={MigrationKind.COLD, MigrationKind.RESIZE},
    root_cause=RootCauseId.COLD_MIGRATION_SSH,
    priority=800,
    step=7,
    summary=(
        "{source_host} could not reach {dest_host} over SSH as user {user} to copy the "
        "disks of {server_name}: {reason}."
    ),
    remediation=(
        "On {source_host}: sudo -u {user} ssh -o BatchMode=yes {dest_host} true",
        "On {source_host}: sudo -u {user} sh -c 'ssh-keyscan -H {dest_host} "
        ">> ~{user}/.ssh/known_hosts' (for every name and IP Nova uses for {dest_host})",
        "Append ~{user}/.ssh/id_rsa.pub of {source_host} to ~{user}/.ssh/authorized_keys "
        "on {dest_host}.",
    ),
    references=("https://docs.openstack.org/nova/latest/admin/ssh-configuration.html",),
)
def cold_migration_ssh(
    server: Server,
    records: MigrationRecords | None,
    probe: ColdMigrationSshProbe | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
) -> CheckOutcome:
    """A cold migration or resize runs `ssh -o BatchMode=yes <dest> mkdir -p ...` and
    then scp/rsync as the compute agent's user (pf9 under PCD). A missing known_hosts
    entry, a refused public key, a closed port 22 or an unresolvable name ends it with
    "not able to execute ssh command" and the ssh stderr. The same ssh run by the probe
    reproducing the error confirms it.
    """
    move = move_of(records, server)
    texts = gather(actions=actions, server=server, source_logs=source_logs)
    hit = texts.find(sig.SSH_FAILED, sig.DISK_COPY)
    probe_failed = probe is not None and not probe.ok
    if hit is None and not probe_failed:
        if probe is None and not texts.available:
            return Inconclusive(reason="no SSH probe and no failure text")
        return RuledOut(
            reason="SSH between the hosts works and no SSH failure was logged"
        )
    if hit is not None and hit.match.re is sig.SSH_FAILED:
        reason = _classify(hit.get("stderr").replace("\\r\\n", "\n"))
    elif probe is not None and probe_failed:
        reason = _classify(probe.stderr)
    else:
        reason = f"the disk copy ({hit.get('cmd') if hit else 'scp'}) failed"
    probe_cite: tuple[Citation, ...] = ()
    if probe is not None and probe_failed:
        probe_cite = (Citation(source=probe.provenance, text=probe.stderr.strip()),)
    return Concluded(
        facts={
            "server_name": server.name,
            "source_host": move.source
            or (probe.source if probe else "the source host"),
            "dest_host": move.dest or (probe.dest if probe else "the destination host"),
            "user": probe.user if probe is not None else COMPUTE_USER,
            "reason": reason,
        },
        cites=probe_cite + cites(hit),
        confidence=Confidence.CONFIRMED if probe_failed else Confidence.LIKELY,
    )

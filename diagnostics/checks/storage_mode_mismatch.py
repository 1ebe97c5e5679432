"""Shared-storage vs block live migration asked for the wrong mode (F5.1-5.4)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import cites, gather, move_of
from diagnostics.evidence.types import (
    DestHostLogs,
    InstanceActions,
    MigrationRecords,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    CheckOutcome,
    Concluded,
    Confidence,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_MODES = {
    sig.NOT_SHARED: "the disks are local, but a shared-storage live migration was asked for",
    sig.NOT_LOCAL: "the disks are on shared storage, but a block migration was asked for",
    sig.MAPPED_VOLUMES: "block migration with attached volumes is not possible when tunnelled",
    sig.EVAC_SHARED: "the evacuation's on-shared-storage flag does not match the disks",
}


@check(
    id="nova.storage-mode-mismatch",
    title="Storage mode of the request does not match the VM's disks",
    applies_to={MigrationKind.LIVE, MigrationKind.EVACUATION},
    root_cause=RootCauseId.STORAGE_VOLUME,
    priority=820,
    step=3,
    summary="Nova refused to move {server_name} from {source_host}: {mode}.",
    remediation=(
        r.fix(
            r.CLI,
            "openstack server evacuate {server_id}",
            "Without an on-shared-storage flag Nova works out the storage itself.",
            when="move=evacuation",
        ),
        r.fix(
            r.CLI,
            "openstack server migrate --live-migration --host {dest_host} {server_id}",
            "Without --block-migration or --shared-migration Nova picks the mode that "
            "matches the disks (block_migration auto).",
            when="move=live,dest_host",
        ),
        r.fix(
            r.CLI,
            "openstack server migrate --live-migration {server_id}",
            "Without --block-migration or --shared-migration Nova picks the mode that "
            "matches the disks (block_migration auto).",
            when="move=live,!dest_host",
        ),
    ),
    references=(
        "https://docs.openstack.org/nova/latest/admin/configuring-migrations.html",
    ),
)
def storage_mode_mismatch(
    server: Server,
    records: MigrationRecords | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
) -> CheckOutcome:
    """check_can_live_migrate_source raises InvalidSharedStorage when a shared-storage
    migration meets local disks, and InvalidLocalStorage when a block migration meets
    shared storage; the source-side check may come back wrapped ("Error while
    check_can_live_migrate_source ... InvalidSharedStorage_Remote"). An evacuation with
    the wrong on-shared-storage flag fails the same way on the destination. The fix is
    to stop forcing a mode: block_migration "auto" (API 2.25+) picks the right one.
    """
    move = move_of(records, server)
    texts = gather(
        actions=actions, server=server, source_logs=source_logs, dest_logs=dest_logs
    )
    hits = [h for p in _MODES for h in texts.find_all(p)]
    if not hits:
        if not texts.available:
            return Inconclusive(reason="no failure text to read")
        return RuledOut(reason="no shared/local storage refusal")
    hit = hits[0]
    origins = {h.origin for h in hits}
    return Concluded(
        facts={
            "server_name": server.name,
            "source_host": move.source or "the source host",
            "mode": _MODES[hit.match.re],
            "server_id": server.id,
            "dest_host": move.dest or "",
            "move": "evacuation" if move.kind == MigrationKind.EVACUATION else "live",
        },
        cites=cites(*hits[:3]),
        confidence=Confidence.CONFIRMED if len(origins) > 1 else Confidence.LIKELY,
    )

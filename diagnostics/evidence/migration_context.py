"""Which migration is being diagnosed, which instance action belongs to it, and when it ran.

Pure functions over evidence already collected (no I/O), so the engine can call them
between the bootstrap calls: records → ``summarize_migration`` → ``instance_actions`` →
``summarize_migration`` again with the matched action for its request id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from diagnostics.evidence.types import (
    InstanceAction,
    InstanceActions,
    MigrationRecord,
    MigrationRecords,
    Server,
)
from diagnostics.model import MigrationKind, MigrationRef, MigrationSummary

# Nova records one migration_type per record but names the instance action after the API
# call that started it: a cold migration is the "migrate" action, except that a resize
# record comes from the "resize" action.
ACTIONS_OF_KIND: dict[MigrationKind, frozenset[str]] = {
    MigrationKind.LIVE: frozenset({"live-migration", "live_migration"}),
    MigrationKind.COLD: frozenset({"migrate", "resize"}),
    MigrationKind.RESIZE: frozenset({"resize", "migrate"}),
    MigrationKind.EVACUATION: frozenset({"evacuate"}),
}
MIGRATION_ACTIONS = frozenset().union(*ACTIONS_OF_KIND.values())

_FLOOR = datetime.min.replace(tzinfo=UTC)


def _kind(value: str, fallback: MigrationKind | None) -> MigrationKind:
    try:
        return MigrationKind(value)
    except ValueError:
        return fallback or MigrationKind.COLD


def pick_record(
    records: Iterable[MigrationRecord], migration_id: str | None
) -> MigrationRecord | None:
    """The record the user named (numeric id or uuid), else the newest one."""
    ordered = sorted(records, key=lambda r: r.created_at or _FLOOR, reverse=True)
    if migration_id is not None:
        return next((r for r in ordered if migration_id in (r.id, r.uuid)), None)
    return ordered[0] if ordered else None


def match_action(
    actions: Iterable[InstanceAction], migration: MigrationSummary | None
) -> InstanceAction | None:
    """The action of the same kind whose start is closest to the migration's creation.

    Without a migration (Nova refused before recording one), the newest action of any
    migration kind is the best guess.
    """
    if migration is None:
        candidates = [a for a in actions if a.action in MIGRATION_ACTIONS]
        return max(candidates, key=lambda a: a.start_time or _FLOOR, default=None)
    wanted = ACTIONS_OF_KIND[migration.kind]
    candidates = [a for a in actions if a.action in wanted]
    if not candidates:
        return None
    if migration.started_at is None:
        return max(candidates, key=lambda a: a.start_time or _FLOOR)
    started = migration.started_at

    def distance(action: InstanceAction) -> float:
        if action.start_time is None:
            return float("inf")
        return abs((action.start_time - started).total_seconds())

    return min(candidates, key=distance)


def summarize_migration(
    server: Server,
    records: MigrationRecords | None,
    actions: InstanceActions | None,
    ref: MigrationRef,
) -> MigrationSummary | None:
    """The migration under diagnosis, as the JSON contract's ``migration`` object.

    Picks ``ref.migration_id``'s record, else the newest. With no record at all, a summary
    is still made when the operator said what they tried (``ref.kind``), so an evacuation
    that Nova rejected with a 400 can be evaluated. ``dest_host`` is where the
    recorded move went (None: never scheduled), never ``ref.target_host`` (the host the
    operator asks about is not where this move failed; the CollectContext's ``dest_host``
    is the host evaluated); without a record, the target the operator says they tried.
    ``block_migration`` stays None: neither the record nor the instance action says it.
    """
    record = (
        pick_record(records.records, ref.migration_id) if records is not None else None
    )
    action = actions.migration_action if actions is not None else None
    if record is None:
        if ref.kind is None or ref.migration_id is not None:
            return None
        if action is not None and action.action not in ACTIONS_OF_KIND[ref.kind]:
            action = None
        return MigrationSummary(
            id=None,
            uuid=None,
            kind=ref.kind,
            block_migration=None,
            status=None,
            source_host=server.host,
            dest_host=ref.target_host,
            request_id=action.request_id if action is not None else None,
            started_at=action.start_time if action is not None else None,
        )
    kind = _kind(record.kind, ref.kind)
    if action is not None and action.action not in ACTIONS_OF_KIND[kind]:
        action = None
    return MigrationSummary(
        id=record.id,
        uuid=record.uuid,
        kind=kind,
        block_migration=None,
        status=record.status,
        source_host=record.source_compute,
        dest_host=record.dest_compute,
        request_id=action.request_id if action is not None else None,
        started_at=record.created_at,
        updated_at=record.updated_at,
    )


def action_window(
    action: InstanceAction | None, margin_s: float, until: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """From the action's start to its last event's finish, widened by ``margin_s`` each side.

    ``until`` is the migration record's last update: a live migration's
    ``compute_live_migration`` event ends as soon as the job is handed to the compute's
    executor, while the copy (and its timeout, abort or stream failure) goes on for as
    long as it takes; Nova writes the record's final status when it ends. Log lines
    outside this window belong to other attempts. None when the action has no start
    time (nothing to anchor the window to). An event that started and has not
    finished (a live migration still running) keeps the window open until now.
    """
    if action is None or action.start_time is None:
        return None
    moments = [action.start_time]
    if until is not None and until >= action.start_time:
        moments.append(until)
    for event in action.events:
        moments.extend(
            t for t in (event.start_time, event.finish_time) if t is not None
        )
        if event.start_time is not None and event.finish_time is None:
            moments.append(datetime.now(UTC))
    margin = timedelta(seconds=margin_s)
    return min(moments) - margin, max(moments) + margin

"""Abort and force-complete of an in-progress live migration, as nova-compute does them.

The API records the instance action (``live_migration_cancel`` /
``live_migration_force_complete``, nova/compute/instance_actions.py) and answers 202;
then the source compute acts (``sim/region/moves.py`` runs these later):

- abort (manager.live_migration_abort → libvirt abortJob → _rollback_live_migration with
  migration_status ``cancelled``): the VM stays ACTIVE on the source with task_state None,
  the destination's INACTIVE port bindings and the migration's allocation go, the source
  log says the job was cancelled; notifications ``instance.live_migration_abort.*`` then
  ``instance.live_migration_rollback.*``.
- force complete (manager.live_migration_force_complete → the libvirt monitor pauses the
  guest, or switches to post-copy, and the copy finishes): ``_post_live_migration`` runs,
  the migration is ``completed`` and the VM ACTIVE on the destination; notifications
  ``instance.live_migration_force_complete.*`` then ``live_migration_post(_dest).*``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sim.region.identity import provider_uuid
from sim.region.notify import build_notification
from sim.region.render import add_log_lines, render_log_line
from sim.region.state import (
    ActionEventRow,
    ActionRow,
    MigrationRow,
    NotificationRecord,
    RegionState,
    ServerRow,
    apply_update,
)
from sim.scenario.model import LogLine, Notification

ABORT_ACTION = "live_migration_cancel"
FORCE_COMPLETE_ACTION = "live_migration_force_complete"
_SOURCE_LOG = "/var/log/pf9/ostackhost.log"
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def record_action(
    state: RegionState, server: ServerRow, action: str, request_id: str, now: datetime
) -> ActionRow:
    """What nova-api's ``_record_action_start`` writes before it casts to the compute."""
    row = ActionRow(
        action=action,
        instance_uuid=server["id"],
        request_id=request_id,
        user_id=server["user_id"],
        project_id=server["project_id"],
        start_time=now,
        updated_at=now,
        message=None,
    )
    state.actions.append(row)
    return row


def _event(action: ActionRow, name: str, host: str | None, at: datetime) -> None:
    action.events.append(
        ActionEventRow(
            event=name,
            start_time=at,
            finish_time=at + timedelta(milliseconds=300),
            result="Success",
            traceback=None,
            host=host,
            details=None,
        )
    )
    action.updated_at = at + timedelta(milliseconds=300)


def _migration_action(state: RegionState, m: MigrationRow) -> ActionRow | None:
    """The live-migration action that started ``m`` (its monitor logs under its id)."""
    mine = [
        a
        for a in state.actions
        if a.instance_uuid == m.instance_uuid and a.action == "live-migration"
    ]
    return mine[-1] if mine else None


def _finish_move_events(state: RegionState, m: MigrationRow, at: datetime) -> str:
    """End the move's still-running events; returns the move's request id."""
    action = _migration_action(state, m)
    if action is None:
        return ""
    for event in action.events:
        if event.finish_time is None:
            event.finish_time, event.result = at, "Success"
    action.updated_at = at
    return action.request_id


def _source_lines(
    state: RegionState,
    server: ServerRow,
    m: MigrationRow,
    request_id: str,
    lines: list[tuple[Level, str, str]],
    at: datetime,
) -> None:
    """The libvirt driver's lines about the job, in the source's nova-compute log."""
    if m.source_compute is None:
        return
    ctx = {
        "server_id": server["id"],
        "user_id": server["user_id"],
        "project_id": server["project_id"],
    }
    rendered = [
        render_log_line(
            m.source_compute,
            _SOURCE_LOG,
            LogLine(
                at="now", level=level, logger=logger, request_id=request_id, text=text
            ),
            ctx,
            at,
        )
        for level, logger, text in lines
    ]
    add_log_lines(state, m.source_compute, _SOURCE_LOG, rendered)


def _notes(
    server: ServerRow,
    request_id: str,
    at: datetime,
    events: list[tuple[str, str | None]],
) -> list[NotificationRecord]:
    ctx = {"request_id": request_id}
    out: list[NotificationRecord] = []
    for event_type, host in events:
        note = Notification(event_type=event_type, publisher=f"nova-compute:{host}")
        out.append(
            (note.priority, event_type, build_notification(note, ctx, server, at))
        )
    return out


def abort(
    state: RegionState, m: MigrationRow, action: ActionRow, at: datetime
) -> list[NotificationRecord]:
    """The source compute aborts the job and rolls back; returns the notifications."""
    server = state.servers[m.instance_uuid]
    _event(action, "compute_live_migration_abort", m.source_compute, at)
    move_request = _finish_move_events(state, m, at)
    m.status, m.updated_at = "cancelled", at
    apply_update(
        server,
        {
            "status": "ACTIVE",
            "vm_state": "active",
            "task_state": None,
            "updated_at": at,
        },
    )
    for port_id in server["port_ids"]:
        bindings = state.port_bindings.get(port_id, {})
        held = bindings.get(m.dest_compute or "")
        if held is not None and held["status"] == "INACTIVE":
            del bindings[held["host"]]
    state.allocations.pop(m.uuid, None)
    _source_lines(
        state,
        server,
        m,
        move_request,
        [
            ("ERROR", "nova.virt.libvirt.driver",
             "Live Migration failure: operation aborted: migration out job: canceled by client"),
            ("WARNING", "nova.virt.libvirt.driver", "Migration operation was cancelled"),
        ],
        at,
    )  # fmt: skip
    notes = _notes(
        server,
        action.request_id,
        at,
        [
            ("instance.live_migration_abort.start", m.source_compute),
            ("instance.live_migration_abort.end", m.source_compute),
        ],
    ) + _notes(
        server,
        move_request,
        at,
        [
            ("instance.live_migration_rollback.start", m.source_compute),
            ("instance.live_migration_rollback.end", m.source_compute),
        ],
    )
    state.notifications.extend(notes)
    return notes


def force_complete(
    state: RegionState, m: MigrationRow, action: ActionRow, at: datetime
) -> list[NotificationRecord]:
    """The paused guest's copy finishes and the VM runs on the destination."""
    server = state.servers[m.instance_uuid]
    source, dest = m.source_compute or server["host"], m.dest_compute or server["host"]
    _event(action, "compute_live_migration_force_complete", source, at)
    move_request = _finish_move_events(state, m, at)
    move = _migration_action(state, m)
    if move is not None:
        _event(move, "compute_post_live_migration_at_destination", dest, at)
    m.status, m.updated_at = "completed", at
    if m.progress:
        m.progress = {**m.progress, "memory_remaining_bytes": 0}
    for port_id in server["port_ids"]:
        bindings = state.port_bindings.get(port_id, {})
        active = bindings.pop(source, None)
        if active is not None:  # the destination's binding is activated
            bindings[dest] = {**active, "host": dest, "status": "ACTIVE"}
    held = state.allocations.get(server["id"], {})
    moved = held.pop(provider_uuid(state.scenario, source), None)
    if moved is not None:
        held[provider_uuid(state.scenario, dest)] = moved
    state.allocations.pop(m.uuid, None)
    apply_update(
        server,
        {"status": "ACTIVE", "vm_state": "active", "task_state": None,
         "host": dest, "node": dest, "updated_at": at},
    )  # fmt: skip
    _source_lines(
        state,
        server,
        m,
        move_request,
        [("INFO", "nova.virt.libvirt.driver", "Migration operation has completed")],
        at,
    )
    notes = _notes(
        server,
        action.request_id,
        at,
        [
            ("instance.live_migration_force_complete.start", source),
            ("instance.live_migration_force_complete.end", source),
        ],
    ) + _notes(
        server,
        move_request,
        at,
        [
            ("instance.live_migration_post.start", source),
            ("instance.live_migration_post.end", source),
            ("instance.live_migration_post_dest.start", dest),
            ("instance.live_migration_post_dest.end", dest),
        ],
    )
    state.notifications.extend(notes)
    return notes

"""Apply a migration Outcome to the region: migration row, instance action, logs, leftovers.

The same code runs a server's ``history`` when the region is built and the ``on_migrate``
outcome when a client POSTs a move action (sim/region/moves.py then walks the migration
through Nova's intermediate statuses before committing the final state).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sim.region.identity import CONDUCTOR_HOST, provider_uuid
from sim.region.notify import build_notification
from sim.region.nova_text import nova_message
from sim.region.render import add_log_lines, render_log_line, render_text
from sim.region.state import (
    ActionEventRow,
    ActionRow,
    MigrationRow,
    NotificationRecord,
    PortBinding,
    RegionState,
    RenderedLogLine,
    ServerRow,
    ServerUpdate,
    apply_update,
    compute_service,
    stable_uuid,
)
from sim.scenario.model import Event, Outcome
from sim.scenario.times import resolve_time

ACTION_NAMES = {
    "live-migration": "live-migration",
    "migration": "migrate",
    "evacuation": "evacuate",
    "resize": "resize",
}
SUCCESS_STATUSES = {"completed", "done", "finished", "confirmed", "post-migrating"}

# events Nova records for a move that went through (live/servers/ok-lm-01 and Nova source)
_SUCCESS_EVENTS: dict[str, list[tuple[str, str | None]]] = {
    "live-migration": [
        ("conductor_live_migrate_instance", None),
        ("compute_check_can_live_migrate_destination", "{dest}"),
        ("compute_check_can_live_migrate_source", "{source}"),
        ("compute_live_migration", "{source}"),
        ("compute_pre_live_migration", "{dest}"),
        ("compute_post_live_migration_at_destination", "{dest}"),
    ],
    "migration": [
        ("conductor_migrate_server", None),
        ("cold_migrate", None),
        ("compute_prep_resize", "{dest}"),
        ("compute_resize_instance", "{source}"),
        ("compute_finish_resize", "{dest}"),
    ],
    "evacuation": [("rebuild_server", None), ("compute_rebuild_instance", "{dest}")],
}
_SUCCESS_EVENTS["resize"] = [
    ("conductor_migrate_server", None),
    *_SUCCESS_EVENTS["migration"][2:],
]


Placeholders = dict[
    str, str | int
]  # {server_id}, {dest}, {migration_id}, ... of one attempt
RenderedLogs = list[tuple[str, str, list[RenderedLogLine]]]  # (owner, path, lines)


@dataclass
class PlannedOutcome:
    """Everything an outcome does, computed before any of it is written into the state."""

    server_id: str
    outcome: Outcome
    migration: MigrationRow
    action: ActionRow
    source: str
    dest: str | None
    context: Placeholders
    server_updates: ServerUpdate
    logs: RenderedLogs = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)
    succeeded: bool = False


@dataclass(frozen=True, slots=True)
class _Timing:
    """When an attempt runs: its start, its length, and how far ``at`` moved it."""

    start: datetime
    shift: timedelta  # the replayed start minus the declared start (zero for history)
    end: datetime

    @classmethod
    def of(cls, outcome: Outcome, now: datetime, at: datetime | None) -> _Timing:
        declared = resolve_time(outcome.at, now)
        start = at or declared
        return cls(
            start, start - declared, start + timedelta(seconds=outcome.duration_s)
        )


def _pick_dest(state: RegionState, source: str, az: str) -> str | None:
    """What the scheduler would pick for a successful move: another up, enabled host."""
    for name, host in sorted(state.scenario.hosts.items()):
        c = compute_service(state, name)
        if (
            name != source
            and host.az == az
            and c.state == "up"
            and c.status == "enabled"
        ):
            return name
    return None


def _next_migration_id(state: RegionState) -> int:
    return max((m.id for m in state.migrations), default=0) + 1


def _flavor_id(state: RegionState, name: str) -> int:
    names = [f.name for f in state.scenario.flavors]
    return names.index(name) + 1 if name in names else 1


def _events(
    outcome: Outcome,
    start: datetime,
    shift: timedelta,
    now: datetime,
    ctx: Placeholders,
) -> list[ActionEventRow]:
    specs = list(outcome.events)
    if not specs and outcome.status in SUCCESS_STATUSES:
        specs = [Event(event=e, host=h) for e, h in _SUCCESS_EVENTS[outcome.kind]]
    rows = []
    for index, ev in enumerate(specs):
        # events without their own time start a little after each other, as Nova's do
        begin = resolve_time(ev.start, now) + shift if ev.start else start
        begin += timedelta(milliseconds=60 * (index + 1))
        host = render_text(ev.host, ctx) if ev.host else CONDUCTOR_HOST
        rows.append(
            ActionEventRow(
                event=ev.event,
                start_time=begin,
                # an event still running (no result yet) has no finish time, as Nova's
                finish_time=None
                if ev.result is None
                else begin + timedelta(seconds=ev.duration_s),
                result=ev.result,
                traceback=render_text(ev.traceback, ctx) if ev.traceback else None,
                host=host,
                details=nova_message(render_text(ev.details, ctx))
                if ev.details
                else None,
            )
        )
    return rows


def _destination(
    state: RegionState,
    server: ServerRow,
    outcome: Outcome,
    requested: str | None,
    succeeded: bool,
) -> str | None:
    """The client's host, else the outcome's, else (a move that went through) the scheduler's."""
    here: Placeholders = {
        "source": server["host"],
        "server_id": server["id"],
        "server_name": server["name"],
    }
    dest = requested or (render_text(outcome.dest, here) if outcome.dest else None)
    if dest is None and succeeded:
        dest = _pick_dest(state, server["host"], server["availability_zone"])
    return dest


def _request_id(
    state: RegionState,
    server: ServerRow,
    outcome: Outcome,
    migration_id: int,
    replayed: bool,
) -> str:
    """A replayed attempt gets a fresh id, history a stable one, unless the outcome fixes it."""
    if outcome.request_id:
        return outcome.request_id
    if replayed:
        return "req-" + str(uuid.uuid4())
    name = state.scenario.name
    return "req-" + stable_uuid(name, "req", server["name"], str(migration_id))


def _placeholders(
    server: ServerRow,
    dest: str | None,
    request_id: str,
    migration_id: int,
    migration_uuid: str,
) -> Placeholders:
    return {
        "source": server["host"],
        "server_id": server["id"],
        "server_name": server["name"],
        "dest": dest or "",
        "request_id": request_id,
        "migration_id": migration_id,
        "migration_uuid": migration_uuid,
        "port_id": (server["port_ids"] or [""])[0],
        "volume_id": (server["volume_ids"] or [""])[0],
        "instance_name": server["instance_name"],
        "user_id": server["user_id"],
        "project_id": server["project_id"],
    }


def _migration_row(
    state: RegionState,
    server: ServerRow,
    outcome: Outcome,
    dest: str | None,
    ids: tuple[int, str],
    timing: _Timing,
) -> MigrationRow:
    scenario = state.scenario
    source = server["host"]
    # a live pre-check failure never reaches the computes: nodes stay null (live/web-01)
    nodes_known = outcome.kind != "live-migration" or outcome.status != "error"
    dest_host_ip = None
    if outcome.kind in ("migration", "resize") and dest in scenario.hosts:
        dest_host_ip = scenario.hosts[dest].host_ip
    flavor_id = _flavor_id(state, server["flavor"])
    return MigrationRow(
        id=ids[0],
        uuid=ids[1],
        instance_uuid=server["id"],
        migration_type=outcome.kind,
        status=outcome.status,
        source_compute=source,
        dest_compute=dest,
        source_node=source if nodes_known else None,
        dest_node=dest if nodes_known and dest else None,
        dest_host=dest_host_ip,
        source_region=scenario.region,
        dest_region=scenario.region,
        old_instance_type_id=flavor_id,
        new_instance_type_id=flavor_id,
        created_at=timing.start + timedelta(milliseconds=70),
        updated_at=timing.end,
        project_id=server["project_id"],
        user_id=server["user_id"],
        progress=outcome.progress.model_dump() if outcome.progress else {},
    )


def _action_row(
    server: ServerRow,
    outcome: Outcome,
    request_id: str,
    start: datetime,
    events: list[ActionEventRow],
    end: datetime,
) -> ActionRow:
    return ActionRow(
        action=outcome.action or ACTION_NAMES[outcome.kind],
        instance_uuid=server["id"],
        request_id=request_id,
        user_id=server["user_id"],
        project_id=server["project_id"],
        start_time=start,
        updated_at=max((e.finish_time for e in events if e.finish_time), default=end),
        message=outcome.message,
        events=events,
    )


def _server_updates(
    outcome: Outcome,
    new_host: str | None,
    ctx: Placeholders,
    finish: datetime,
) -> ServerUpdate:
    """A finished move always clears task_state; status/vm_state change only if stated."""
    updates: ServerUpdate = {"updated_at": finish, "task_state": outcome.task_state}
    if outcome.server_status is not None:
        updates["status"] = outcome.server_status
    if outcome.vm_state is not None:
        updates["vm_state"] = outcome.vm_state
    if new_host:
        updates["host"] = updates["node"] = new_host
    if outcome.fault:
        updates["fault"] = {
            "code": int(outcome.fault.get("code", 500)),
            "message": nova_message(
                render_text(str(outcome.fault.get("message", "")), ctx)
            ),
            "details": render_text(str(outcome.fault.get("details", "")), ctx),
            "created": finish,
        }
    return updates


def _log_lines(outcome: Outcome, ctx: Placeholders, now: datetime) -> RenderedLogs:
    """The outcome's log lines, each in its owner's file, rendered against ``now``."""
    logs: RenderedLogs = []
    for owner, files in outcome.logs.items():
        owner_name = render_text(owner, ctx)
        for path, lines in files.items():
            real_path = render_text(path, ctx)
            rendered = [
                render_log_line(owner_name, real_path, ln, ctx, now) for ln in lines
            ]
            logs.append((owner_name, real_path, rendered))
    return logs


def _notifications(
    outcome: Outcome, ctx: Placeholders, server: ServerRow, at: datetime
) -> list[NotificationRecord]:
    return [
        (note.priority, note.event_type, build_notification(note, ctx, server, at))
        for note in outcome.notifications
    ]


def plan_outcome(
    state: RegionState,
    server_id: str,
    outcome: Outcome,
    now: datetime,
    *,
    at: datetime | None = None,
    request_id: str | None = None,
    dest: str | None = None,
) -> PlannedOutcome:
    """Compute the rows, server fields, log lines and notifications of one outcome.

    ``at`` moves the whole outcome (events, log lines) to a new start time, which is how
    a live POST replays ``on_migrate`` "now"; ``dest`` is the host the client asked for.
    """
    server = state.servers[server_id]
    timing = _Timing.of(outcome, now, at)
    succeeded = outcome.status in SUCCESS_STATUSES
    dest = _destination(state, server, outcome, dest, succeeded)
    mig_id = outcome.migration_id or _next_migration_id(state)
    mig_uuid = stable_uuid(state.scenario.name, "migration", str(mig_id))
    if request_id is None:
        request_id = _request_id(
            state, server, outcome, mig_id, replayed=at is not None
        )
    ctx = _placeholders(server, dest, request_id, mig_id, mig_uuid)
    migration = _migration_row(state, server, outcome, dest, (mig_id, mig_uuid), timing)
    events = _events(outcome, timing.start, timing.shift, now, ctx)
    action = _action_row(server, outcome, request_id, timing.start, events, timing.end)
    updates = _server_updates(
        outcome,
        outcome.host_after or (dest if succeeded else None),
        ctx,
        action.updated_at,
    )
    after: ServerRow = {**server, **updates}
    return PlannedOutcome(
        server_id=server_id,
        outcome=outcome,
        migration=migration,
        action=action,
        source=server["host"],
        dest=dest,
        context=ctx,
        server_updates=updates,
        # rendering against a shifted "now" moves the lines' times with the outcome
        logs=_log_lines(outcome, ctx, now + timing.shift),
        notifications=_notifications(outcome, ctx, after, action.updated_at),
        succeeded=succeeded,
    )


def commit_outcome(state: RegionState, plan: PlannedOutcome) -> None:
    """Write a planned outcome's final effects (server fields, logs, leftovers)."""
    server = state.servers[plan.server_id]
    apply_update(server, plan.server_updates)
    for owner, path, lines in plan.logs:
        add_log_lines(state, owner, path, lines)
    scenario = state.scenario
    if plan.succeeded and plan.dest and plan.server_id in state.allocations:
        held = state.allocations[plan.server_id].pop(
            provider_uuid(scenario, plan.source), {}
        )
        state.allocations[plan.server_id][provider_uuid(scenario, plan.dest)] = held
        for port_id in server["port_ids"]:
            bindings = state.port_bindings.get(port_id, {})
            old = bindings.pop(plan.source, None)
            if old is not None:
                bindings[plan.dest] = {**old, "host": plan.dest}
    if plan.dest and plan.outcome.leaves_inactive_binding:
        for port_id in server["port_ids"]:
            bindings = state.port_bindings.setdefault(port_id, {})
            template = next(iter(bindings.values()), None)
            bindings[plan.dest] = _inactive_binding(template, plan.dest)
    if plan.dest and plan.outcome.leaves_allocation:
        # the migration record's consumer keeps holding the instance's resources on dest
        held = next(iter(state.allocations.get(plan.server_id, {}).values()), {})
        state.allocations[plan.migration.uuid] = {
            provider_uuid(scenario, plan.dest): dict(held)
        }
    state.notifications.extend(plan.notifications)


def _inactive_binding(template: PortBinding | None, host: str) -> PortBinding:
    """The INACTIVE binding a cancelled attempt leaves on ``host`` (a copy of the port's)."""
    if template is None:  # every port is bound when the region is built; kept total
        return PortBinding(
            host=host,
            vif_type="unbound",
            vnic_type="normal",
            status="INACTIVE",
            profile={},
            vif_details={},
        )
    return {**template, "host": host, "status": "INACTIVE", "vif_type": "unbound"}


def apply_outcome(
    state: RegionState, server_id: str, outcome: Outcome, now: datetime
) -> PlannedOutcome:
    """Apply a (history) outcome at once: rows, server fields, logs, leftovers, notifications."""
    plan = plan_outcome(state, server_id, outcome, now)
    if outcome.api_error:
        # Nova refused it at the API (400/409): no migration row, no instance action,
        # the server unchanged; only the API's own log lines remain
        for owner, path, lines in plan.logs:
            add_log_lines(state, owner, path, lines)
        return plan
    state.migrations.append(plan.migration)
    state.actions.append(plan.action)
    commit_outcome(state, plan)
    return plan

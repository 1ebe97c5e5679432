"""Apply a migration Outcome to the region: migration row, instance action, logs, leftovers.

The same code runs a server's ``history`` when the region is built and the ``on_migrate``
outcome when a client POSTs a move action (sim/region/moves.py then walks the migration
through Nova's intermediate statuses before committing the final state).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sim.region.identity import CONDUCTOR_HOST, provider_uuid
from sim.region.notify import build_notification
from sim.region.render import add_log_lines, render_log_line, render_text
from sim.region.state import (
    ActionEventRow,
    ActionRow,
    MigrationRow,
    RegionState,
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


@dataclass
class PlannedOutcome:
    """Everything an outcome does, computed before any of it is written into the state."""

    server_id: str
    outcome: Outcome
    migration: MigrationRow
    action: ActionRow
    source: str
    dest: str | None
    context: dict[str, Any]
    server_updates: dict[str, Any]
    logs: list[tuple[str, str, list[Any]]] = field(default_factory=list)
    notifications: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    succeeded: bool = False


def _pick_dest(state: RegionState, source: str, az: str) -> str | None:
    """What the scheduler would pick for a successful move: another up, enabled host."""
    for name, host in sorted(state.scenario.hosts.items()):
        c = host.compute
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
    ctx: dict[str, Any],
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
                finish_time=begin + timedelta(seconds=ev.duration_s),
                result=ev.result,
                traceback=render_text(ev.traceback, ctx) if ev.traceback else None,
                host=host,
                details=render_text(ev.details, ctx) if ev.details else None,
            )
        )
    return rows


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
    scenario = state.scenario
    server = state.servers[server_id]
    declared_at = resolve_time(outcome.at, now)
    start = at or declared_at
    shift = start - declared_at
    source = server["host"]
    ctx0 = {"source": source, "server_id": server_id, "server_name": server["name"]}
    dest = dest or (render_text(outcome.dest, ctx0) if outcome.dest else None)
    succeeded = outcome.status in SUCCESS_STATUSES
    if dest is None and succeeded:
        dest = _pick_dest(state, source, server["availability_zone"])
    mig_id = outcome.migration_id or _next_migration_id(state)
    mig_uuid = stable_uuid(scenario.name, "migration", str(mig_id))
    if request_id is None:
        request_id = outcome.request_id or (
            "req-" + str(uuid.uuid4())
            if at
            else "req-" + stable_uuid(scenario.name, "req", server["name"], str(mig_id))
        )
    ctx: dict[str, Any] = {
        **ctx0,
        "dest": dest or "",
        "request_id": request_id,
        "migration_id": mig_id,
        "migration_uuid": mig_uuid,
        "port_id": (server["port_ids"] or [""])[0],
        "volume_id": (server["volume_ids"] or [""])[0],
        "instance_name": server["instance_name"],
        "user_id": server["user_id"],
        "project_id": server["project_id"],
    }
    end = start + timedelta(seconds=outcome.duration_s)
    # a live pre-check failure never reaches the computes: nodes stay null (live/web-01)
    nodes_known = outcome.kind != "live-migration" or outcome.status != "error"
    dest_host_ip = None
    if outcome.kind in ("migration", "resize") and dest in scenario.hosts:
        dest_host_ip = scenario.hosts[dest].host_ip
    flavor_id = _flavor_id(state, server["flavor"])
    migration = MigrationRow(
        id=mig_id,
        uuid=mig_uuid,
        instance_uuid=server_id,
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
        created_at=start + timedelta(milliseconds=70),
        updated_at=end,
        project_id=server["project_id"],
        user_id=server["user_id"],
    )
    events = _events(outcome, start, shift, now, ctx)
    finish = max((e.finish_time for e in events if e.finish_time), default=end)
    action = ActionRow(
        action=outcome.action or ACTION_NAMES[outcome.kind],
        instance_uuid=server_id,
        request_id=request_id,
        user_id=server["user_id"],
        project_id=server["project_id"],
        start_time=start,
        updated_at=finish,
        message=outcome.message,
        events=events,
    )
    # a finished move always clears task_state; status/vm_state change only if stated
    updates: dict[str, Any] = {"updated_at": finish, "task_state": outcome.task_state}
    if outcome.server_status is not None:
        updates["status"] = outcome.server_status
    if outcome.vm_state is not None:
        updates["vm_state"] = outcome.vm_state
    new_host = outcome.host_after or (dest if succeeded else None)
    if new_host:
        updates["host"] = updates["node"] = new_host
    if outcome.fault:
        updates["fault"] = {
            "code": int(outcome.fault.get("code", 500)),
            "message": render_text(str(outcome.fault.get("message", "")), ctx),
            "details": render_text(str(outcome.fault.get("details", "")), ctx),
            "created": finish,
        }
    plan = PlannedOutcome(
        server_id=server_id,
        outcome=outcome,
        migration=migration,
        action=action,
        source=source,
        dest=dest,
        context=ctx,
        server_updates=updates,
        succeeded=succeeded,
    )
    for owner, files in outcome.logs.items():
        owner_name = render_text(owner, ctx)
        for path, lines in files.items():
            real_path = render_text(path, ctx)
            # rendering against a shifted "now" moves the line's time with the outcome
            rendered = [
                render_log_line(owner_name, real_path, ln, ctx, now + shift)
                for ln in lines
            ]
            plan.logs.append((owner_name, real_path, rendered))
    for note in outcome.notifications:
        envelope = build_notification(note, ctx, {**server, **updates}, finish)
        plan.notifications.append((note.priority, note.event_type, envelope))
    return plan


def commit_outcome(state: RegionState, plan: PlannedOutcome) -> None:
    """Write a planned outcome's final effects (server fields, logs, leftovers)."""
    server = state.servers[plan.server_id]
    server.update(plan.server_updates)
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
            template = next(iter(bindings.values()), {})
            bindings[plan.dest] = {
                **template,
                "host": plan.dest,
                "status": "INACTIVE",
                "vif_type": "unbound",
            }
    if plan.dest and plan.outcome.leaves_allocation:
        # the migration record's consumer keeps holding the instance's resources on dest
        held = next(iter(state.allocations.get(plan.server_id, {}).values()), {})
        state.allocations[plan.migration.uuid] = {
            provider_uuid(scenario, plan.dest): dict(held)
        }
    state.notifications.extend(plan.notifications)


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

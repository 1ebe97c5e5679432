"""The VM was not in a state that allows this kind of move (F7.3-7.5)."""

from __future__ import annotations

from diagnostics import remedies as r
from diagnostics import signatures as sig
from diagnostics.checks._common import Move, cites, gather, move_of
from diagnostics.evidence.types import (
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Server,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    Inconclusive,
    MigrationKind,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

_ALLOWED: dict[str | None, frozenset[str]] = {
    MigrationKind.LIVE.value: frozenset({"ACTIVE", "PAUSED"}),
    MigrationKind.COLD.value: frozenset({"ACTIVE", "SHUTOFF"}),
    MigrationKind.RESIZE.value: frozenset({"ACTIVE", "SHUTOFF"}),
}


def _state_problem(
    server: Server, move: Move, *, records_read: bool = True
) -> tuple[str, str] | None:
    """(problem, state_fix) from the server's own state, for a move Nova refused
    before recording it; state_fix picks the remediation steps.

    Without the migration records a task_state proves nothing: it may be the move
    itself, still running (and resetting the state would break it)."""
    if server.locked:
        return "the VM is locked", "unlock"
    if server.task_state and not records_read:
        return None
    if server.task_state:
        return f"the VM is in task_state {server.task_state}", "reset-state"
    if move.source is not None and move.source == move.dest:
        return f"the destination is its current host {move.dest}", "other-host"
    allowed = _ALLOWED.get(move.kind)
    if allowed is not None and server.status not in allowed:
        return f"the VM is {server.status}", "start"
    return None


_REMEDIES = (
    r.fix(r.CLI, "openstack server unlock {server_id}",
          "Nova refuses every move of a locked VM; unlock it if its owner agrees.",
          when="state_fix=unlock"),
    r.check(r.host("{vm_host}"), "virsh -r domstate {instance_name}",
            "Where and whether the guest really runs, before resetting what Nova "
            "believes.", when="state_fix=reset-state"),
    r.fix(r.CLI, "openstack server set --state active --auto-approve {server_id}",
          "Clears the stuck task_state, only when the guest runs on {vm_host}.",
          when="state_fix=reset-state"),
    r.fix(r.CLI, "openstack server start {server_id}",
          "A live migration needs a running VM (a stopped one can be cold migrated "
          "instead).", when="state_fix=start"),
    r.check(r.CLI,
            "openstack server show {server_id} -c status -c OS-EXT-STS:task_state "
            "-c OS-EXT-STS:vm_state -c locked",
            "The state must allow the move (ACTIVE, no task_state, not locked) before "
            "a retry."),
)  # fmt: skip


@check(
    id="nova.invalid-vm-state",
    title="VM state does not allow this move",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.INVALID_VM_STATE,
    priority=900,
    step=1,
    summary="Nova refused to move {server_name}: {problem}.",
    remediation=_REMEDIES,
    references=("https://docs.openstack.org/nova/latest/reference/vm-states.html",),
)
def invalid_vm_state(
    server: Server,
    records: MigrationRecords | None,
    actions: InstanceActions | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """The API answers 409 for a wrong vm/task/power state or a locked VM; the conductor
    refuses a live migration of a VM that is not running, and any move to the host it
    already runs on. Such refusals happen before a migration record exists, so the
    server's own state is evidence too. The refusal text and the state agreeing is
    "confirmed".
    """
    move = move_of(records, server)
    texts = gather(actions=actions, server=server, mgmt=mgmt)
    hit = texts.find(sig.INVALID_STATE, sig.POWER_STATE, sig.LOCKED, sig.SAME_HOST)
    from_state = (
        _state_problem(server, move, records_read=records is not None)
        if move.record is None
        else None
    )
    if hit is None and from_state is None:
        if records is None and server.task_state:
            return Inconclusive(
                reason=f"the VM is in task_state {server.task_state}, but its migration "
                "records could not be read: a refused move or one still running"
            )
        return RuledOut(reason="the VM's state allows the move")
    if from_state is not None:
        problem, state_fix = from_state
    else:
        assert hit is not None  # one of the two is set (checked above)
        problem, state_fix = hit.match.group(0), "wait"
        if hit.match.re is sig.LOCKED:
            state_fix = "unlock"
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "problem": problem,
            "state_fix": state_fix,
            "vm_host": server.host or "",
            "instance_name": server.instance_name or "",
        },
        cites=cites(hit),
        confidence=Confidence.CONFIRMED if hit and from_state else Confidence.LIKELY,
    )

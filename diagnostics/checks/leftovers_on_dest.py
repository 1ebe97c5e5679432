"""Leftovers on the destination that will break the next retry (secondary finding)."""

from __future__ import annotations

from diagnostics.checks._common import gather, move_of
from diagnostics.checks._leftovers import (
    LEFTOVER_REMEDIES,
    find_leftovers,
    leftover_facts,
)
from diagnostics.checks.stale_leftovers import LEFTOVER_SIGNS
from diagnostics.evidence.types import (
    DestHostLogs,
    DestLeftovers,
    InstanceActions,
    MigrationRecords,
    Placement,
    Ports,
    Server,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    CouldNotCheck,
    Inconclusive,
    RootCauseId,
    RuledOut,
    Severity,
)
from diagnostics.registry import check


@check(
    id="nova.leftovers-on-dest",
    title="Leftovers on the destination will break a retry",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.STALE_LEFTOVERS,
    severity=Severity.WARNING,
    priority=50,
    step=7,
    summary="Before retrying, clean up on {dest_host}: {leftovers}.",
    remediation=LEFTOVER_REMEDIES,
    references=("https://github.com/bigstack-oss/cubecos/issues/1440",),
)
def leftovers_on_dest(
    server: Server,
    records: MigrationRecords | None,
    leftovers: DestLeftovers | None,
    ports: Ports | None,
    placement: Placement | None,
    actions: InstanceActions | None,
    dest_logs: DestHostLogs | None,
) -> CheckOutcome:
    """After any failed attempt, an inactive port binding, an instance directory, a
    libvirt domain or a migration-held Placement allocation may remain for the
    destination; the next attempt then fails on it. Reported as a warning beside the
    primary cause. When the failure text already names the leftover,
    nova.stale-leftovers reports it as the primary cause instead. While the migration is
    still in progress, what it holds on the destination is its own, not a leftover.
    """
    move = move_of(records, server)
    if move.in_progress:
        # the destination's INACTIVE binding, allocation and instance directory belong to
        # the move under way (Nova creates them before the copy): nothing is left over yet
        return RuledOut(reason=f"the migration is still {move.status}")
    if leftovers is None and ports is None and placement is None:
        return Inconclusive(reason="no leftover probe, ports or Placement allocations")
    texts = gather(actions=actions, dest_logs=dest_logs)
    if texts.find(*LEFTOVER_SIGNS) is not None:
        return RuledOut(
            reason="the failure itself names the leftover (nova.stale-leftovers)"
        )
    found = find_leftovers(server, move, leftovers, ports, placement)
    if not found and leftovers is None and move.dest is not None:
        return CouldNotCheck(
            why="no leftover binding or allocation, but the domains and instance "
            f"directory on {move.dest} could not be listed",
            needs=f"SSH to {move.dest}",
        )
    if not found:
        return RuledOut(reason="nothing left on the destination")
    return Concluded(
        facts={
            "dest_host": (leftovers.host if leftovers else None)
            or move.dest
            or "the destination",
            "leftovers": "; ".join(x.what for x in found),
            "source_host": move.source or "",
        }
        | leftover_facts(found),
        cites=tuple(x.cite for x in found),
        confidence=Confidence.CONFIRMED,
    )

"""A leftover from an earlier attempt made this attempt fail (failure-signatures §0.9)."""

from __future__ import annotations

from dataclasses import replace

from diagnostics import signatures as sig
from diagnostics.checks._common import (
    Hit,
    cites,
    gather,
    move_of,
    move_word,
    retry_remedies,
)
from diagnostics.checks._leftovers import (
    LEFTOVER_REMEDIES,
    find_leftovers,
    leftover_facts,
)
from diagnostics.evidence.types import (
    DestHostLogs,
    DestLeftovers,
    InstanceActions,
    ManagementPlane,
    MigrationRecords,
    Ports,
    Server,
    SourceHostLogs,
)
from diagnostics.model import (
    ALL_KINDS,
    CheckOutcome,
    Concluded,
    Confidence,
    Inconclusive,
    RootCauseId,
    RuledOut,
)
from diagnostics.registry import check

LEFTOVER_SIGNS = (sig.BINDING_EXISTS, sig.DISK_EXISTS, sig.DOMAIN_ACTIVE)


def _from_text(hit: Hit, dest: str) -> tuple[str, dict[str, str]]:
    """What the failure text names, and the facts of the steps that clear it."""
    if hit.match.re is sig.BINDING_EXISTS:
        port, host = hit.get("port"), hit.get("host")
        return (
            f"port {port} already has a binding on {host}",
            {"leftover_port_id": port, "binding_host": host},
        )
    if hit.match.re is sig.DISK_EXISTS:
        path = hit.get("path")
        return f"disk path {path} already exists on {dest}", {
            "leftover_instance_dir": path
        }
    dom = hit.get("dom")
    return f"libvirt domain {dom} is already active on {dest}", {"active_domain": dom}


@check(
    id="nova.stale-leftovers",
    title="Leftover from an earlier attempt blocked the migration",
    applies_to=ALL_KINDS,
    root_cause=RootCauseId.STALE_LEFTOVERS,
    priority=850,
    step=7,
    summary="The move of {server_name} failed because {leftover}.",
    remediation=(
        *LEFTOVER_REMEDIES,
        *retry_remedies("Retries the move once the leftover is gone."),
    ),
    references=(
        "https://github.com/bigstack-oss/cubecos/issues/1440",
        "https://github.com/risuorg/risu",
    ),
)
def stale_leftovers(
    server: Server,
    records: MigrationRecords | None,
    leftovers: DestLeftovers | None,
    ports: Ports | None,
    actions: InstanceActions | None,
    source_logs: SourceHostLogs | None,
    dest_logs: DestHostLogs | None,
    mgmt: ManagementPlane | None,
) -> CheckOutcome:
    """A failed migration can leave an inactive port binding, an instance directory or a
    libvirt domain on the destination; the next attempt then fails with "Binding for
    port ... already exists", DestinationDiskExists or "domain ... is already active".
    The failure text is "likely"; the leftover still present on the destination (probe
    or Neutron bindings) makes it "confirmed".
    """
    move = move_of(records, server)
    texts = gather(
        actions=actions, server=server, source_logs=source_logs, dest_logs=dest_logs,
        mgmt=mgmt,
    )  # fmt: skip
    hit = texts.find(*LEFTOVER_SIGNS)
    if hit is None:
        if not texts.available:
            return Inconclusive(reason="no failure text to read")
        # Nova reports Neutron's "Binding for port … already exists" as a generic
        # PortBindingFailed and logs the reason only in nova-conductor's log: a leftover
        # is ruled out only when the logs that would name it were read
        unread = [
            name
            for name, logs in (
                ("the management plane's Nova logs", mgmt),
                ("the source host's logs", source_logs),
                ("the destination host's logs", dest_logs),
            )
            if logs is None
        ]
        if unread:
            return Inconclusive(
                reason="the failure text read names no leftover, but "
                + ", ".join(unread)
                + " could not be read"
            )
        return RuledOut(reason="the failure text names no leftover")
    if move.retargeted:
        # --target-host: the failure names a leftover of the move's own destination;
        # whether it is still there is asked of Neutron for that host, never of the
        # target's probe (the target's own leftovers are leftovers-on-dest's)
        move, leftovers = replace(move, dest=move.failed_at), None
    dest = move.dest or hit.get("host") or "the destination host"
    leftover, facts = _from_text(hit, dest)
    still_there = find_leftovers(server, move, leftovers, ports, None)
    return Concluded(
        facts={
            "server_name": server.name,
            "server_id": server.id,
            "leftover": leftover,
            "source_host": move.source or "",
            "dest_host": dest,
            "move": move_word(move.kind),
        }
        | facts
        | leftover_facts(still_there),
        cites=cites(hit) + tuple(x.cite for x in still_there),
        confidence=Confidence.CONFIRMED if still_there else Confidence.LIKELY,
    )

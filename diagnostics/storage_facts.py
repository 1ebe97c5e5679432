"""What steps 7 and 8 saw on the storage nodes, in the operator's terms.

Step 7: each backend of the VM's volumes with its cinder-volume service (Cinder's view)
and its units on the node. Step 8: the cinder-volume log lines found on each node. Each
describer returns the summary parts, what was abnormal, and what could not be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable

EvidenceMap = Mapping[type[Evidence], Evidence | Unavailable]


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageFacts:
    parts: tuple[str, ...] = ()
    abnormal: tuple[str, ...] = ()
    could_not_check: tuple[str, ...] = ()


def _service(node: ev.StorageNode) -> str:
    service = node.service
    if service is None:
        return "no cinder-volume service in Cinder"
    seen = f", updated {service.updated_at:%H:%M:%S}Z" if service.updated_at else ""
    return f"cinder-volume {service.state}/{service.status}{seen}"


def storage_probes(got: EvidenceMap) -> StorageFacts:
    """Step 7: the storage node of each volume backend, its service and its units."""
    nodes = got.get(ev.StorageNodes)
    if not isinstance(nodes, ev.StorageNodes):
        return StorageFacts()
    parts, abnormal, unchecked = [], [], []
    for node in nodes.nodes:
        text = f"storage node {node.node} ({node.backend}): {_service(node)}"
        if node.units is not None:
            stopped = [u for u, s in node.units.items() if s != "active"]
            text += "; " + (
                f"{', '.join(stopped)} not active" if stopped else "units active"
            )
            abnormal += [f"{u} on {node.node} is {node.units[u]}" for u in stopped]
        parts.append(text)
        if node.service is None:
            abnormal.append(f"Cinder lists no cinder-volume service for {node.backend}")
        elif node.service.state != "up":
            abnormal.append(f"cinder-volume for {node.backend} is {node.service.state}")
        if node.unchecked:
            unchecked.append(node.unchecked)
    unchecked += [
        f"could not check: volume {v}: {why}" for v, why in nodes.unmapped.items()
    ]
    return StorageFacts(
        parts=tuple(parts), abnormal=tuple(abnormal), could_not_check=tuple(unchecked)
    )


def storage_logs(got: EvidenceMap) -> StorageFacts:
    """Step 8: the cinder-volume log lines read on each storage node."""
    logs = got.get(ev.StorageNodeLogs)
    if not isinstance(logs, ev.StorageNodeLogs):
        return StorageFacts()
    parts, abnormal = [], []
    for node in logs.nodes:
        lines = [ln for ln in logs.lines if ln.source.startswith(f"{node}:")]
        errors = [ln for ln in lines if (ln.level or "") in ("ERROR", "CRITICAL")]
        parts.append(f"{node} (cinder-volume): {len(lines)} lines")
        if errors:
            abnormal.append(f"{node}: {len(errors)} cinder-volume ERROR lines")
    if logs.truncated:  # the cap is disclosed, never "N lines" alone
        parts.append(f"cinder-volume logs: {logs.shown()}")
    return StorageFacts(
        parts=tuple(parts),
        abnormal=tuple(abnormal),
        could_not_check=tuple(logs.unchecked.values()),
    )

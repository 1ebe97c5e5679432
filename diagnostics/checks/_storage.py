"""Pure helpers for the storage checks: the VM's cinder-volume backends, which are down,
what the storage nodes' cinder-volume logs say, and what could not be looked at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from diagnostics import signatures as sig
from diagnostics.evidence.storage_commands import backend_of
from diagnostics.evidence.types import (
    LogLine,
    Server,
    ServiceInfo,
    StorageNodeLogs,
    StorageNodes,
    Volumes,
    VolumeServices,
)
from diagnostics.model import Citation

_TEXT_MAX = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeHit:
    """A cinder-volume backend error in a storage node's log."""

    node: str
    path: str
    line: LogLine
    text: str  # the matched message


@dataclass(frozen=True, slots=True, kw_only=True)
class DownBackend:
    """A cinder-volume backend that is not running: Cinder reports its service down, or
    its unit on the storage node is not active."""

    backend: str
    why: str  # "state down, last report 2026-11-25 18:40:02Z" / "pf9-cindervolume-base failed"
    cite: Citation

    @property
    def node(self) -> str:
        return self.backend.partition("@")[0]

    def describe(self) -> str:
        return f"cinder-volume for {self.backend} is down ({self.why})"


def backends_of(
    server: Server, volumes: Volumes | None, nodes: StorageNodes | None
) -> frozenset[str]:
    """The cinder-volume service hosts (``host@backend``) holding the VM's volumes."""
    found = {n.backend for n in nodes.nodes} if nodes is not None else set()
    for volume in volumes.volumes if volumes is not None else ():
        if server.volume_ids and volume.id not in server.volume_ids:
            continue
        parsed = backend_of(volume.backend_host)
        if parsed is not None:
            found.add(parsed[0])
    return frozenset(found)


def down_backends(
    mine: frozenset[str],
    services: VolumeServices | None,
    nodes: StorageNodes | None,
) -> list[DownBackend]:
    """Down cinder-volume services: of the VM's backends when known, else any.

    With the VM's backends unknown a down service may belong to another backend; the
    caller says so (``attributed``) and concludes less from it.
    """
    rows: dict[str, tuple[ServiceInfo, Citation]] = {}
    if nodes is not None:
        for node in nodes.nodes:
            if node.service is not None:
                rows[node.backend] = (node.service, _cite(nodes, node.service))
    for service in services.services if services is not None else ():
        if service.binary == "cinder-volume" and service.host not in rows:
            assert services is not None
            rows[service.host] = (service, _cite(services, service))
    down = [
        DownBackend(backend=backend, why=_state(service), cite=cite)
        for backend, (service, cite) in sorted(rows.items())
        if service.state != "up" and (not mine or backend in mine)
    ]
    known = {d.backend for d in down}
    for node in nodes.nodes if nodes is not None else ():
        stopped = {u: s for u, s in (node.units or {}).items() if s != "active"}
        if stopped and node.backend not in known:
            text = ", ".join(f"{unit} {state}" for unit, state in stopped.items())
            assert nodes is not None
            cite = Citation(source=nodes.call_with(f"{node.node}$ "), text=text)
            down.append(DownBackend(backend=node.backend, why=text, cite=cite))
    return down


def _state(service: ServiceInfo) -> str:
    seen = service.updated_at
    when = f", last report {seen:%Y-%m-%d %H:%M:%S}Z" if seen else ""
    return f"state {service.state}, {service.status}{when}"


def _cite(evidence: StorageNodes | VolumeServices, service: ServiceInfo) -> Citation:
    seen = (
        f", updated_at {service.updated_at:%Y-%m-%dT%H:%M:%S}Z"
        if service.updated_at
        else ""
    )
    return Citation(
        source=evidence.call_with("os-services"),
        text=f"{service.binary} {service.host}: state {service.state}, "
        f"status {service.status}{seen}",
    )


def backend_hits(logs: StorageNodeLogs | None) -> list[NodeHit]:
    """cinder-volume backend errors in the storage nodes' logs, in log order."""
    hits: list[NodeHit] = []
    for line, m in logs.matching(sig.CINDER_BACKEND) if logs is not None else ():
        node, _, rest = line.source.partition(":")
        path = rest.rpartition(":")[0] or rest
        hits.append(NodeHit(node=node, path=path, line=line, text=balanced(m)))
    return hits


def balanced(m: re.Match[str]) -> str:
    """The matched message, its parenthesis closed where the signature stopped short."""
    text = m.group(0).strip()[:_TEXT_MAX]
    if text.count("(") > text.count(")"):
        text = text.rstrip(".") + ")"
    return text


def storage_caveats(
    mine: frozenset[str], nodes: StorageNodes | None, logs: StorageNodeLogs | None
) -> list[str]:
    """The rival explanations on the storage side that could not be ruled out, each with
    why it could not be looked at."""
    rivals: list[str] = []
    down = "a down cinder-volume for"
    if nodes is None:
        rivals.append(
            f"{down} the volume's backend: the storage nodes were not looked up"
        )
    else:
        rivals += [
            f"{down} volume {volume_id}'s backend: {why}"
            for volume_id, why in nodes.unmapped.items()
        ]
        rivals += [
            f"{down} {node.backend}: Cinder lists no cinder-volume service for it"
            for node in nodes.nodes
            if node.service is None
        ]
    error = "a backend error in the cinder-volume log on"
    if logs is None:
        rivals.append(f"{error} {unread_where(mine)} (the log was not read)")
    else:
        rivals += [f"{error} {n} ({why})" for n, why in logs.unchecked.items()]
    return rivals


def unread_where(mine: frozenset[str]) -> str:
    """The storage nodes of the VM's backends, for "the log on … was not read"."""
    return ", ".join(sorted({b.partition("@")[0] for b in mine})) or "the storage node"

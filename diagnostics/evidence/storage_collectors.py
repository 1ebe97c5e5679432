"""Steps 7-8 for volume-backed VMs: the storage nodes holding the VM's volumes.

The runbook: "If the VM has attached volumes, verify the Cinder volume service on the node
holding the persistent storage role" (step 7) and "locate the storage host to check the
Cinder logs" (step 8). Each attached volume's backend is its ``os-vol-host-attr:host``
(admin only; ``storage-01@lvm#LVM``), cross-checked with Cinder's ``GET /os-services``
(cinder-volume ``storage-01@lvm``: up/down, enabled/disabled, updated_at). Over SSH, with
the hypervisors' rules (read-only, every argument quoted, output capped on the host): the
cinder-volume units on each node, and its cinder-volume log searched by request id and
volume id within the failed action's window.

A node that cannot be reached, a name that is not a host name, or a log that cannot be
read is "could not check: <why>; needs <access>", never a finding about the cloud.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from functools import partial

from diagnostics.evidence import host_commands as cmd
from diagnostics.evidence.base import CollectContext, CollectorError, collector, once
from diagnostics.evidence.executors import Family
from diagnostics.evidence.host_common import guarded, host_shell, refused, where
from diagnostics.evidence.host_logs import request_ids
from diagnostics.evidence.log_lines import parse_log_lines, within
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.openstack_calls import ApiCall, provenance
from diagnostics.evidence.openstack_convert import service_from_sdk
from diagnostics.evidence.redact import redact
from diagnostics.evidence.ssh import CommandResult, HostShell
from diagnostics.evidence.storage_commands import (
    backend_of,
    grep_cinder_log,
    parse_grep_errors,
)
from diagnostics.evidence.types import (
    LogLine,
    ServiceInfo,
    StorageNode,
    StorageNodeLogs,
    StorageNodes,
    Unavailable,
)
from diagnostics.evidence.urls import segment

# a storage node's name comes from Cinder; it still goes to SSH only if it is a host name
_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$")
_LOOKUP = "storage.backends"
_ADMIN_HOST = (
    "needs admin role (os-vol-host-attr:host is admin-only) or the volume has no host"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Lookup:
    """The VM's volumes grouped by cinder-volume backend, and that backend's service rows."""

    backends: dict[str, list[str]]  # storage-01@lvm -> volume ids
    unmapped: dict[str, str]  # volume id -> why its backend is unknown
    services: tuple[ServiceInfo, ...] | None  # None: os-services could not be read
    services_problem: str = ""
    calls: tuple[ApiCall, ...] = field(default_factory=tuple)


async def _lookup(ctx: CollectContext) -> _Lookup | Unavailable:
    api: OpenStackApi | None = getattr(ctx.clients, "openstack", None)
    if api is None:
        return Unavailable(reason="the OpenStack API is not configured")
    backends: dict[str, list[str]] = {}
    unmapped: dict[str, str] = {}
    calls: tuple[ApiCall, ...] = ()

    async def host_of(volume_id: str) -> tuple[str | None, tuple[ApiCall, ...]]:
        volume, more = await api.call(
            "GET /volumes/{id}",
            partial(api.conn.block_storage.get_volume, segment(volume_id)),
            family=Family.CINDER,
        )
        host = getattr(volume, "host", None)
        return (host if isinstance(host, str) else None), more

    ids = ctx.server.volume_ids
    found = await asyncio.gather(*(host_of(v) for v in ids), return_exceptions=True)
    for volume_id, got in zip(ids, found, strict=True):
        if isinstance(got, CollectorError):
            unmapped[volume_id] = got.reason
            continue
        if isinstance(got, BaseException):
            raise got
        host, more = got
        calls += more
        parsed = backend_of(host)
        if parsed is None:
            unmapped[volume_id] = _ADMIN_HOST
        else:
            backends.setdefault(parsed[0], []).append(volume_id)
    services: tuple[ServiceInfo, ...] | None = None
    problem = ""
    if backends:
        try:
            found, more = await api.call(
                "GET /os-services (block storage)",
                lambda: list(api.conn.block_storage.services(binary="cinder-volume")),
                family=Family.CINDER,
            )
            calls += more
            services = tuple(service_from_sdk(s) for s in found)
        except CollectorError as err:
            problem = err.reason
    if not backends and unmapped and len(unmapped) == len(ctx.server.volume_ids):
        why = "; ".join(f"volume {v}: {r}" for v, r in unmapped.items())
        return Unavailable(reason=f"no storage node known for the VM's volumes: {why}")
    return _Lookup(
        backends=backends,
        unmapped=unmapped,
        services=services,
        services_problem=problem,
        calls=calls,
    )


async def _lookup_once(ctx: CollectContext) -> _Lookup | Unavailable:
    """One lookup per diagnosis, shared by the step-7 and step-8 collectors."""
    return await once(ctx, _LOOKUP, partial(_lookup, ctx))


def _needs_ssh(ctx: CollectContext, node: str) -> str:
    shell = host_shell(ctx)
    user = shell.settings.user if isinstance(shell, HostShell) else "the diagnosis user"
    return (
        f"SSH as {user} to the storage node {node} (ssh.hosts or ssh.host_pattern, "
        "its host key in ssh.known_hosts)"
    )


def _could_not(why: str, needs: str) -> str:
    return f"could not check: {why}; needs {needs}"


def _nodes(found: _Lookup) -> dict[str, list[str]]:
    """Node name -> volume ids (one node may serve several backends)."""
    nodes: dict[str, list[str]] = {}
    for backend, volume_ids in found.backends.items():
        node = backend.partition("@")[0]
        nodes.setdefault(node, []).extend(volume_ids)
    return nodes


# ---- step 7: the cinder-volume service of each backend, and its units on the node -------


async def _units(
    ctx: CollectContext, node: str
) -> tuple[dict[str, str] | None, str | None, str]:
    """(units, unchecked, provenance) of ``systemctl is-active`` on one storage node."""
    if not _HOST_NAME.match(node):
        return (
            None,
            _could_not(f"{node!r} is not a host name", "a storage node name"),
            "",
        )

    async def body(
        shell: HostShell, host: str
    ) -> tuple[CommandResult, str] | Unavailable:
        units = shell.settings.cinder_volume_units
        result = await shell.run(host, cmd.systemctl_is_active(units))
        if not result.stdout.strip():
            return refused(host, result) or Unavailable(
                reason=f"systemctl on {host} gave no answer",
                detail=redact(result.stderr),
            )
        return result, where(host, result)

    got = await guarded(ctx, node, "storage", body)
    if isinstance(got, Unavailable):
        what = f"the cinder-volume units on {node}"
        return None, _could_not(f"{what}: {got.reason}", _needs_ssh(ctx, node)), ""
    result, cited = got
    shell = host_shell(ctx)
    units = shell.settings.cinder_volume_units if isinstance(shell, HostShell) else ()
    return cmd.parse_is_active(units, result.stdout), None, cited


@collector(StorageNodes)
async def storage_nodes(ctx: CollectContext) -> StorageNodes | Unavailable:
    """Each backend of the VM's volumes with its cinder-volume service and node units."""
    found = await _lookup_once(ctx)
    if isinstance(found, Unavailable):
        return found
    probes = {node: asyncio.ensure_future(_units(ctx, node)) for node in _nodes(found)}
    cites = [provenance(found.calls, f"GET /servers/{ctx.server.id}: no volumes")]
    if found.services is None and found.backends:
        cites.append(f"GET /os-services (block storage): {found.services_problem}")
    nodes: list[StorageNode] = []
    for backend, volume_ids in sorted(found.backends.items()):
        node = backend.partition("@")[0]
        units, unchecked, cited = await probes[node]
        if cited and cited not in cites:
            cites.append(cited)
        service = next((s for s in found.services or () if s.host == backend), None)
        nodes.append(
            StorageNode(
                backend=backend,
                node=node,
                volume_ids=tuple(volume_ids),
                service=service,
                units=units,
                unchecked=unchecked,
            )
        )
    return StorageNodes(
        provenance="; ".join(cites), nodes=tuple(nodes), unmapped=found.unmapped
    )


# ---- step 8: the cinder-volume log on each node ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _NodeLog:
    node: str
    lines: tuple[LogLine, ...] = ()
    truncated: bool = False
    matched: int = 0
    at_least: bool = False
    read: bool = False  # at least one log file was searched
    unchecked: str | None = None
    provenance: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Hits:
    lines: list[LogLine]
    capped: bool  # a cap (matches per file, bytes) was hit
    matched: int  # lines that matched in all: counted on the node when capped
    at_least: bool  # ``matched`` is only a lower bound
    commands: tuple[str, ...]


async def _hits(
    shell: HostShell, host: str, grep: cmd.HostCommand, result: CommandResult
) -> _Hits:
    """The capped grep's lines, as the hypervisor log search reads them: at most the match
    cap per file built, each file's lines redacted together, and the total counted on the
    node (``grep -c``) when a cap cut the list."""
    s = shell.settings
    files = tuple(s.cinder_volume_logs)
    cut = result.truncated or (
        grep.byte_cap is not None
        and len(result.stdout.encode("utf-8", errors="replace")) >= grep.byte_cap
    )
    scan = cmd.scan_grep(result.stdout, files, cut=cut, per_file_cap=s.log_match_cap)
    seen = sum(scan.seen.values())
    capped = cut or any(n >= s.log_match_cap for n in scan.seen.values())
    commands: tuple[str, ...] = (where(host, result),)
    matched, at_least = seen, capped
    if capped:
        counted = await shell.run(host, cmd.grep_count(grep))
        counts = cmd.parse_grep_count(counted.stdout, files)
        commands += (where(host, counted),)
        total = sum(counts.values()) if counts else 0
        if counts is not None and not counted.truncated and total >= seen:
            matched, at_least = total, False
    by_file: dict[str, list[tuple[str, str]]] = {}
    for hit in scan.hits:
        by_file.setdefault(hit.path, []).append(
            (f"{host}:{hit.path}:{hit.lineno}", hit.text)
        )
    lines = [line for group in by_file.values() for line in parse_log_lines(group)]
    return _Hits(
        lines=lines,
        capped=capped,
        matched=matched,
        at_least=at_least,
        commands=commands,
    )


async def _node_log(ctx: CollectContext, node: str, volume_ids: list[str]) -> _NodeLog:
    if not _HOST_NAME.match(node):
        why = _could_not(f"{node!r} is not a host name", "a storage node name")
        return _NodeLog(node=node, unchecked=why)

    async def body(shell: HostShell, host: str) -> _NodeLog | Unavailable:
        s = shell.settings
        files = tuple(s.cinder_volume_logs)
        patterns = (*request_ids(ctx), *volume_ids, ctx.server.id)
        grep = grep_cinder_log(patterns, files, s.log_match_cap, s.log_byte_cap)
        result = await shell.run(host, grep)
        if (missing := refused(host, result)) is not None:
            return missing
        problems = parse_grep_errors(result.stderr)
        hits = await _hits(shell, host, grep, result)
        searched = [f for f in files if f not in problems.missing]
        read = bool(searched) and len(problems.unreadable) < len(searched)
        unchecked = None
        if problems.unreadable:
            unchecked = _could_not(
                f"the cinder-volume log on {host}: cannot read "
                + "; ".join(problems.unreadable),
                f"read access for {s.user} to the cinder-volume log "
                "(or ssh.sudo with a NOPASSWD rule for grep)",
            )
        elif not searched:
            unchecked = _could_not(
                f"the cinder-volume log on {host}: none of {', '.join(files)} exists",
                "the cinder-volume log path of this node in ssh.cinder_volume_logs",
            )
        return _NodeLog(
            node=node,
            lines=within(hits.lines, ctx.window),
            truncated=hits.capped,
            matched=hits.matched,
            at_least=hits.at_least,
            read=read,
            unchecked=unchecked,
            provenance="; ".join(hits.commands),
        )

    got = await guarded(ctx, node, "storage", body)
    if isinstance(got, Unavailable):
        what = f"the cinder-volume log on {node}"
        why = _could_not(f"{what}: {got.reason}", _needs_ssh(ctx, node))
        return _NodeLog(node=node, unchecked=why)
    return got


@collector(StorageNodeLogs)
async def storage_node_logs(ctx: CollectContext) -> StorageNodeLogs | Unavailable:
    """cinder-volume log lines on each storage node, by request id and volume id."""
    found = await _lookup_once(ctx)
    if isinstance(found, Unavailable):
        return found
    nodes = _nodes(found)
    if not nodes:
        return StorageNodeLogs(
            provenance=f"GET /servers/{ctx.server.id}: no volume on a known storage node",
            lines=(),
            nodes=(),
        )
    logs = await asyncio.gather(*(_node_log(ctx, n, v) for n, v in nodes.items()))
    unchecked = {log.node: log.unchecked for log in logs if log.unchecked}
    read = [log for log in logs if log.read]
    # a node that could not be read is in ``unchecked`` ("could not check: …; needs …"):
    # the step says so, and the checks see why the node's own error is missing
    return StorageNodeLogs(
        provenance="; ".join(log.provenance for log in read)
        or f"storage nodes {', '.join(nodes)}: not read",
        lines=tuple(line for log in read for line in log.lines),
        truncated=any(log.truncated for log in read),
        matched=sum(log.matched for log in read),
        matched_at_least=any(log.at_least for log in read),
        nodes=tuple(log.node for log in read),
        unchecked=unchecked,
    )

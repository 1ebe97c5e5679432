"""Step 4: the management plane's pods and its Nova log lines for this migration.

Self-hosted only. Reads the region namespace's pods, then the logs of the configured
deployments' pods (nova-api-osapi, nova-conductor, nova-scheduler), bounded by
``tail_lines`` and by ``since_seconds`` (or the failed action's window when known), and
keeps the lines that name the request id or the VM uuid, inside the window, redacted.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime

from diagnostics.evidence.base import CollectContext, CollectorError, collector
from diagnostics.evidence.host_logs import request_ids
from diagnostics.evidence.log_lines import parse_log_lines, within
from diagnostics.evidence.mgmt_plane import ManagementPlaneApi, PodStatus
from diagnostics.evidence.redact import redact
from diagnostics.evidence.types import (
    LogLine,
    LogLines,
    ManagementPlane,
    PodInfo,
    Unavailable,
)
from diagnostics.times import as_utc

MATCH_CAP = 500  # matched lines kept over all pods
_MIN_SINCE_S = 60


def _since_seconds(ctx: CollectContext, api: ManagementPlaneApi) -> int:
    """Back to the start of the failed action's window, else the configured bound."""
    if ctx.window is None:
        return api.settings.since_seconds
    start = as_utc(ctx.window[0])
    elapsed = (datetime.now(UTC) - start).total_seconds()
    return max(_MIN_SINCE_S, math.ceil(elapsed))


async def _pod_lines(
    api: ManagementPlaneApi, pod: PodStatus, wanted: tuple[str, ...], since: int
) -> tuple[list[LogLine], bool] | CollectorError:
    """Matching lines of one pod, and whether the tail bound may have cut older lines."""
    try:
        text = await api.logs(
            pod.name, api.settings.tail_lines, since, container=pod.container
        )
    except CollectorError as err:
        return err
    raw = text.splitlines()
    source = f"{pod.name} ({pod.container})" if pod.container else pod.name
    matched = [(source, ln) for ln in raw if any(w in ln for w in wanted)]
    return parse_log_lines(matched), len(raw) >= api.settings.tail_lines


@collector(ManagementPlane)
async def management_plane(ctx: CollectContext) -> ManagementPlane | Unavailable:
    """Pod status of the region namespace and Nova log lines for the migration."""
    if not ctx.self_hosted:
        return Unavailable(reason="management plane not reachable in SaaS mode")
    api = getattr(ctx.clients, "mgmt", None)
    if not isinstance(api, ManagementPlaneApi):
        return Unavailable(reason="management plane access is not configured")
    namespace = api.settings.namespace
    try:
        pods = await api.pods(namespace)
    except CollectorError as err:
        return Unavailable(reason=err.reason, detail=redact(err.detail))
    wanted = tuple(w for w in (*request_ids(ctx), ctx.server.id) if w)
    readable = [p for p in pods if p.deployment in api.settings.deployments]
    since = _since_seconds(ctx, api)
    results = await asyncio.gather(
        *(_pod_lines(api, p, wanted, since) for p in readable)
    )
    lines: list[LogLine] = []
    truncated = False
    notes = [f"GET /api/v1/namespaces/{namespace}/pods"]
    for pod, result in zip(readable, results, strict=True):
        if isinstance(result, CollectorError):
            notes.append(f"{pod.name}: {result.reason}")
            continue
        pod_lines, tail_hit = result
        lines.extend(pod_lines)
        truncated = truncated or tail_hit
        notes.append(f"GET /api/v1/namespaces/{namespace}/pods/{pod.name}/log")
    kept = within(lines, ctx.window)
    matched = len(kept)  # a lower bound when a pod's tail bound cut older lines
    if len(kept) > MATCH_CAP:
        kept = kept[:MATCH_CAP]
    return ManagementPlane(
        provenance="; ".join(notes),
        pods=tuple(
            PodInfo(
                name=p.name,
                deployment=p.deployment,
                phase=p.phase,
                ready=p.ready,
                restarts=p.restarts,
            )
            for p in pods
        ),
        logs=LogLines(
            provenance=f"pod logs in {namespace}",
            lines=kept,
            truncated=truncated or matched > MATCH_CAP,
            matched=matched,
            matched_at_least=truncated,
        ),
    )

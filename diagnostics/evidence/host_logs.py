"""Step 8: log lines on the source and destination hypervisors, searched on the host.

Two greps run on each host: fixed strings (the failed action's request id and the VM uuid)
over the configured logs plus the instance's qemu log, and the TLS failure signatures over
libvirtd.log (libvirtd logs no request id). Both are capped on the host (``-m`` matches
per file, ``head -c`` bytes) so a multi-GB log never crosses the wire. Lines are parsed,
redacted (each file's lines together, so a key logged over several lines is masked whole),
and kept only inside the failed action's time window when they carry a stamp.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from diagnostics.evidence import host_commands as cmd
from diagnostics.evidence.base import CollectContext, collector
from diagnostics.evidence.host_common import guarded
from diagnostics.evidence.log_lines import parse_log_lines, within
from diagnostics.evidence.redact import redact
from diagnostics.evidence.ssh import CommandResult, HostShell
from diagnostics.evidence.types import (
    DestHostLogs,
    HostLogs,
    LogLine,
    SourceHostLogs,
    Unavailable,
)

L = TypeVar("L", bound=HostLogs)


def request_ids(ctx: CollectContext) -> tuple[str, ...]:
    """Request ids of the migration under diagnosis (record and matched action)."""
    ids: list[str] = []
    if ctx.migration is not None and ctx.migration.request_id:
        ids.append(ctx.migration.request_id)
    action = ctx.actions.migration_action if ctx.actions is not None else None
    if action is not None and action.request_id:
        ids.append(action.request_id)
    return tuple(dict.fromkeys(ids))


def _hits(
    host: str,
    result: CommandResult,
    files: tuple[str, ...],
    match_cap: int,
    byte_cap: int,
) -> tuple[list[LogLine], bool]:
    """Parse one capped grep; the flag says a cap was (probably) hit."""
    cut = (
        len(result.stdout.encode("utf-8", errors="replace")) >= byte_cap
        or result.truncated
    )
    hits = cmd.parse_grep(result.stdout, files, cut=cut)
    per_file: dict[str, int] = {}
    for hit in hits:
        per_file[hit.path] = per_file.get(hit.path, 0) + 1
    capped = cut or any(n >= match_cap for n in per_file.values())
    by_file: dict[str, list[tuple[str, str]]] = {}
    for hit in hits:  # grep -H prints each file's hits together, in file order
        by_file.setdefault(hit.path, []).append(
            (f"{host}:{hit.path}:{hit.lineno}", hit.text)
        )
    lines = [line for group in by_file.values() for line in parse_log_lines(group)]
    return lines, capped


async def _host_logs(
    kind: type[L], ctx: CollectContext, shell: HostShell, host: str
) -> L | Unavailable:
    s = shell.settings
    files = list(s.log_files)
    # a libvirt domain name never holds "/"; one that does must not steer grep elsewhere
    if ctx.server.instance_name and "/" not in ctx.server.instance_name:
        files.append(f"{s.qemu_log_dir.rstrip('/')}/{ctx.server.instance_name}.log")
    patterns = (*request_ids(ctx), ctx.server.id)
    by_id = cmd.grep_fixed(patterns, files, s.log_match_cap, s.log_byte_cap)
    by_signature = cmd.grep_signatures(cmd.LIBVIRTD_SIGNATURES, [s.libvirtd_log])
    fixed, signatures = await asyncio.gather(
        shell.run(host, by_id), shell.run(host, by_signature)
    )
    if fixed.stderr.strip().startswith("sudo:"):
        return Unavailable(
            reason=f"sudo refused on {host}", detail=fixed.stderr.strip()[:500]
        )
    id_lines, id_capped = _hits(
        host, fixed, tuple(files), s.log_match_cap, s.log_byte_cap
    )
    sig_lines, sig_capped = _hits(
        host,
        signatures,
        (s.libvirtd_log,),
        cmd.SIGNATURE_MATCH_CAP,
        cmd.SIGNATURE_BYTE_CAP,
    )
    return kind(
        provenance=redact(f"{host}$ {fixed.command}; {host}$ {signatures.command}"),
        host=host,
        lines=within([*id_lines, *sig_lines], ctx.window),
        truncated=id_capped or sig_capped,
    )


@collector(SourceHostLogs)
async def source_host_logs(ctx: CollectContext) -> SourceHostLogs | Unavailable:
    return await guarded(
        ctx,
        ctx.source_host,
        "source",
        lambda s, h: _host_logs(SourceHostLogs, ctx, s, h),
    )


@collector(DestHostLogs)
async def dest_host_logs(ctx: CollectContext) -> DestHostLogs | Unavailable:
    return await guarded(
        ctx,
        ctx.dest_host,
        "destination",
        lambda s, h: _host_logs(DestHostLogs, ctx, s, h),
    )

"""Step 8: log lines on the source and destination hypervisors, searched on the host.

Two greps run on each host: fixed strings (the failed action's request id and the VM uuid)
over the configured logs plus the instance's qemu log, and the TLS failure signatures over
libvirtd.log (libvirtd logs no request id). Both are capped on the host (``-m`` matches
per file, ``head -c`` bytes) so a multi-GB log never crosses the wire, and again on the
receive side (a host that ignores the caps is cut off at the byte cap, and lines past the
match cap are only counted). When a cap was hit, ``grep -c`` counts the matches on the host
so the evidence says "showing 500 of 2,000,000 matching lines", never just "500 lines". Lines are parsed,
redacted (each file's lines together, so a key logged over several lines is masked whole),
and kept only inside the failed action's time window when they carry a stamp.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

from diagnostics.evidence import host_commands as cmd
from diagnostics.evidence.base import CollectContext, collector
from diagnostics.evidence.host_common import guarded
from diagnostics.evidence.log_lines import parse_log_lines, within
from diagnostics.evidence.redact import redact
from diagnostics.evidence.ssh import HostShell
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


@dataclass(frozen=True, slots=True)
class _Found:
    lines: list[LogLine]  # at most the match cap per file
    capped: bool  # a cap (matches per file, bytes) was hit
    matched: int  # lines that matched in all: counted on the host when capped
    at_least: bool  # ``matched`` is only a lower bound (the count failed or was cut)
    commands: tuple[str, ...]
    # what grep said it could not search: unreadable is "could not check", never 0 lines
    errors: cmd.GrepErrors


async def _search(
    shell: HostShell,
    host: str,
    search: cmd.HostCommand,
    files: tuple[str, ...],
    match_cap: int,
) -> _Found | Unavailable:
    """One capped grep; when it hit a cap, a ``grep -c`` says how many lines matched."""
    result = await shell.run(host, search)
    if result.stderr.strip().startswith("sudo:"):
        return Unavailable(
            reason=f"sudo refused on {host}", detail=result.stderr.strip()[:500]
        )
    cut = result.truncated or (
        search.byte_cap is not None
        and len(result.stdout.encode("utf-8", errors="replace")) >= search.byte_cap
    )
    scan = cmd.scan_grep(result.stdout, files, cut=cut, per_file_cap=match_cap)
    seen = sum(scan.seen.values())
    capped = cut or any(n >= match_cap for n in scan.seen.values())
    commands: tuple[str, ...] = (f"{host}$ {result.command}",)
    matched, at_least = seen, capped
    if capped:
        counted = await shell.run(host, cmd.grep_count(search))
        counts = cmd.parse_grep_count(counted.stdout, files)
        commands += (f"{host}$ {counted.command}",)
        total = sum(counts.values()) if counts else 0
        if counts is not None and not counted.truncated and total >= seen:
            matched, at_least = total, False
    by_file: dict[str, list[tuple[str, str]]] = {}
    for hit in scan.hits:  # grep -H prints each file's hits together, in file order
        by_file.setdefault(hit.path, []).append(
            (f"{host}:{hit.path}:{hit.lineno}", hit.text)
        )
    lines = [line for group in by_file.values() for line in parse_log_lines(group)]
    errors = cmd.parse_grep_errors(result.stderr, files)
    return _Found(lines, capped, matched, at_least, commands, errors)


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
        _search(shell, host, by_id, tuple(files), s.log_match_cap),
        _search(shell, host, by_signature, (s.libvirtd_log,), cmd.SIGNATURE_MATCH_CAP),
    )
    if isinstance(fixed, Unavailable):
        return fixed
    if isinstance(signatures, Unavailable):
        return signatures
    found = (fixed, signatures)
    unreadable = tuple(dict.fromkeys(p for f in found for p in f.errors.unreadable))
    readable = set(files) - set(fixed.errors.unreadable) - set(fixed.errors.missing)
    if fixed.errors.unreadable and not readable:
        # nothing could be read: "0 lines" would be a lie that rules causes out
        return Unavailable(
            reason=f"could not read the logs on {host} as {s.user}: "
            + ", ".join(f"{p}: Permission denied" for p in unreadable)
            + "; needs ssh.sudo: true with a NOPASSWD rule for grep, or read access "
            "(e.g. group adm) for the diagnosis user",
        )
    return kind(
        provenance=redact("; ".join(c for f in found for c in f.commands)),
        host=host,
        lines=within([*fixed.lines, *signatures.lines], ctx.window),
        truncated=any(f.capped for f in found),
        matched=sum(f.matched for f in found),
        matched_at_least=any(f.at_least for f in found),
        unreadable=tuple(f"{p}: Permission denied" for p in unreadable),
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
    """The failed move's destination's lines, even with ``--target-host``: they are
    searched for that move's request id and window, which is where its failure was
    logged; the target host never saw that request."""
    failed_at = ctx.migration.dest_host if ctx.migration is not None else None
    return await guarded(
        ctx,
        failed_at or ctx.dest_host,
        "destination",
        lambda s, h: _host_logs(DestHostLogs, ctx, s, h),
    )

"""Log lines as the real daemons write them, and ``{placeholder}`` text of an outcome."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sim.region.state import RegionState, RenderedLogLine
from sim.scenario.model import LogLine
from sim.scenario.times import resolve_time

_LEVEL_LIBVIRT = {"DEBUG": "debug", "INFO": "info", "WARNING": "warning"}


class _Keep(dict[str, str]):
    """format_map mapping that leaves unknown {placeholders} untouched."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_text(text: str, context: Mapping[str, Any]) -> str:
    """Substitute ``{placeholders}`` from context; unknown ones stay as written."""
    values = _Keep({k: "" if v is None else str(v) for k, v in context.items()})
    try:
        return string.Formatter().vformat(text, (), values)
    except (ValueError, IndexError):
        # text with stray braces (a JSON snippet in a log line) is left as written
        return text


def _pid(owner: str, path: str) -> int:
    """A stable, plausible process id for the daemon writing ``path`` on ``owner``."""
    digest = hashlib.sha256(f"{owner}:{path}".encode()).digest()
    return 1000 + int.from_bytes(digest[:2], "big") % 30000


def render_log_line(
    host_or_pod: str,
    path: str,
    line: LogLine,
    context: Mapping[str, Any],
    now: datetime,
) -> RenderedLogLine:
    """Render one LogLine in the format the real daemon writes (docs/host-commands.md).

    - paths containing ``libvirtd``: ``2026-11-25 19:02:11.498+0000: 2211: error : <text>``;
      a logger of the form ``func:line`` is written before the text as libvirt does;
    - paths containing ``/qemu/``: ``2026-11-25T19:02:11.498571Z <text>``;
    - everything else (ostackhost.log, pod logs) is oslo.log with the request context
      ``[req-… <user> <project> - - default default]`` and ``[instance: <uuid>]`` (not in
      cinder-volume's log, whose ``request_id`` may hold Nova's global id and its own).
    """
    at = resolve_time(line.at, now)
    text = render_text(line.text, context)
    pid = _pid(host_or_pod, path)
    if "libvirtd" in path:
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
        level = _LEVEL_LIBVIRT.get(line.level, "error")
        func = f"{line.logger} : " if ":" in line.logger else ""
        return RenderedLogLine(at=at, text=f"{stamp}: {pid}: {level} : {func}{text}")
    if "/qemu/" in path:
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}Z"
        return RenderedLogLine(at=at, text=f"{stamp} {text}")
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"
    if line.request_id:
        req = render_text(line.request_id, context)
        user = context.get("user_id") or "-"
        project = context.get("project_id") or "-"
        ctx = f"[{req} {user} {project} - - default default]"
    else:
        ctx = "[-]"
    instance = ""
    # cinder-volume logs no "[instance: …]" (its lines name the volume in the message)
    cinder = "cindervolume" in path or "cinder-volume" in path
    if context.get("server_id") and "[instance:" not in text and not cinder:
        instance = f"[instance: {context['server_id']}] "
    return RenderedLogLine(
        at=at, text=f"{stamp} {pid} {line.level} {line.logger} {ctx} {instance}{text}"
    )


def add_log_lines(
    state: RegionState, owner: str, path: str, lines: list[RenderedLogLine]
) -> None:
    """Append rendered lines to a host file or (``mgmt:<deployment>``) a pod stream."""
    if owner.startswith("mgmt:"):
        stream = state.pod_logs.setdefault(owner.removeprefix("mgmt:"), [])
    else:
        stream = state.host_logs.setdefault(owner, {}).setdefault(path, [])
    stream.extend(lines)
    stream.sort(key=lambda rendered: rendered.at)

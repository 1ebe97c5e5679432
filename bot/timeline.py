"""``migrate-diag history --case ID``: one case's timeline, and its text for Slack."""

from __future__ import annotations

import sys

from bot.settings import BotSettings
from bot.store.repo import Store
from bot.store.resolution_repo import Resolution, resolution_of
from bot.store.timeline_repo import TimelineEntry, timeline


def entry_line(entry: TimelineEntry, *, slack: bool = False) -> str:
    """``2026-12-01 22:40:03  <who>  kind  text`` (``<@U…>`` mentions when for Slack)."""
    who = entry.actor or "bot"
    if slack and entry.actor:
        who = f"<@{entry.actor}>"
    return f"{entry.at:%Y-%m-%d %H:%M:%S}  {who}  {entry.kind}: {entry.text}"


def state_line(resolution: Resolution | None) -> str:
    if resolution is None:
        return "open"
    if not resolution.resolved:
        return "open (reopened)"
    return f"resolved at {resolution.at:%Y-%m-%d %H:%M} UTC: {resolution.reason}"


async def print_timeline(settings: BotSettings, case_id: str) -> int:
    """Print the case's timeline, oldest first; 1 when the case is unknown."""
    store = await Store.open(settings.store.url)
    try:
        case = await store.get_case(case_id)
        if case is None:
            sys.stderr.write(f"no case {case_id!r} in the store\n")
            return 1
        entries = await timeline(store, case_id)
        resolution = await resolution_of(store, case_id)
    finally:
        await store.close()
    out = [f"case {case.id}  vm {case.vm_name}  {state_line(resolution)}"]
    out += [entry_line(e) for e in entries]
    sys.stdout.write("\n".join(out) + "\n")
    return 0

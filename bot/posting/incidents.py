"""The parent message of a storm incident: the live breakdown by cause.

The members are diagnosed one by one and grouped by :class:`bot.posting.storm.StormBoard`
(one reply per cause in the parent's thread); this module renders the parent ("1,000 VMs
failed: 990 `libvirt_tls` on cmp-a-02 — …; 10 `insufficient_resources` — …") and hands its
refreshes to the board, which spends Slack's update budget.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.posting.storm import Storm, StormBoard, breakdown_text
from bot.posting.writer import SlackWriter
from bot.rendering import fit, md
from bot.store.incident_repo import IncidentView, StormAxis
from bot.textsafe import code_span, plain

BREAKDOWN_ROWS = 20  # causes named in the parent; each has its reply in the thread
_AXIS_LABEL = {
    StormAxis.SOURCE_HOST: "source host",
    StormAxis.DEST_HOST: "destination host",
    StormAxis.CAUSE: "cause",
}


def incident_title(view: IncidentView) -> str:
    noun = "migration" if view.count == 1 else "migrations"
    key = view.key
    return f"{view.count} failed {noun} sharing {_AXIS_LABEL[key.axis]} {key.value}"


def render_storm_parent(storm: Storm) -> tuple[list[dict[str, Any]], str]:
    """Blocks and fallback text of the incident parent, within Slack's limits."""
    rows = storm.breakdown()
    lines = [f"• *{count:,}* {label}" for count, label in rows[:BREAKDOWN_ROWS]]
    if len(rows) > BREAKDOWN_ROWS:
        lines.append(f"• … {len(rows) - BREAKDOWN_ROWS} more causes in the thread")
    pending = max(storm.expected, storm.settled) - storm.settled
    if pending > 0:
        lines.append(f"• {pending:,} still being diagnosed")
    resolved = f" · {storm.resolved:,} resolved" if storm.resolved else ""
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"Migration storm: {storm.title}", 150)),
        SectionBlock(text=md(breakdown_text(storm).split(":", 1)[0] + ":")),
        SectionBlock(text=md("\n".join(lines) or "diagnosing…")),
        ContextBlock(
            elements=[
                md(
                    f"Incident {code_span(storm.incident_id)} opened {storm.opened_at} UTC"
                    f"{resolved} · one reply per cause in this thread · any VM: "
                    "`@migrate-diag show <vm>` in the thread · updated live"
                )
            ]
        ),
    ]
    return fit(blocks), breakdown_text(storm)


def _storm_of(view: IncidentView, parent_ts: str = "") -> Storm:
    return Storm(
        channel=view.channel,
        parent_ts=parent_ts,
        incident_id=view.id,
        opened_at=f"{view.opened_at:%Y-%m-%d %H:%M:%S}",
        expected=view.count,
        title=incident_title(view),
        resolved=_resolved(view),
    )


def _resolved(view: IncidentView) -> int:
    return view.resolved


def render_incident(view: IncidentView) -> tuple[list[dict[str, Any]], str]:
    """The parent as first posted (nothing diagnosed yet)."""
    return render_storm_parent(_storm_of(view))


class SlackIncidentPoster:
    """Posts incident parents (through the ordered writer); the board refreshes them."""

    def __init__(self, writer: SlackWriter, board: StormBoard) -> None:
        self.writer = writer
        self.board = board

    async def post_incident(self, view: IncidentView) -> str:
        blocks, text = render_incident(view)
        ts = await self.writer.post(view.channel, blocks, text)
        await self.update_board(view, ts, shown=True)
        return ts

    async def update_incident(self, view: IncidentView) -> None:
        """Coalesced: the board rewrites the parent when its update budget allows."""
        if view.parent_ts is not None:
            await self.update_board(view, view.parent_ts)

    async def update_board(
        self, view: IncidentView, parent_ts: str, *, shown: bool = False
    ) -> None:
        await self.board.expect(
            view.channel,
            parent_ts,
            count=view.count,
            title=incident_title(view),
            incident_id=view.id,
            opened_at=f"{view.opened_at:%Y-%m-%d %H:%M:%S}",
            resolved=_resolved(view),
            shown=shown,
        )

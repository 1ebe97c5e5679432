"""The parent message of a storm incident: live count and a table of the failed migrations.

Each VM's own diagnosis is posted in this parent's thread by ``SlackCasePoster``; this module
only writes and refreshes the parent (chat.postMessage once, then chat.update).
"""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, SectionBlock
from slack_sdk.web.async_client import AsyncWebClient

from bot.pacing import ChannelPacer
from bot.rendering import fit, md
from bot.store.incident_repo import (
    RESOLVED,
    IncidentMember,
    IncidentView,
    StormAxis,
)
from bot.textsafe import code_block, code_span, plain

TABLE_ROWS = 20  # rows shown in the parent; the thread has every VM
_AXIS_LABEL = {
    StormAxis.SOURCE_HOST: "source host",
    StormAxis.DEST_HOST: "destination host",
    StormAxis.CAUSE: "cause",
}
_STATUS = {
    "posted": "diagnosed",
    "posting": "diagnosing",
    "pending": "queued",
    RESOLVED: "✅ resolved",
}


def incident_title(view: IncidentView) -> str:
    noun = "migration" if view.count == 1 else "migrations"
    key = view.key
    return f"{view.count} failed {noun} sharing {_AXIS_LABEL[key.axis]} {key.value}"


def _row(member: IncidentMember) -> str:
    vm = (member.instance_uuid or "?")[:36]
    route = f"{member.source_host or '?'} -> {member.dest_host or '?'}"
    error = (member.error or "").split(":", 1)[0][:28]
    return f"{vm:<36}  {route[:32]:<32}  {_STATUS.get(member.status, member.status):<10}  {error}"


def incident_table(view: IncidentView) -> str:
    rows = [_row(m) for m in view.members[:TABLE_ROWS]]
    hidden = len(view.members) - TABLE_ROWS
    if hidden > 0:
        rows.append(f"… and {hidden} more in the thread")
    return "\n".join(rows) or "(no members yet)"


def _resolved(view: IncidentView) -> str:
    done = sum(1 for m in view.members if m.status == RESOLVED)
    return f" · {done} resolved" if done else ""


def render_incident(view: IncidentView) -> tuple[list[dict[str, object]], str]:
    """Blocks and fallback text of the incident parent, within Slack's limits."""
    title = incident_title(view)
    blocks = [
        HeaderBlock(text=plain(f"Migration storm: {title}", 150)),
        SectionBlock(
            text=md(
                f"Incident {code_span(view.id)} opened "
                f"{view.opened_at:%Y-%m-%d %H:%M:%S} UTC. "
                "Each VM is diagnosed in this thread."
            )
        ),
        SectionBlock(text=md(code_block(incident_table(view)))),
        ContextBlock(
            elements=[md(f"{view.count} VMs{_resolved(view)} · updated live")]
        ),
    ]
    return fit(blocks), title


class SlackIncidentPoster:
    """Posts and refreshes incident parents; paced like every other post in the channel."""

    def __init__(self, client: AsyncWebClient, pacer: ChannelPacer) -> None:
        self.client = client
        self.pacer = pacer

    async def post_incident(self, view: IncidentView) -> str:
        blocks, text = render_incident(view)
        await self.pacer.wait(view.channel)
        response = await self.client.chat_postMessage(
            channel=view.channel, blocks=blocks, text=text
        )
        return str(response["ts"])

    async def update_incident(self, view: IncidentView) -> None:
        if view.parent_ts is None:
            return
        blocks, text = render_incident(view)
        await self.client.chat_update(
            channel=view.channel, ts=view.parent_ts, blocks=blocks, text=text
        )

"""Claim: record who took the case and show it on the parent (its checklist kept).

A second claim by someone else does not take over silently: it is refused, and the clicker
is told who holds the case and since when, so they can talk to the holder. The same
person clicking twice is a no-op with a note.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case, tell
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import CLAIM
from bot.services import Services
from bot.textsafe import user_mention

_claiming: dict[str, asyncio.Lock] = {}  # one claim decision at a time per case


async def claim_case(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.CLAIM)
    if case is None:
        return
    async with _claiming.setdefault(case.id, asyncio.Lock()):
        case = await services.store.get_case(case.id) or case
        holder = case.claimed_by
        if holder == click.user:
            await tell(client, click, "You already hold this case.")
            return
        if holder is not None:
            since = f" since {case.claimed_at:%H:%M} UTC" if case.claimed_at else ""
            await tell(
                client,
                click,
                f"{user_mention(holder)} holds this case{since}. Ask them in the thread"
                " before taking it over; the claim stays theirs.",
            )
            return
        await services.store.claim(case.id, click.user)
    await poster.refresh_parent(case.id)
    thread = case.thread_ts or case.parent_ts
    if thread is not None:  # queued behind the case's steps and card
        await poster.writer.post(
            case.channel,
            None,
            f"🙋 {user_mention(click.user)} is on it.",
            thread_ts=thread,
        )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(CLAIM)
    async def on_claim(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            claim_case(services, poster, client, click), name=f"claim-{click.value}"
        )

"""Claim: record who took the case and show it on the parent."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import CLAIM
from bot.services import Services
from bot.textsafe import user_mention


async def claim_case(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.CLAIM)
    if case is None:
        return
    await services.store.claim(case.id, click.user)
    await poster.refresh_parent(case.id)
    await services.pacer.wait(case.channel)
    await client.chat_postMessage(
        channel=case.channel,
        thread_ts=case.thread_ts or case.parent_ts,
        text=f"🙋 {user_mention(click.user)} is on it.",
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

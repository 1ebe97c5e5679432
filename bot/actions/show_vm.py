"""One storm member's full diagnosis on demand: the group reply's "Show one VM" select."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, tell
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.posting.storm import SHOW_VM
from bot.services import Services


async def show_vm(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    refusal = await services.authz.check(
        Action.SHOW_EVIDENCE, click.user, click.channel
    )
    if refusal is not None:
        await tell(client, click, refusal.message)
        return
    problem = await poster.show_case(click.value)
    if problem is not None:
        await tell(client, click, problem)


def selected(body: dict[str, Any]) -> Click:
    """The click, its value being the picked option's (a case id)."""
    click = Click.of(body)
    option = body["actions"][0].get("selected_option") or {}
    return Click(
        user=click.user,
        channel=click.channel,
        message_ts=click.message_ts,
        value=str(option.get("value", "")),
    )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(SHOW_VM)
    async def on_show_vm(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = selected(body)
        services.tasks.spawn(
            show_vm(services, poster, client, click), name=f"show-{click.value}"
        )

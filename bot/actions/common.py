"""What every button needs: who clicked where, the authorization check, ephemeral replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.authz import Action
from bot.services import Services
from bot.store import CaseRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Click:
    user: str
    channel: str
    message_ts: str | None
    value: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        container = body.get("container") or {}
        return cls(
            user=str(body["user"]["id"]),
            channel=str(
                (body.get("channel") or {}).get("id") or container.get("channel_id", "")
            ),
            message_ts=container.get("message_ts"),
            value=str(action.get("value", "")),
        )


async def tell(client: AsyncWebClient, click: Click, text: str) -> None:
    """An ephemeral note to the person who clicked."""
    await client.chat_postEphemeral(channel=click.channel, user=click.user, text=text)


async def allowed_case(
    services: Services, client: AsyncWebClient, click: Click, action: Action
) -> CaseRecord | None:
    """The clicked case if the user may act on it; otherwise tell them why and return None."""
    refusal = await services.authz.check(action, click.user, click.channel)
    if refusal is not None:
        await tell(client, click, refusal.message)
        return None
    case = await services.store.get_case(click.value)
    if case is None:
        await tell(client, click, "This case is no longer in the store.")
    return case

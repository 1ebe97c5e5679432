"""``@migrate-diag show <vm>`` in a storm's thread: that VM's full diagnosis, there."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services

# "<@U0BOT> show web-02": the mention, the verb, one VM name or uuid (no spaces)
_SHOW = re.compile(r"^\s*(?:<@[A-Z0-9]+>\s*)?show\s+(\S{1,255})\s*$", re.IGNORECASE)
USAGE = "Usage, in a storm's thread: `@migrate-diag show <vm name or uuid>`"


def parse_show(text: str) -> str | None:
    """The VM named by a mention, or None when it is not a ``show`` request."""
    match = _SHOW.match(text)
    return match[1] if match else None


async def show_in_thread(
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    event: dict[str, Any],
) -> None:
    channel, user = str(event.get("channel", "")), str(event.get("user", ""))
    thread = event.get("thread_ts")

    async def tell(text: str) -> None:
        await client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread
        )

    refusal = await services.authz.check(Action.SHOW_EVIDENCE, user, channel)
    if refusal is not None:
        await tell(refusal.message)
        return
    vm = parse_show(str(event.get("text", "")))
    if vm is None or thread is None:
        await tell(USAGE)
        return
    case = await services.store.find_in_thread(channel, str(thread), vm)
    if case is None:
        await tell(f"No VM named {vm!r} in this thread's storm.")
        return
    problem = await poster.show_case(case.id)
    if problem is not None:
        await tell(problem)


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        services.tasks.spawn(
            show_in_thread(services, poster, client, event),
            name=f"mention-{event.get('ts')}",
        )

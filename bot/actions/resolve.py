"""Resolve (a short reason, asked in a modal) and Reopen: close a case by hand, or undo it.

Resolve opens a modal with the click's ``trigger_id`` (``views.open``); the reason comes
back as a ``view_submission``, which is authorised again (the modal may have been open a
while, the rule may have changed) before anything is written. Both answers go to the
parent (re-rendered) and the thread; the case's timeline has them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, SectionBlock
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case, tell
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.posting.resolution import SlackResolutionPoster
from bot.rendering import REOPEN, RESOLVE, md, resolved_line
from bot.services import Services
from bot.store import CaseRecord
from bot.store.resolution_repo import reopen, resolution_of, resolve
from bot.textsafe import code_span, plain

log = logging.getLogger(__name__)

MODAL = "diag.resolve-modal"
REASON_BLOCK = "reason"
REASON_INPUT = "reason"
REASON_MAX = 300


def resolve_modal(case: CaseRecord, channel: str) -> View:
    return View(
        type="modal",
        callback_id=MODAL,
        title="Resolve case",
        submit="Resolve",
        close="Cancel",
        private_metadata=json.dumps({"case": case.id, "channel": channel}),
        blocks=[
            SectionBlock(
                text=md(
                    f"Close case {code_span(case.id, 80)} for VM"
                    f" {code_span(case.vm_name, 120)} by hand. Reopen undoes it."
                )
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why is it resolved?",
                element=PlainTextInputElement(
                    action_id=REASON_INPUT,
                    placeholder="e.g. moved by hand to cmp-b-03 after the cert renewal",
                    min_length=3,
                    max_length=REASON_MAX,
                ),
            ),
        ],
    )


async def resolve_by_user(
    services: Services,
    poster: SlackCasePoster,
    case: CaseRecord,
    user: str,
    reason: str,
) -> str:
    """Resolve the case for ``user``; returns what to tell them."""
    if poster.is_running(case.id):
        return "This case is being diagnosed right now; resolve it when that finishes."
    resolution = await resolve(services.store, case.id, reason=reason, by=user)
    if resolution is None:
        earlier = await resolution_of(services.store, case.id)
        assert earlier is not None
        return "Already resolved. " + plain(resolved_line(earlier), 600)
    await SlackResolutionPoster(poster).show_resolved(case, resolution)
    return "Resolved."


async def reopen_by_user(
    services: Services, poster: SlackCasePoster, case: CaseRecord, user: str
) -> str:
    if await reopen(services.store, case.id, by=user) is None:
        return "This case is not resolved; nothing to reopen."
    await SlackResolutionPoster(poster).show_reopened(case, user)
    return "Reopened."


async def open_resolve_modal(
    services: Services, client: AsyncWebClient, click: Click, trigger_id: str
) -> None:
    case = await allowed_case(services, client, click, Action.RESOLVE)
    if case is None:
        return
    earlier = await resolution_of(services.store, case.id)
    if earlier is not None and earlier.resolved:
        await tell(client, click, "Already resolved. " + resolved_line(earlier))
        return
    try:
        await client.views_open(
            trigger_id=trigger_id, view=resolve_modal(case, click.channel)
        )
    except SlackApiError as exc:  # expired_trigger_id: Slack allows 3 s
        log.warning("views.open for %s failed: %s", case.id, exc.response.get("error"))
        await tell(client, click, "Could not open the Resolve dialog; click again.")


async def submit_resolution(
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    user: str,
    view: dict[str, Any],
) -> None:
    meta = json.loads(view.get("private_metadata") or "{}")
    case_id, channel = str(meta.get("case", "")), str(meta.get("channel", ""))
    value = view["state"]["values"][REASON_BLOCK][REASON_INPUT].get("value") or ""
    click = Click(user=user, channel=channel, message_ts=None, value=case_id)
    case = await allowed_case(services, client, click, Action.RESOLVE)
    if case is None:
        return
    await tell(
        client, click, await resolve_by_user(services, poster, case, user, value)
    )


async def reopen_case(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.RESOLVE)
    if case is None:
        return
    await tell(client, click, await reopen_by_user(services, poster, case, click.user))


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(RESOLVE)
    async def on_resolve(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            open_resolve_modal(services, client, click, str(body["trigger_id"])),
            name=f"resolve-{click.value}",
        )

    @app.view(MODAL)
    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        reason = view["state"]["values"][REASON_BLOCK][REASON_INPUT].get("value")
        if not reason or len(reason.strip()) < 3:
            await ack(
                response_action="errors",
                errors={REASON_BLOCK: "Say in a few words why it is resolved."},
            )
            return
        await ack()
        services.tasks.spawn(
            submit_resolution(services, poster, client, str(body["user"]["id"]), view),
            name="resolve-submit",
        )

    @app.action(REOPEN)
    async def on_reopen(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            reopen_case(services, poster, client, click), name=f"reopen-{click.value}"
        )

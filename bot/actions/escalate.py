"""Escalate: page on-call through PagerDuty, mention the on-call group, record it.

Once per case: while an accepted escalation exists, another click (by anyone) only tells
the clicker who escalated and when; no second page, no second hand-off. A page PagerDuty
did not accept can be tried again. The event links the Slack thread (chat.getPermalink)
and the runbook.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, allowed_case, tell
from bot.authz import Action
from bot.cards import handoff_summary, render_handoff
from bot.escalation import dedup_key_for
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import ESCALATE, fit
from bot.services import Services
from bot.store import CaseRecord
from bot.textsafe import user_mention

log = logging.getLogger(__name__)
_escalating: dict[str, asyncio.Lock] = {}  # one page decision at a time per case


async def _links(
    services: Services, client: AsyncWebClient, case: CaseRecord
) -> tuple[tuple[str, str], ...]:
    links: list[tuple[str, str]] = []
    if case.parent_ts is not None:
        try:
            response = await client.chat_getPermalink(
                channel=case.channel, message_ts=case.parent_ts
            )
            links.append((str(response["permalink"]), "Slack thread"))
        except Exception as exc:  # the page matters more than its link
            log.warning("no permalink for case %s: %s", case.id, exc)
    runbook = services.settings.deployment.runbook_url
    if runbook:
        links.append((runbook, "Runbook"))
    return tuple(links)


async def escalate_case(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    case = await allowed_case(services, client, click, Action.ESCALATE)
    if case is None:
        return
    async with _escalating.setdefault(case.id, asyncio.Lock()):
        done = [e for e in await services.store.escalations(case.id) if e.accepted]
        if done:
            first = done[0]
            await tell(
                client,
                click,
                f"Already escalated by {user_mention(first.user_id)} at"
                f" {first.at:%Y-%m-%d %H:%M} UTC; on-call has been paged once.",
            )
            return
        await _page(services, poster, client, click, case)


async def _page(
    services: Services,
    poster: SlackCasePoster,
    client: AsyncWebClient,
    click: Click,
    case: CaseRecord,
) -> None:
    runs = await services.store.latest_runs(case.id, limit=1)
    diagnosis = runs[0].diagnosis if runs else None
    dedup_key = dedup_key_for(case.id)
    migration = diagnosis.migration if diagnosis else None
    result = await services.pager.trigger(
        dedup_key=dedup_key,
        summary=handoff_summary(diagnosis, case.vm_name),
        source=(
            migration.source_host
            if migration and migration.source_host
            else case.vm_name
        ),
        severity="error",
        custom_details={
            "case_id": case.id,
            "vm": case.vm_name,
            "vm_id": case.vm_id,
            "verdict": diagnosis.verdict if diagnosis else None,
            "migration_id": migration.id if migration else case.migration_id,
            "escalated_by_slack_user": click.user,
            "slack_channel": case.channel,
            "slack_thread_ts": case.thread_ts or case.parent_ts,
        },
        links=await _links(services, client, case),
    )
    await services.store.record_escalation(
        case.id, user_id=click.user, dedup_key=dedup_key, status=result.status
    )
    blocks = render_handoff(
        diagnosis,
        case_id=case.id,
        vm_name=case.vm_name,
        escalated_by=click.user,
        oncall_group=services.settings.escalation.oncall_group,
        status=result.status,
    )
    thread = case.thread_ts or case.parent_ts
    if thread is not None:  # queued behind the case's steps and card
        await poster.writer.post(
            case.channel,
            fit(blocks),
            f"Escalated case {case.id} to on-call",
            thread_ts=thread,
        )


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(ESCALATE)
    async def on_escalate(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            escalate_case(services, poster, client, click),
            name=f"escalate-{click.value}",
        )

"""Show evidence: the full report of one run as a file in the case's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.common import Click, tell
from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.rendering import SHOW_EVIDENCE
from bot.services import Services
from diagnostics.model import Diagnosis
from diagnostics.report import text


def evidence_report(d: Diagnosis) -> str:
    """The whole diagnosis as text, with every evidence line and its source."""
    lines = [text.render(d, colour=False), "", "== Evidence =="]
    for finding in (*((d.root_cause,) if d.root_cause else ()), *d.other_findings):
        lines.append(f"-- {finding.root_cause.value}: {finding.title}")
        lines.extend(f"[{c.source}]\n    {c.text}" for c in finding.evidence)
    return "\n".join(lines) + "\n"


async def show_evidence(
    services: Services, poster: SlackCasePoster, client: AsyncWebClient, click: Click
) -> None:
    refusal = await services.authz.check(
        Action.SHOW_EVIDENCE, click.user, click.channel
    )
    if refusal is not None:
        await tell(client, click, refusal.message)
        return
    run = await services.store.get_run(click.value)
    case = await services.store.get_case(run.case_id) if run else None
    if run is None or case is None:
        await tell(client, click, "This run is no longer in the store.")
        return
    thread = case.thread_ts or case.parent_ts
    if thread is None:
        await tell(client, click, "This case has no thread to put the evidence in.")
        return

    async def upload() -> None:
        # the file's message counts against the channel's posting limit like any other
        async with poster.writer.pacer.slot(case.channel):
            await client.files_upload_v2(
                channel=case.channel,
                thread_ts=thread,
                content=evidence_report(run.diagnosis),
                filename=f"migrate-diag-{run.id}.txt",
                title=f"Evidence for {case.vm_name} ({run.id})",
            )

    # in the thread's order: after the steps and the card it is evidence for
    await poster.writer.submit(case.channel, thread, upload)


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    @app.action(SHOW_EVIDENCE)
    async def on_show_evidence(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = Click.of(body)
        services.tasks.spawn(
            show_evidence(services, poster, client, click),
            name=f"evidence-{click.value}",
        )

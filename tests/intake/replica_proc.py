"""One bot replica as its own process (``python -m tests.intake.replica_proc``) for the
kill -9 and start-together tests: the real store (PostgreSQL), case runner and Slack poster
against the local Slack stand-in; only the diagnosis is scripted (it takes ``--work-s``).

Prints ``ready <owner>`` once its store is open and its dispatcher runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace

from pydantic import SecretStr

from bot.app import build_client, build_services
from bot.cases.manager import CaseManager
from bot.posting.case_poster import SlackCasePoster
from bot.posting.incidents import SlackIncidentPoster
from bot.settings import BotSettings
from bot.store.repo import Store
from diagnostics.model import (
    Diagnosis,
    DiagnosisFinished,
    DiagnosisStarted,
    MigrationRef,
    StepFinished,
)
from diagnostics.registry import STEP_TITLES
from tests.bot.support import scripted_diagnosis

log = logging.getLogger("replica")


class SlowDiagnoser:
    """Real progress events for a canned diagnosis, spread over ``work_s`` seconds."""

    def __init__(self, work_s: float) -> None:
        self.work_s = work_s

    async def diagnose(self, ref: MigrationRef, on_event: object = None) -> Diagnosis:
        d = replace(scripted_diagnosis(ref.server), id=f"diag-{ref.server}")
        emit = on_event if callable(on_event) else None
        if emit is not None:
            await emit(
                DiagnosisStarted(
                    diagnosis_id=d.id,
                    vm=d.vm,
                    migration=d.migration,
                    steps=tuple(STEP_TITLES.items()),
                )
            )
        for step in d.steps:
            # the diagnosis's own duration: what the process is doing when it is killed
            await asyncio.sleep(self.work_s / len(d.steps))
            if emit is not None:
                await emit(StepFinished(diagnosis_id=d.id, step=step))
        if emit is not None:
            await emit(DiagnosisFinished(diagnosis=d))
        return d


def settings(args: argparse.Namespace) -> BotSettings:
    return BotSettings.model_validate(
        {
            "slack": {
                "default_channel": "C-OPS",
                "api_base_url": args.slack,
                "update_interval_s": 0.05,
                "retry_backoff_s": 0.01,
                # the stand-in is started with room to spare: pacing is not under test
                "post_rate_per_s": 50,
                "post_burst": 50,
            },
            "store": {"url": args.store},
            "intake": {
                "storms": {"group_wait_s": 0, "max_concurrent": args.max_concurrent},
                "lease_s": args.lease_s,
                "heartbeat_s": args.heartbeat_s,
            },
        }
    )


async def main(args: argparse.Namespace) -> None:
    config = settings(args)
    store = await Store.open(args.store)
    client = build_client(config, SecretStr("xoxb-replica"))
    services = build_services(
        config,
        diagnoser=SlowDiagnoser(args.work_s),
        store=store,
        client=client,
        routing_key=None,
    )
    poster = SlackCasePoster(client, services)
    cases = CaseManager(
        config,
        store,
        poster,
        SlackIncidentPoster(client, services.pacer),
        owner=args.owner,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(cases.run(stop, poll_s=0.1))
    sys.stdout.write(f"ready {args.owner}\n")
    sys.stdout.flush()
    await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--slack", required=True)
    parser.add_argument("--owner", required=True)
    parser.add_argument("--work-s", type=float, default=2.0)
    parser.add_argument("--lease-s", type=float, default=2.0)
    parser.add_argument("--heartbeat-s", type=float, default=0.4)
    parser.add_argument("--max-concurrent", type=int, default=2)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main(parser.parse_args()))

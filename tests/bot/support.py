"""Test helpers: a local PagerDuty endpoint, a scripted diagnoser, starting the real bot."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.app import RunningBot, Secrets, build_client, build_services, start_bot
from bot.pacing import ChannelPacer
from bot.services import Diagnoser, OnEvent
from bot.settings import BotSettings, EscalationSettings, SlackSettings, StoreSettings
from bot.store import Store
from diagnostics.model import (
    Citation,
    Confidence,
    Diagnosis,
    DiagnosisFinished,
    DiagnosisStarted,
    Finding,
    MigrationKind,
    MigrationRef,
    MigrationSummary,
    Place,
    Remedy,
    RemedyKind,
    RootCauseId,
    RunsOn,
    Severity,
    StepFinished,
    StepResult,
    StepStatus,
    VmNotFound,
    VmSummary,
)
from diagnostics.registry import STEP_TITLES
from tests.fakeslack import FakeSlack

SECRETS = Secrets(
    bot_token=SecretStr("xoxb-test-token"),
    app_token=SecretStr("xapp-test-token"),
    signing_secret=SecretStr("test-signing-secret"),
    routing_key=SecretStr("R" * 32),
)


class PagerDutyEndpoint:
    """A local Events v2 endpoint that answers 202 and keeps what it received.

    ``failures`` are answered first, one per request (429 with Retry-After: 0, or a 5xx).
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures: list[int] = []
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _enqueue(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.failures:
            status = self.failures.pop(0)
            headers = {"Retry-After": "0"} if status == 429 else {}
            return web.json_response(
                {"status": "throttled" if status == 429 else "error"},
                status=status,
                headers=headers,
            )
        self.events.append(await request.json())
        return web.json_response(
            {"status": "success", "message": "Event processed"}, status=202
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v2/enqueue"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def scripted_diagnosis(
    vm_name: str,
    *,
    failing_step: int = 7,
    verdict: RootCauseId = RootCauseId.LIBVIRT_TLS,
) -> Diagnosis:
    steps = tuple(
        StepResult(
            number=n,
            title=title,
            status=StepStatus.FAILED if n == failing_step else StepStatus.PASSED,
            summary=f"step {n} looked",
        )
        for n, title in STEP_TITLES.items()
    )
    finding = Finding(
        root_cause=verdict,
        check_id="libvirt.tls-connect",
        title="Destination libvirt TLS certificate expired",
        confidence=Confidence.CONFIRMED,
        severity=Severity.ERROR,
        summary="The certificate of cmp-a-02 expired.",
        evidence=(
            Citation(
                source="cmp-a-01:/var/log/libvirt/libvirtd.log:12",
                text="certificate expired",
            ),
        ),
        remediation=(
            Remedy(
                kind=RemedyKind.CHECK,
                on=RunsOn(place=Place.HOST, name="cmp-a-02"),
                command="openssl x509 -noout -enddate -in /etc/pki/libvirt/servercert.pem",
                why="The certificate's end date.",
            ),
        ),
    )
    return Diagnosis(
        id="diag-scripted",
        vm=VmSummary(id="vm-uuid-1", name=vm_name, status="ACTIVE", host="cmp-a-01"),
        migration=MigrationSummary(
            id="42",
            uuid="mig-uuid",
            kind=MigrationKind.LIVE,
            block_migration=False,
            status="failed",
            source_host="cmp-a-01",
            dest_host="cmp-a-02",
            request_id="req-1",
        ),
        steps=steps,
        root_cause=finding,
        other_findings=(),
        checks=(),
        started_at=datetime.now(UTC),
        duration_ms=5,
    )


@dataclass
class ScriptedDiagnoser:
    """NOT the engine: emits real ProgressEvents for a canned Diagnosis (unit/HTTP tests)."""

    known: set[str] = field(default_factory=lambda: {"web-02"})
    calls: list[MigrationRef] = field(default_factory=list)

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        self.calls.append(ref)
        if ref.server not in self.known and ref.server != "vm-uuid-1":
            raise VmNotFound(ref.server)
        d = replace(scripted_diagnosis("web-02"), id=f"diag-{len(self.calls)}")
        if on_event is not None:
            await on_event(
                DiagnosisStarted(
                    diagnosis_id=d.id,
                    vm=d.vm,
                    migration=d.migration,
                    steps=tuple(STEP_TITLES.items()),
                )
            )
            for step in d.steps:
                await on_event(StepFinished(diagnosis_id=d.id, step=step))
            await on_event(DiagnosisFinished(diagnosis=d))
        return d


def bot_settings(
    fake: FakeSlack,
    tmp_path: Path,
    pagerduty: PagerDutyEndpoint,
    *,
    base: BotSettings | None = None,
    mode: str = "socket",
    **sections: Any,
) -> BotSettings:
    base = base or BotSettings()
    return base.model_copy(
        update={
            "slack": SlackSettings(
                mode=mode,
                api_base_url=fake.api_url,
                update_interval_s=0.05,
                retry_backoff_s=0.01,
            ),  # type: ignore[arg-type]
            "store": StoreSettings(
                url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite'}"
            ),
            "escalation": EscalationSettings(
                pagerduty_url=pagerduty.url,
                oncall_group="S0ONCALL1",
                retry_backoff_s=0.01,
            ),
            **sections,
        }
    )


async def launch(
    settings: BotSettings,
    diagnoser: Diagnoser,
    fake: FakeSlack,
    *,
    pacer: ChannelPacer | None = None,
) -> tuple[RunningBot, Store]:
    """Start the real Bolt app against the stand-in (Socket Mode, or HTTP on a free port).

    The pacer is a fast one unless given (the stand-in's default limits are 20/s, burst 5).
    """
    client = build_client(settings, SECRETS.bot_token)
    store = await Store.open(settings.store.url)
    services = build_services(
        settings,
        diagnoser=diagnoser,
        store=store,
        client=client,
        routing_key=SECRETS.routing_key,
        pacer=pacer or ChannelPacer(rate_per_s=20, burst=5),
    )
    bot = await start_bot(services, client, SECRETS, http_host="127.0.0.1", http_port=0)
    if bot.http_port is not None:
        fake.http_target = f"http://127.0.0.1:{bot.http_port}/slack/events"
        fake.signing_secret = SECRETS.signing_secret.get_secret_value()  # type: ignore[union-attr]
    return bot, store

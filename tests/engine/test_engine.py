"""Engine behaviour with in-memory collectors and checks (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from diagnostics import remedies
from diagnostics.engine import Engine
from diagnostics.evidence import types as ev
from diagnostics.evidence.base import CollectContext, CollectorError
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    Concluded,
    DiagnosisFinished,
    DiagnosisStarted,
    Errored,
    MigrationKind,
    MigrationRef,
    MigrationSummary,
    Place,
    ProgressEvent,
    Remedy,
    RemedyKind,
    RootCauseId,
    RuledOut,
    RunsOn,
    Severity,
    Skipped,
    StepFinished,
    StepStatus,
)
from diagnostics.registry import CheckSpec, declare
from diagnostics.settings import DiagnosticsSettings, EngineSettings
from tests.engine.builders import actions, cpu, records, server

Collector = Callable[[CollectContext], Awaitable[Evidence | Unavailable]]


class FakeBootstrap:
    def __init__(self, *, status: str = "failed") -> None:
        self.status = status

    async def resolve_server(self, ref: MigrationRef) -> ev.Server:
        return server()

    async def migration_records(self, srv: ev.Server) -> ev.MigrationRecords:
        return records(status=self.status)

    async def instance_actions(
        self, srv: ev.Server, migration: MigrationSummary | None
    ) -> ev.InstanceActions:
        return actions()


def _settings(timeout: float = 5.0, mode: str = "self-hosted") -> DiagnosticsSettings:
    return DiagnosticsSettings.model_validate(
        {
            "engine": EngineSettings(collector_timeout_s=timeout).model_dump(),
            "deployment": {"mode": mode},
        }
    )


def _engine(
    collectors: dict[type[Evidence], Collector],
    checks: list[CheckSpec],
    *,
    timeout: float = 5.0,
    status: str = "failed",
    mode: str = "self-hosted",
) -> Engine:
    return Engine(
        settings=_settings(timeout, mode),
        bootstrap=FakeBootstrap(status=status),
        clients=None,
        collectors=collectors,
        checks=checks,
    )


def _spec(
    fn: Callable[..., object],
    check_id: str,
    *,
    priority: int = 100,
    step: int = 5,
    **kw: object,
) -> CheckSpec:
    meta: dict[str, object] = {
        "id": check_id,
        "title": f"title of {check_id}",
        "applies_to": set(MigrationKind),
        "root_cause": RootCauseId.CPU_INCOMPATIBLE,
        "priority": priority,
        "step": step,
        "summary": "found {what}",
        "remediation": (
            remedies.fix(
                remedies.host("{host}"), "systemctl restart {what}", "fix {what}"
            ),
        ),
    }
    meta.update(kw)
    return declare(fn, **meta)  # type: ignore[arg-type]


def dest_cpu_check(dest: ev.DestCpu) -> Concluded:
    """Concludes whenever the destination CPU is known."""
    return Concluded(facts={"what": dest.model, "host": dest.host})


def source_cpu_check(source: ev.SourceCpu) -> RuledOut:
    """Always rules out."""
    return RuledOut(reason="fine")


async def _collect_all(engine: Engine) -> tuple[list[ProgressEvent], object]:
    events: list[ProgressEvent] = []

    async def record(event: ProgressEvent) -> None:
        events.append(event)

    diagnosis = await engine.diagnose(MigrationRef(server="web-01"), record)
    return events, diagnosis


async def test_two_slow_collectors_run_concurrently() -> None:
    """Both collectors have started before either finishes: proven by the order of events."""
    order: list[str] = []
    both_started = asyncio.Event()

    def slow(name: str, value: Evidence) -> Collector:
        async def collect(ctx: CollectContext) -> Evidence:
            order.append(f"start {name}")
            if len([o for o in order if o.startswith("start")]) == 2:
                both_started.set()
            await (
                both_started.wait()
            )  # would deadlock (timeout) if they ran one after another
            order.append(f"end {name}")
            return value

        return collect

    engine = _engine(
        {
            ev.SourceCpu: slow("src", cpu(ev.SourceCpu)),
            ev.DestCpu: slow("dst", cpu(ev.DestCpu)),
        },
        [_spec(dest_cpu_check, "t.dest"), _spec(source_cpu_check, "t.src")],
        timeout=2.0,
    )
    _, diagnosis = await _collect_all(engine)
    assert order[:2] == ["start src", "start dst"] or order[:2] == [
        "start dst",
        "start src",
    ]
    assert diagnosis.root_cause is not None  # type: ignore[attr-defined]


async def test_collector_past_timeout_makes_its_step_error_and_others_complete() -> (
    None
):
    """A collector that never answers becomes `error` with the reason; other steps still pass."""
    never = asyncio.Event()

    async def hang(ctx: CollectContext) -> Evidence:
        await never.wait()
        raise AssertionError("unreachable")

    async def services(ctx: CollectContext) -> Evidence:
        return ev.ComputeServices(
            provenance="GET /os-services",
            services=tuple(
                ev.ServiceInfo(
                    binary="nova-compute",
                    host=h,
                    zone="az1",
                    status="enabled",
                    state="up",
                )
                for h in ("cmp-a-01", "cmp-b-01")
            ),
        )

    def needs_services(svc: ev.ComputeServices) -> RuledOut:
        """Rules out."""
        return RuledOut()

    def needs_cpu(dest: ev.DestCpu) -> Concluded:
        """Would conclude."""
        return Concluded(facts={"what": "x", "host": "y"})

    engine = _engine(
        {ev.DestCpu: hang, ev.ComputeServices: services},
        [_spec(needs_cpu, "t.cpu", step=5), _spec(needs_services, "t.svc", step=2)],
        timeout=0.05,
    )
    _, diagnosis = await _collect_all(engine)
    steps = {s.number: s for s in diagnosis.steps}  # type: ignore[attr-defined]
    assert steps[5].status is StepStatus.ERROR
    assert "timed out after 0.05s" in steps[5].summary
    assert steps[2].status is StepStatus.PASSED
    result = {c.check_id: c.outcome for c in diagnosis.checks}  # type: ignore[attr-defined]
    assert isinstance(result["t.cpu"], Skipped)
    assert "DestCpu" in result["t.cpu"].reason


async def test_check_that_raises_is_errored_and_nothing_else_is_affected() -> None:
    """One broken check is recorded as errored; the other check still concludes."""

    def broken(dest: ev.DestCpu) -> Concluded:
        """Raises."""
        raise KeyError("flags")

    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [_spec(broken, "t.broken"), _spec(dest_cpu_check, "t.good", priority=10)],
    )
    _, diagnosis = await _collect_all(engine)
    outcomes = {c.check_id: c.outcome for c in diagnosis.checks}  # type: ignore[attr-defined]
    assert isinstance(outcomes["t.broken"], Errored)
    assert "KeyError" in outcomes["t.broken"].error
    assert isinstance(outcomes["t.good"], Concluded)
    assert diagnosis.root_cause.check_id == "t.good"  # type: ignore[attr-defined]


async def test_missing_required_evidence_is_skipped_never_passed() -> None:
    """An unavailable collector skips the check and the step reports error, not passed."""

    async def refused(ctx: CollectContext) -> Evidence:
        raise CollectorError("host key of cmp-b-01 not in known_hosts")

    engine = _engine({ev.DestCpu: refused}, [_spec(dest_cpu_check, "t.cpu")])
    _, diagnosis = await _collect_all(engine)
    (result,) = diagnosis.checks  # type: ignore[attr-defined]
    assert isinstance(result.outcome, Skipped)
    assert "known_hosts" in result.outcome.reason
    step5 = next(s for s in diagnosis.steps if s.number == 5)  # type: ignore[attr-defined]
    assert step5.status is StepStatus.ERROR


async def test_ranking_picks_highest_priority_and_lists_the_rest() -> None:
    """The highest-priority ERROR conclusion is the root cause; others follow, warnings last."""

    def low(dest: ev.DestCpu) -> Concluded:
        """Low priority."""
        return Concluded(facts={"what": "low", "host": "h"})

    def high(dest: ev.DestCpu) -> Concluded:
        """High priority."""
        return Concluded(facts={"what": "high", "host": "h"})

    def warn(dest: ev.DestCpu) -> Concluded:
        """A warning with the highest priority still does not become the root cause."""
        return Concluded(facts={"what": "warn", "host": "h"})

    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [
            _spec(low, "t.low", priority=100, root_cause=RootCauseId.NO_VALID_HOST),
            _spec(high, "t.high", priority=500),
            _spec(
                warn,
                "t.warn",
                priority=900,
                severity=Severity.WARNING,
                root_cause=RootCauseId.STALE_LEFTOVERS,
            ),
        ],
    )
    _, diagnosis = await _collect_all(engine)
    assert diagnosis.root_cause.check_id == "t.high"  # type: ignore[attr-defined]
    assert diagnosis.root_cause.summary == "found high"  # type: ignore[attr-defined]
    assert diagnosis.root_cause.remediation == (  # type: ignore[attr-defined]
        Remedy(
            kind=RemedyKind.FIX,
            on=RunsOn(place=Place.HOST, name="h"),
            command="systemctl restart high",
            why="fix high",
        ),
    )
    assert [f.check_id for f in diagnosis.other_findings] == ["t.low", "t.warn"]  # type: ignore[attr-defined]


async def test_failed_migration_with_no_conclusion_is_unknown_with_raw_lines() -> None:
    """Nothing concluded on a failed migration: `unknown`, citing the failed event's details."""
    engine = _engine(
        {ev.SourceCpu: _const(cpu(ev.SourceCpu))}, [_spec(source_cpu_check, "t.src")]
    )
    _, diagnosis = await _collect_all(engine)
    assert diagnosis.root_cause.root_cause is RootCauseId.UNKNOWN  # type: ignore[attr-defined]
    texts = [c.text for c in diagnosis.root_cause.evidence]  # type: ignore[attr-defined]
    assert any("Unacceptable CPU info" in t for t in texts)


async def test_healthy_migration_has_no_root_cause() -> None:
    """A completed migration where nothing concludes gives no root cause at all."""
    engine = _engine(
        {ev.SourceCpu: _const(cpu(ev.SourceCpu))},
        [_spec(source_cpu_check, "t.src")],
        status="completed",
    )
    _, diagnosis = await _collect_all(engine)
    assert diagnosis.root_cause is None  # type: ignore[attr-defined]


async def test_events_stream_start_each_step_then_finish() -> None:
    """Progress: one start, eight step events (each step once), then the finished diagnosis."""
    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))}, [_spec(dest_cpu_check, "t.cpu")]
    )
    events, _ = await _collect_all(engine)
    assert isinstance(events[0], DiagnosisStarted)
    assert isinstance(events[-1], DiagnosisFinished)
    numbers = sorted(e.step.number for e in events if isinstance(e, StepFinished))
    assert numbers == list(range(1, 9))


async def test_saas_mode_skips_step_four_with_reason() -> None:
    """Without a reachable management plane, step 4 is skipped and says why."""
    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [_spec(dest_cpu_check, "t.cpu")],
        mode="saas",
    )
    _, diagnosis = await _collect_all(engine)
    step4 = next(s for s in diagnosis.steps if s.number == 4)  # type: ignore[attr-defined]
    assert step4.status is StepStatus.SKIPPED
    assert "SaaS" in step4.summary


async def test_check_not_applicable_to_the_kind_is_not_run() -> None:
    """A check declared for evacuation only is not evaluated for a live migration."""
    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [_spec(dest_cpu_check, "t.evac", applies_to={MigrationKind.EVACUATION})],
    )
    _, diagnosis = await _collect_all(engine)
    assert diagnosis.checks == ()  # type: ignore[attr-defined]


def _const(value: Evidence) -> Collector:
    async def collect(ctx: CollectContext) -> Evidence:
        return value

    return collect

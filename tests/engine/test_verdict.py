"""The verdict: ranking by confidence, causal links, validated input, honest conclusions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from diagnostics.engine import Engine
from diagnostics.evaluate import rank
from diagnostics.evidence import types as ev
from diagnostics.evidence.base import CollectContext
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    CheckResult,
    Concluded,
    Conclusion,
    Confidence,
    CouldNotCheck,
    Diagnosis,
    MigrationKind,
    MigrationRef,
    RootCauseId,
    StepRole,
    StepStatus,
    UnknownHost,
    UnknownMigration,
)
from diagnostics.registry import CheckSpec, declare
from tests.engine.builders import cpu
from tests.engine.test_engine import FakeBootstrap, _const, _settings


def _spec(fn: Callable[..., object], check_id: str, **kw: object) -> CheckSpec:
    meta: dict[str, object] = {
        "id": check_id,
        "title": f"title of {check_id}",
        "applies_to": set(MigrationKind),
        "root_cause": RootCauseId.CPU_INCOMPATIBLE,
        "priority": 100,
        "step": 5,
        "summary": "found",
        "remediation": (),
    } | kw
    return declare(fn, **meta)  # type: ignore[arg-type]


def _services(*hosts: str) -> ev.ComputeServices:
    return ev.ComputeServices(
        provenance="GET /os-services",
        services=tuple(
            ev.ServiceInfo(
                binary="nova-compute", host=h, zone="az1", status="enabled", state="up"
            )
            for h in hosts
        ),
    )


class Counting:
    """A collector that counts its calls (to prove nothing ran)."""

    def __init__(self, value: Evidence | Unavailable) -> None:
        self.value, self.calls = value, 0

    async def __call__(self, ctx: CollectContext) -> Evidence | Unavailable:
        self.calls += 1
        return self.value


def _engine(
    collectors: dict[type[Evidence], object],
    checks: list[CheckSpec],
    status: str = "failed",
) -> Engine:
    return Engine(
        settings=_settings(),
        bootstrap=FakeBootstrap(status=status),
        clients=None,
        collectors=collectors,  # type: ignore[arg-type]
        checks=checks,
    )


def concludes(confidence: Confidence) -> Callable[[ev.DestCpu], Concluded]:
    def check(dest: ev.DestCpu) -> Concluded:
        """Concludes at a fixed confidence."""
        return Concluded(confidence=confidence)

    return check


def _result(spec: CheckSpec, outcome: Concluded) -> CheckResult:
    return CheckResult(
        check_id=spec.id,
        title=spec.title,
        step=spec.step,
        root_cause=spec.root_cause,
        outcome=outcome,
    )


def test_confidence_orders_before_priority() -> None:
    """A confirmed low-priority cause beats a likely high-priority one."""
    high = _spec(concludes(Confidence.LIKELY), "t.high", priority=900,
                 root_cause=RootCauseId.LIBVIRT_TLS)  # fmt: skip
    low = _spec(concludes(Confidence.CONFIRMED), "t.low", priority=100)
    results = [
        _result(high, Concluded(confidence=Confidence.LIKELY)),
        _result(low, Concluded(confidence=Confidence.CONFIRMED)),
    ]
    primary, others = rank(results, {s.id: s for s in (high, low)})
    assert primary is not None
    assert primary.check_id == "t.low"
    assert [f.check_id for f in others] == ["t.high"]


def test_the_deeper_cause_is_primary_even_at_lower_confidence() -> None:
    """A confirmed symptom explained by a likely cause: the cause is primary, the symptom
    its consequence."""
    symptom = _spec(concludes(Confidence.CONFIRMED), "t.nvh",
                    root_cause=RootCauseId.NO_VALID_HOST)  # fmt: skip
    cause = _spec(concludes(Confidence.LIKELY), "t.down",
                  root_cause=RootCauseId.COMPUTE_SERVICE_DOWN)  # fmt: skip
    results = [
        _result(
            symptom,
            Concluded(
                confidence=Confidence.CONFIRMED,
                explained_by=frozenset({RootCauseId.COMPUTE_SERVICE_DOWN}),
            ),
        ),
        _result(cause, Concluded(confidence=Confidence.LIKELY)),
    ]
    primary, others = rank(results, {s.id: s for s in (symptom, cause)})
    assert primary is not None
    assert primary.root_cause is RootCauseId.COMPUTE_SERVICE_DOWN
    assert primary.explains == (RootCauseId.NO_VALID_HOST,)
    assert others[0].consequence_of is RootCauseId.COMPUTE_SERVICE_DOWN


def test_mutual_explanations_never_leave_no_primary() -> None:
    """Two findings that each name the other: neither is a consequence."""
    a = _spec(concludes(Confidence.LIKELY), "t.a", root_cause=RootCauseId.NO_VALID_HOST)
    b = _spec(concludes(Confidence.LIKELY), "t.b", root_cause=RootCauseId.PORT_BINDING)
    results = [
        _result(a, Concluded(explained_by=frozenset({RootCauseId.PORT_BINDING}))),
        _result(b, Concluded(explained_by=frozenset({RootCauseId.NO_VALID_HOST}))),
    ]
    primary, _ = rank(results, {s.id: s for s in (a, b)})
    assert primary is not None
    assert primary.consequence_of is None


async def test_unknown_target_host_is_a_usage_error_and_nothing_runs() -> None:
    """A typo'd --target-host raises UnknownHost before any evidence is collected."""
    probe = Counting(cpu(ev.DestCpu))
    services = Counting(_services("cmp-a-01", "cmp-b-01"))
    engine = _engine(
        {ev.DestCpu: probe, ev.ComputeServices: services},
        [_spec(concludes(Confidence.CONFIRMED), "t.cpu")],
    )
    with pytest.raises(UnknownHost, match="no compute host named 'nohost'") as err:
        await engine.diagnose(MigrationRef(server="web-01", target_host="nohost"))
    assert "cmp-b-01" in str(err.value)
    assert probe.calls == 0


@pytest.mark.parametrize(
    "host", ["cmp-a-02; reboot", "cmp-a-02 16514", "$(reboot)", "-oProxyCommand=x", ""]
)
async def test_hostile_target_host_is_refused_before_any_call(host: str) -> None:
    """Anything that is not a host name is refused before even asking Nova."""
    services = Counting(_services("cmp-a-02"))
    engine = _engine({ev.ComputeServices: services}, [])
    with pytest.raises(UnknownHost, match="is not a host name"):
        await engine.diagnose(MigrationRef(server="web-01", target_host=host))
    assert services.calls == 0


async def test_known_target_host_runs() -> None:
    """A host Nova knows is diagnosed; os-services is fetched once for the whole run."""
    services = Counting(_services("cmp-a-01", "cmp-b-01"))
    engine = _engine({ev.ComputeServices: services}, [])
    d = await engine.diagnose(MigrationRef(server="web-01", target_host="cmp-b-01"))
    assert d.target_host == "cmp-b-01"
    assert services.calls == 1


@pytest.mark.parametrize("migration", ["999", "12; rm", "not-a-uuid"])
async def test_unknown_migration_is_a_usage_error(migration: str) -> None:
    """--migration must name one of this VM's migrations (the builders' record is 7)."""
    engine = _engine({}, [])
    with pytest.raises(UnknownMigration):
        await engine.diagnose(MigrationRef(server="web-01", migration_id=migration))


async def test_completed_migration_is_never_reported_failed() -> None:
    """What concludes beside a completed migration is another finding, not its cause."""
    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [_spec(concludes(Confidence.CONFIRMED), "t.cpu")],
        status="completed",
    )
    d = await engine.diagnose(MigrationRef(server="web-01"))
    assert d.root_cause is None
    assert d.conclusion is Conclusion.NO_FAILURE
    assert [f.check_id for f in d.other_findings] == ["t.cpu"]


async def test_no_failure_only_when_the_steps_that_matter_ran() -> None:
    """A healthy-looking run whose probes could not run is inconclusive, and says why."""

    async def refused(ctx: CollectContext) -> Unavailable:
        return Unavailable(reason="sudo refused on cmp-b-01")

    def needs_cpu(dest: ev.DestCpu) -> Concluded:
        """Would conclude."""
        return Concluded()

    engine = _engine({ev.DestCpu: refused}, [_spec(needs_cpu, "t.cpu")], "running")
    d = await engine.diagnose(MigrationRef(server="web-01"))
    assert d.root_cause is None
    assert d.conclusion is Conclusion.INCONCLUSIVE
    assert any("sudo refused" in c for c in d.could_not_check)
    assert any("sudo" in n for n in d.next_steps)
    step5 = next(s for s in d.steps if s.number == 5)
    assert step5.status is StepStatus.ERROR


async def test_could_not_check_outcome_makes_its_step_error() -> None:
    """A check that could not check (its probe's own failure) never passes its step."""

    def own_failure(dest: ev.DestCpu) -> CouldNotCheck:
        """The probe failed for its own reasons."""
        return CouldNotCheck(why="cannot read the key", needs="sudo")

    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))}, [_spec(own_failure, "t.own")], "running"
    )
    d = await engine.diagnose(MigrationRef(server="web-01"))
    step5 = next(s for s in d.steps if s.number == 5)
    assert step5.status is StepStatus.ERROR
    assert "could not check: cannot read the key; needs sudo" in step5.summary
    assert d.conclusion is Conclusion.INCONCLUSIVE


async def test_cause_step_and_symptom_step_are_marked() -> None:
    """The step of the primary finding is the cause (failed); step 1 is the symptom."""
    engine = _engine(
        {ev.DestCpu: _const(cpu(ev.DestCpu))},
        [_spec(concludes(Confidence.CONFIRMED), "t.cpu", step=5)],
    )
    d: Diagnosis = await engine.diagnose(MigrationRef(server="web-01"))
    roles = {s.number: s.role for s in d.steps}
    assert roles[5] is StepRole.CAUSE
    assert roles[1] is StepRole.SYMPTOM
    assert next(s for s in d.steps if s.number == 5).status is StepStatus.FAILED
    assert d.conclusion is Conclusion.ROOT_CAUSE


def test_needs_any_skips_a_check_with_none_of_its_evidence() -> None:
    """`needs_any` declared in @check: with none of them the check is skipped, not run."""
    from diagnostics.evaluate import evaluate
    from tests.engine.builders import server

    called = []

    def check(server: ev.Server, dest: ev.DestCpu | None) -> Concluded:
        """Needs the destination CPU to say anything."""
        called.append(1)
        return Concluded()

    spec = _spec(check, "t.any", needs_any=(ev.DestCpu,))
    result = evaluate(
        spec, {ev.Server: server(), ev.DestCpu: Unavailable(reason="SSH timeout")}
    )
    assert not called
    assert "SSH timeout" in result.outcome.reason  # type: ignore[union-attr]


class UnreadableMigrations(FakeBootstrap):
    """Nova answers the server but not os-migrations (HTTP 500)."""

    async def migration_records(self, srv: ev.Server) -> Unavailable:  # type: ignore[override]
        return Unavailable(reason="GET /os-migrations failed with HTTP 500")


async def test_unreadable_migration_records_are_never_called_no_migration() -> None:
    """When os-migrations could not be read, the advice does not claim Nova recorded no
    migration (nor that the API refused the move): it says the records were unreadable."""
    engine = Engine(
        settings=_settings(),
        bootstrap=UnreadableMigrations(),
        clients=None,
        collectors={ev.DestCpu: _const(cpu(ev.DestCpu))},
        checks=[],
    )
    d = await engine.diagnose(MigrationRef(server="web-01"))
    assert d.conclusion is Conclusion.INCONCLUSIVE
    assert not any("recorded no migration" in n for n in d.next_steps), d.next_steps
    assert any(
        "migration records could not be read (GET /os-migrations failed with HTTP 500)"
        in n
        for n in d.next_steps
    ), d.next_steps

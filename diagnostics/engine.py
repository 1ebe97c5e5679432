"""plan -> collect -> evaluate -> conclude.

The engine resolves the VM and its migration (bootstrap), plans the evidence the applicable
checks need, collects it concurrently (each collector under a timeout), evaluates each
runbook step as soon as its evidence is in, and emits a progress event per step. A collector
that fails or times out makes its step ``error``; everything else still completes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from diagnostics.evaluate import evaluate, rank, unknown_finding
from diagnostics.evidence import types as ev
from diagnostics.evidence.base import (
    Bootstrap,
    CollectContext,
    Collector,
    CollectorError,
    needs_action,
)
from diagnostics.evidence.migration_context import action_window, summarize_migration
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    CheckResult,
    Citation,
    Diagnosis,
    DiagnosisFinished,
    DiagnosisStarted,
    MigrationKind,
    MigrationRef,
    MigrationSummary,
    ProgressEvent,
    StepFinished,
    StepResult,
    VmSummary,
)
from diagnostics.registry import CheckSpec
from diagnostics.request_graph import (
    ACTION,
    ACTIONS,
    DISCOVERY,
    MIGRATIONS,
    SERVER,
    RequestGraph,
    recording,
    stage,
)
from diagnostics.settings import DiagnosticsSettings
from diagnostics.signatures import raw_failure_lines
from diagnostics.step_facts import Step
from diagnostics.steps import build_step
from diagnostics.verdict import (
    conclude,
    validate_host_name,
    validate_migration,
    validate_target_host,
)

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Evidence)

OnEvent = Callable[[ProgressEvent], Awaitable[None]]
BOOTSTRAP_TYPES: frozenset[type[Evidence]] = frozenset(
    {ev.Server, ev.MigrationRecords, ev.InstanceActions}
)
SAAS_SKIP = "SaaS region: the management plane is run by Platform9 and its pods are not reachable"


class Engine:
    """Diagnoses one VM's migration. Holds no per-diagnosis state; safe to share."""

    def __init__(
        self,
        *,
        settings: DiagnosticsSettings,
        bootstrap: Bootstrap,
        clients: Any,
        collectors: Mapping[type[Evidence], Collector],
        checks: Sequence[CheckSpec],
        session: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        """``session``, when given, opens per-diagnosis clients (a fresh SSH pool, so no
        connection or cached failure outlives one diagnosis); else ``clients`` is used."""
        self.session = session
        self.settings = settings
        self.bootstrap = bootstrap
        self.clients = clients
        self.collectors = dict(collectors)
        disabled = set(settings.engine.disabled_checks)
        self.checks = tuple(c for c in checks if c.id not in disabled)
        self.specs = {c.id: c for c in self.checks}

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        """Run the whole diagnosis.

        Raises ``InvalidRequest`` (VmNotFound, AmbiguousVm, UnknownHost,
        UnknownMigration) before anything is collected, or CloudUnreachable.
        """
        if self.session is None:
            return await self._diagnose(ref, on_event, self.clients)
        async with self.session() as clients:
            return await self._diagnose(ref, on_event, clients)

    async def _diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None, clients: Any
    ) -> Diagnosis:
        with recording(RequestGraph()) as graph:
            return await self._diagnose_recorded(ref, on_event, clients, graph)

    async def _diagnose_recorded(
        self,
        ref: MigrationRef,
        on_event: OnEvent | None,
        clients: Any,
        graph: RequestGraph,
    ) -> Diagnosis:
        emit = on_event or _ignore
        started_at = datetime.now(UTC)
        t0 = time.perf_counter()
        diagnosis_id = uuid.uuid4().hex[:12]
        early: dict[type[Evidence], asyncio.Task[Evidence | Unavailable]] = {}
        # the bootstrap fetches os-services itself to validate a --target-host
        prefetched = {ev.ComputeServices} if ref.target_host is not None else set()

        def start_early(partial_ctx: CollectContext) -> None:
            """Once the migration record is in: start the collectors that never read
            the instance action, while the action's detail is still being fetched."""
            for t in self._plan(*self._applicable(ref, partial_ctx)):
                if t in prefetched:
                    continue
                collect = self.collectors.get(t)
                if collect is not None and not needs_action(collect):
                    early[t] = asyncio.create_task(self._collect(t, partial_ctx))

        try:
            notes: list[str] = []  # what the bootstrap could not verify
            ctx, got = await self._bootstrap(ref, clients, start_early, notes)
        except BaseException:
            for started in early.values():
                started.cancel()
            raise
        applicable, skip_management = self._applicable(ref, ctx)
        skips: dict[Step, str] = {}
        if skip_management:
            skips[Step.MANAGEMENT_PLANE] = SAAS_SKIP
            got[ev.ManagementPlane] = Unavailable(reason=SAAS_SKIP)
        # evidence the bootstrap already holds (os-services when validating a target)
        plan = [t for t in self._plan(applicable, skip_management) if t not in got]
        vm = VmSummary(
            id=ctx.server.id,
            name=ctx.server.name,
            status=ctx.server.status,
            host=ctx.server.host,
        )
        await emit(
            DiagnosisStarted(
                diagnosis_id=diagnosis_id,
                vm=vm,
                migration=ctx.migration,
                steps=tuple((int(s), s.title) for s in Step),
            )
        )
        for t in set(early) - set(plan):
            early.pop(t).cancel()
        tasks = {
            t: early.get(t) or asyncio.create_task(self._collect(t, ctx)) for t in plan
        }
        step_tasks = [
            asyncio.create_task(
                self._run_step(
                    step,
                    applicable,
                    plan,
                    tasks,
                    got,
                    ctx,
                    t0,
                    diagnosis_id,
                    emit,
                    skips.get(step),
                )
            )
            for step in Step
        ]
        try:
            step_outputs = await asyncio.gather(*step_tasks)
        finally:
            for task in [*tasks.values(), *step_tasks]:
                task.cancel()
        steps = tuple(sorted((s for s, _ in step_outputs), key=lambda s: s.number))
        results = tuple(r for _, rs in step_outputs for r in rs)
        for t, task in tasks.items():
            got[t] = task.result()
        primary, others = rank(results, self.specs)
        migration = ctx.migration
        verdict = conclude(
            ref=ref,
            migration=migration,
            primary=primary,
            others=others,
            steps=steps,
            results=results,
            specs=self.specs,
            unknown=lambda: unknown_finding(
                _raw_failure_lines(got),
                {
                    "server_id": ctx.server.id,
                    "request_id": (migration.request_id if migration else None) or "",
                },
            ),
            notes=notes,
            records_unread=_unread(got.get(ev.MigrationRecords)),
        )
        diagnosis = Diagnosis(
            id=diagnosis_id,
            vm=vm,
            migration=ctx.migration,
            steps=verdict.steps,
            root_cause=verdict.primary,
            other_findings=verdict.others,
            checks=results,
            started_at=started_at,
            duration_ms=int((time.perf_counter() - t0) * 1000),
            mode=self.settings.deployment.mode,
            target_host=ref.target_host,
            timing=graph.timing(),
            conclusion=verdict.conclusion,
            could_not_check=verdict.could_not_check,
            next_steps=verdict.next_steps,
        )
        await emit(DiagnosisFinished(diagnosis=diagnosis))
        return diagnosis

    async def _bootstrap(
        self,
        ref: MigrationRef,
        clients: Any,
        on_records: Callable[[CollectContext], None] = lambda _: None,
        notes: list[str] | None = None,
    ) -> tuple[CollectContext, dict[type[Evidence], Evidence | Unavailable]]:
        """Server, then its migration records and action list at once, then the action.

        ``on_records`` gets a context without the action as soon as the records are in,
        and only once what the operator named is validated: a ``--target-host`` Nova's
        compute services do not know, or a ``--migration`` that is not this VM's, raises
        ``InvalidRequest`` before any other collector starts (nothing runs on a host the
        operator mistyped). ``notes`` receives what could not be verified.
        """
        timeout = self.settings.engine.collector_timeout_s
        if ref.target_host is not None:
            validate_host_name(ref.target_host)  # the pattern, before any call
        with stage(SERVER):
            server = await self.bootstrap.resolve_server(ref)
        notes = notes if notes is not None else []
        extra: dict[type[Evidence], Evidence | Unavailable] = {}
        services_task = (
            asyncio.create_task(
                self._collect(
                    ev.ComputeServices, self._context(ref, server, None, None, clients)
                )
            )
            if ref.target_host is not None
            else None
        )
        # The migration records and the action list need only the server's id: both are
        # asked at once; only the matched action's detail waits for the records.
        with stage(MIGRATIONS, after=(SERVER,)):
            records_task = asyncio.create_task(
                _bounded(
                    self.bootstrap.migration_records(server), timeout, "migrations"
                )
            )

        async def migration_from_records() -> MigrationSummary | None:
            found = await records_task
            rec = found if isinstance(found, ev.MigrationRecords) else None
            return summarize_migration(server, rec, None, ref)

        with stage(ACTIONS, after=(SERVER,)):
            actions_task = asyncio.create_task(
                _bounded(
                    self.bootstrap.instance_actions(
                        server, asyncio.ensure_future(migration_from_records())
                    ),
                    timeout,
                    "instance actions",
                )
            )
        try:
            records = await records_task
            if ref.migration_id is not None:
                notes += validate_migration(ref.migration_id, records, server.name)
            if services_task is not None and ref.target_host is not None:
                services = extra[ev.ComputeServices] = await services_task
                notes += validate_target_host(ref.target_host, services)
            if isinstance(records, ev.MigrationRecords):
                # checks never see the context: tell them what the operator asked
                # about, and put the migration they named first (checks read it)
                chosen = [
                    r for r in records.records if ref.migration_id in (r.id, r.uuid)
                ]
                records = replace(
                    records,
                    records=(*chosen, *(r for r in records.records if r not in chosen)),
                    target_host=ref.target_host,
                    kind_hint=ref.kind.value if ref.kind else None,
                )
            rec = records if isinstance(records, ev.MigrationRecords) else None
            on_records(self._context(ref, server, rec, None, clients))
            actions = await actions_task
        finally:
            actions_task.cancel()
            if services_task is not None:
                services_task.cancel()
        act = actions if isinstance(actions, ev.InstanceActions) else None
        got: dict[type[Evidence], Evidence | Unavailable] = {
            ev.Server: server,
            ev.MigrationRecords: records,
            ev.InstanceActions: actions,
            **extra,
        }
        return self._context(ref, server, rec, act, clients), got

    def _context(
        self,
        ref: MigrationRef,
        server: ev.Server,
        rec: ev.MigrationRecords | None,
        act: ev.InstanceActions | None,
        clients: Any,
    ) -> CollectContext:
        migration = summarize_migration(server, rec, act, ref)
        window = None
        if act is not None and act.migration_action is not None:
            window = action_window(
                act.migration_action,
                self.settings.engine.log_window_margin_s,
                until=migration.updated_at if migration is not None else None,
            )
        return CollectContext(
            ref=ref,
            server=server,
            migrations=rec,
            actions=act,
            migration=migration,
            source_host=(migration.source_host if migration else None) or server.host,
            dest_host=ref.target_host or (migration.dest_host if migration else None),
            window=window,
            self_hosted=self.settings.self_hosted,
            clients=clients,
        )

    def _applicable(
        self, ref: MigrationRef, ctx: CollectContext
    ) -> tuple[list[CheckSpec], bool]:
        """The checks for this migration's kind, and whether step 4 is skipped (SaaS)."""
        kind = ref.kind or (ctx.migration.kind if ctx.migration else MigrationKind.LIVE)
        return [c for c in self.checks if kind in c.applies_to], not ctx.self_hosted

    def _plan(
        self, applicable: Sequence[CheckSpec], skip_management: bool
    ) -> list[type[Evidence]]:
        """The union of the applicable checks' evidence, minus what the bootstrap fetched."""
        needed: set[type[Evidence]] = set()
        for spec in applicable:
            needed |= spec.needs
        needed -= BOOTSTRAP_TYPES
        if skip_management:
            needed.discard(ev.ManagementPlane)
        return sorted(needed, key=lambda t: (t.STEP, t.__name__))

    async def _collect(
        self, evidence: type[Evidence], ctx: CollectContext
    ) -> Evidence | Unavailable:
        collect = self.collectors.get(evidence)
        if collect is None:
            return Unavailable(reason=f"no collector for {evidence.__name__}")
        timeout = self.settings.engine.collector_timeout_s
        # what the collector's requests needed: the server and its migration record, and
        # the matched action too unless the collector declared it never reads it
        after = (
            SERVER,
            MIGRATIONS,
            DISCOVERY,
            *((ACTIONS, ACTION) if needs_action(collect) else ()),
        )
        with stage(evidence.__name__, after=after):
            return await _bounded(collect(ctx), timeout, evidence.__name__)

    async def _run_step(
        self,
        number: Step,
        applicable: Sequence[CheckSpec],
        plan: Sequence[type[Evidence]],
        tasks: Mapping[type[Evidence], asyncio.Task[Evidence | Unavailable]],
        bootstrapped: Mapping[type[Evidence], Evidence | Unavailable],
        ctx: CollectContext,
        t0: float,
        diagnosis_id: str,
        emit: OnEvent,
        skip_reason: str | None,
    ) -> tuple[StepResult, list[CheckResult]]:
        checks = [c for c in applicable if c.step is number]
        early = [t for t in bootstrapped if number == t.STEP]
        own = [t for t in plan if number == t.STEP]
        wanted = set(own).union(*(c.needs for c in checks))
        got: dict[type[Evidence], Evidence | Unavailable] = dict(bootstrapped)
        for t in wanted - set(bootstrapped):
            got[t] = (
                await tasks[t]
                if t in tasks
                else Unavailable(reason="not collected here")
            )
        results = [evaluate(c, got) for c in checks]
        step = build_step(
            number,
            planned=[*own, *early],
            got=got,
            results=results,
            specs=self.specs,
            migration=ctx.migration,
            hosts=(ctx.source_host, ctx.dest_host),
            duration_ms=int((time.perf_counter() - t0) * 1000),
            skip_reason=skip_reason,
        )
        await emit(StepFinished(diagnosis_id=diagnosis_id, step=step))
        return step, results


async def _bounded(
    work: Awaitable[Evidence | Unavailable],
    timeout: float,  # noqa: ASYNC109 - applied with asyncio.timeout below
    what: str,
) -> Evidence | Unavailable:
    """Await a collector: a timeout or an error becomes ``Unavailable`` with the reason."""
    try:
        async with asyncio.timeout(timeout):
            return await work
    except TimeoutError:
        return Unavailable(reason=f"{what} timed out after {timeout:g}s")
    except CollectorError as exc:
        return Unavailable(reason=exc.reason, detail=exc.detail)
    except Exception as exc:
        # one line at the default level (the step shows the reason); the traceback
        # only when debugging (--verbose)
        log.warning(
            "collector for %s failed: %s: %s",
            what,
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return Unavailable(reason=f"{what} failed: {type(exc).__name__}: {exc}")


def _raw_failure_lines(
    got: Mapping[type[Evidence], Evidence | Unavailable],
) -> tuple[Citation, ...]:
    """For ``unknown``: the raw fault, failed events and error log lines, verbatim."""

    def pick(kind: type[E]) -> E | None:
        value = got.get(kind)
        return value if isinstance(value, kind) else None

    return raw_failure_lines(
        pick(ev.InstanceActions),
        pick(ev.Server),
        pick(ev.SourceHostLogs),
        pick(ev.DestHostLogs),
    )


async def _ignore(_: ProgressEvent) -> None:
    return None


def _unread(records: Evidence | Unavailable | None) -> str | None:
    """Why the migration records could not be read, or None when they were."""
    return records.reason if isinstance(records, Unavailable) else None

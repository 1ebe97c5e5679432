"""Poll ``GET /os-migrations`` for failed migrations: works with no message bus at all.

``changes-since`` is inclusive (``updated_at >= value``) and the API takes one ``status``
per request, so each failure status is polled on its own from the persisted watermark
minus an overlap; re-seen migrations are absorbed by the case dedupe. The SDK pages with
``limit``/``marker`` (microversion 2.59+). openstacksdk is blocking: calls run in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.cases.report import FailureReport, ReportSource
from bot.intake.sinks import ReportSink, Watermarks
from bot.times import parse_time, utcnow
from diagnostics.model import FAILED_MIGRATION_STATUSES, MigrationKind

log = logging.getLogger(__name__)

FAILURE_STATUSES = FAILED_MIGRATION_STATUSES  # queried in this order

T = TypeVar("T")


class RunBlocking(Protocol):
    """Where a blocking fetch runs: a thread by default; in the serving bot the shared
    OpenStack connection's intake worker (``OpenStackApi.run_intake``)."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


async def in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


class MigrationLister(Protocol):
    """Blocking: the migrations with ``status`` updated at or after ``since``."""

    def list_migrations(
        self, *, status: str, since: datetime, page_size: int
    ) -> Iterable[Mapping[str, Any]]: ...


class _Response(Protocol):
    def raise_for_status(self) -> object: ...

    def json(self) -> Any: ...


class _ComputeAdapter(Protocol):
    def get(
        self, url: str, *, params: Mapping[str, Any], microversion: str
    ) -> _Response: ...


class ComputeConnection(Protocol):
    """What the lister needs of ``openstack.connection.Connection``: its compute adapter."""

    @property
    def compute(self) -> _ComputeAdapter: ...


class SdkMigrationLister:
    """openstacksdk's compute adapter: ``GET /os-migrations`` paged by uuid marker.

    Paging is done here rather than by ``conn.compute.migrations()``: the SDK's fallback
    pager sends the integer ``id`` as marker, while Nova (2.59+) wants the uuid and
    answers 400 "Marker ... could not be found".
    """

    MICROVERSION = "2.59"  # uuid, paging with limit/marker, changes-since

    def __init__(self, conn: ComputeConnection) -> None:
        self.conn = conn

    def list_migrations(
        self, *, status: str, since: datetime, page_size: int
    ) -> Iterable[Mapping[str, Any]]:
        params: dict[str, Any] = {
            "status": status,
            "changes-since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "limit": page_size,
        }
        while True:
            response = self.conn.compute.get(
                "/os-migrations", params=params, microversion=self.MICROVERSION
            )
            response.raise_for_status()
            page = response.json().get("migrations", [])
            yield from page
            if len(page) < page_size or not page[-1].get("uuid"):
                return
            params["marker"] = page[-1]["uuid"]


def _kind(value: object) -> MigrationKind | None:
    try:
        return MigrationKind(str(value))
    except ValueError:
        return None


def report_from_migration(record: Mapping[str, Any], *, now: datetime) -> FailureReport:
    """One migration record (SDK names or API names) as a failure report."""
    ident = record.get("id")
    return FailureReport(
        source=ReportSource.POLLER,
        migration_id=str(ident) if ident is not None else None,
        migration_uuid=record.get("uuid") or None,
        instance_uuid=record.get("server_id") or record.get("instance_uuid") or None,
        kind=_kind(record.get("migration_type")),
        status=record.get("status"),
        source_host=record.get("source_compute") or None,
        dest_host=record.get("dest_compute") or None,
        occurred_at=parse_time(record.get("updated_at")),
        received_at=now,
        raw=dict(record),
    )


class WatermarkPoller:
    """What both /os-migrations pollers share: the persisted watermark, the overlap
    window, paged fetches in a thread, and the run loop."""

    label = "/os-migrations"

    def __init__(
        self,
        lister: MigrationLister,
        watermarks: Watermarks,
        *,
        name: str,
        overlap_s: float = 300.0,
        page_size: int = 200,
        initial_lookback_s: float = 3600.0,
        clock: Callable[[], datetime] = utcnow,
        run_blocking: RunBlocking = in_thread,
    ) -> None:
        self.lister = lister
        self.run_blocking = run_blocking
        self.watermarks = watermarks
        self.name = name
        self.overlap = timedelta(seconds=overlap_s)
        self.page_size = page_size
        self.initial_lookback = timedelta(seconds=initial_lookback_s)
        self.clock = clock

    async def _window(self) -> tuple[datetime, datetime | None, datetime]:
        """(this pass's start, the stored watermark, the changes-since to query)."""
        started = self.clock()
        last = await self.watermarks.watermark(self.name)
        since = (last - self.overlap) if last else started - self.initial_lookback
        return started, last, since

    async def _records(self, status: str, since: datetime) -> list[Mapping[str, Any]]:
        return await self.run_blocking(lambda: self._fetch(status, since))

    def _fetch(self, status: str, since: datetime) -> list[Mapping[str, Any]]:
        return list(
            self.lister.list_migrations(
                status=status, since=since, page_size=self.page_size
            )
        )

    async def poll_once(self) -> int:
        raise NotImplementedError

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Poll until ``stop`` is set; errors are logged and retried on the next tick."""
        while not stop.is_set():
            try:
                count = await self.poll_once()
                log.debug("%s poller saw %d migrations", self.name, count)
            except Exception:
                log.exception(
                    "polling %s (%s) failed; retrying in %.0f s",
                    self.label,
                    self.name,
                    interval_s,
                )
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                continue


class MigrationsPoller(WatermarkPoller):
    """Reports every failed migration record to the sink."""

    def __init__(
        self,
        lister: MigrationLister,
        sink: ReportSink,
        watermarks: Watermarks,
        *,
        name: str = "os-migrations",
        **options: Any,
    ) -> None:
        super().__init__(lister, watermarks, name=name, **options)
        self.sink = sink

    async def poll_once(self) -> int:
        """One pass over the failure statuses; returns how many records were reported."""
        started, last, since = await self._window()
        newest = last or since
        seen = 0
        for status in FAILURE_STATUSES:
            for record in await self._records(status, since):
                report = report_from_migration(record, now=self.clock())
                if report.instance_uuid is None:
                    log.warning(
                        "migration %s has no instance uuid; skipped", record.get("id")
                    )
                    continue
                await self.sink.submit(report)
                seen += 1
                updated = parse_time(record.get("updated_at"))
                if updated is not None and updated > newest:
                    newest = updated
        # every record up to the query start is stored now; clock skew between us and
        # Nova is covered by the overlap subtracted on the next pass
        await self.watermarks.set_watermark(self.name, max(newest, started))
        return seen

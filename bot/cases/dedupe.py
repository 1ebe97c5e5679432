"""Dedupe: which reports describe the same failure, so each failure is one case.

The rules live here; :class:`bot.store.intake_repo.IntakeRepo` runs them inside its claim
transaction (a key's primary key in ``dedupe_keys`` makes the claim exclusive).

Keys are permanent (never reused for another failure). The migration's uuid and integer id
are both claimed when known, so a source that knows only one of them still meets the case.
A request id is unique per API call, but one call may touch several servers, so it is
claimed per instance, plus the bare ``request:<id>`` that lets a ``compute.exception``
(which has no instance) join. The ``instance:<uuid>`` key is not an identity: it
serialises claimers of one VM, which then correlate by time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cases.report import FailureReport, MalformedEvent
from bot.store.intake_repo import KnownCase, Sighting


def migration_key(report: FailureReport) -> str | None:
    """``migration:<uuid or id>``: the durable identity of the failed migration."""
    ident = report.migration_uuid or report.migration_id
    return f"migration:{ident}" if ident else None


def request_key(report: FailureReport) -> str | None:
    """The bare request key: shared by every report of one API call."""
    return f"request:{report.request_id}" if report.request_id else None


def instance_key(report: FailureReport) -> str | None:
    return f"instance:{report.instance_uuid}" if report.instance_uuid else None


def dedupe_keys(report: FailureReport) -> tuple[str, ...]:
    """Permanent keys of the report, sorted (one global order for lock ordering)."""
    keys: set[str] = set()
    if report.migration_uuid:
        keys.add(f"migration:{report.migration_uuid}")
    if report.migration_id:
        keys.add(f"migration-id:{report.migration_id}")
    if report.request_id:
        keys.add(f"request:{report.request_id}")
        if report.instance_uuid:
            keys.add(f"request:{report.request_id}:instance:{report.instance_uuid}")
    return tuple(sorted(keys))


def primary_key(report: FailureReport) -> str:
    """The key a case is named by: the migration, else instance + request id."""
    if key := migration_key(report):
        return key
    if report.instance_uuid and report.request_id:
        return f"instance:{report.instance_uuid}:request:{report.request_id}"
    if report.request_id:
        return f"request:{report.request_id}"
    if report.instance_uuid:
        return f"instance:{report.instance_uuid}:at:{report.received_at.isoformat()}"
    raise MalformedEvent("report names neither a migration, an instance nor a request")


@dataclass(frozen=True, slots=True)
class JoinRules:
    """When a report that shares only a weak key joins an existing case."""

    report: FailureReport
    window: timedelta  # how far apart two sightings of one failure may be
    now: datetime

    @property
    def lag(self) -> timedelta:
        return timedelta(seconds=self.report.time_lag_s)

    @property
    def since(self) -> datetime:
        """The oldest case of the VM the instance key may join: measured from the failure
        time the report gives (not from when it arrived), less how late that time may be."""
        failed = min(self.now, self.report.occurred_at or self.now)
        return failed - self.window - self.lag

    def same_call(self, case: KnownCase) -> bool:
        """The bare request key joins only when the instances cannot differ."""
        return not (
            case.instance_uuid
            and self.report.instance_uuid
            and case.instance_uuid != self.report.instance_uuid
        )

    def same_failure(self, case: KnownCase) -> bool:
        """Could the report describe the same failure as this recent case of its VM?

        Unknowns match; an older failure of the same VM (the poller's look-back) does not.
        Times are the failure times each source reports: the case's must lie within the
        window of the report's, and may be earlier by the report's lag too (an alert fires
        after the failure it reports).
        """
        report = self.report
        migration = report.migration_uuid or report.migration_id
        if migration and case.migration and migration != case.migration:
            return False
        if (
            report.request_id
            and case.request_id
            and report.request_id != case.request_id
        ):
            return False
        if report.occurred_at is None or case.occurred_at is None:
            return True
        earliest = report.occurred_at - self.window - self.lag
        return earliest <= case.occurred_at <= report.occurred_at + self.window


def sighting(report: FailureReport) -> Sighting:
    """The report as the store writes it, with the keys the rules above derive."""
    bare = request_key(report)
    return Sighting(
        source=report.source.value,
        primary_key=primary_key(report),
        strong_keys=tuple(k for k in dedupe_keys(report) if k != bare),
        request_key=bare,
        instance_key=instance_key(report),
        instance_uuid=report.instance_uuid,
        migration=report.migration_uuid or report.migration_id,
        request_id=report.request_id,
        kind=report.kind,
        source_host=report.source_host,
        dest_host=report.dest_host,
        availability_zone=report.availability_zone,
        aggregate=report.aggregate,
        error=report.error,
        occurred_at=report.occurred_at,
        report={
            "source": report.source.value,
            "event_type": report.event_type,
            "status": report.status,
            "received_at": report.received_at.isoformat(),
            "raw": dict(report.raw),
        },
    )

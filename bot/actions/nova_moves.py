"""What Nova says about a move the bot started: which migration it is, and how it ended.

Nova's move actions answer 202 with no body (``os-migrateLive``, ``migrate``): the
migration id is not in the response. The conductor records the migration just after
(a live one ``accepted`` with ``dest_compute`` the requested host, nova/conductor/
manager.py ``_live_migrate``; a cold one once the scheduler picked the host), so it is
looked up in ``GET /os-migrations?instance_uuid=`` (admin; 2.59 adds ``uuid``).
``GET /servers/{id}/migrations`` is no help here: it lists only *in-progress* live
migrations, so it cannot show how one ended. No ``changes-since``: Nova filters it on
``updated_at``, which a just-created record may not have yet.

Ours is the first migration of the VM that was not there before the call, of the kind
the call starts, to the host it named (a record without a destination yet counts); when
the list before the call could not be read, one created after the call instead (Nova
refuses a second move while one runs, task_state, so nothing else can start then).

Blocking (openstacksdk): the watch calls these through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.intake.successes import SUCCESS_STATUSES
from bot.settings import BotSettings
from bot.times import parse_time
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.redact import redact

MIGRATIONS_MICROVERSION = "2.59"  # uuid in each record
EVENTS_MICROVERSION = "2.84"  # an event's ``details`` (its error message)
# how far Nova's clock may trail the bot's before a record made after the call looks
# older than it (used only when the list before the call could not be read)
CLOCK_SLACK = timedelta(seconds=60)

SUCCEEDED = frozenset(
    SUCCESS_STATUSES
)  # live completed, cold confirmed, evacuation done
# what a move ends in when it did not go through: pre-checks or scheduling (error), a
# rolled-back live migration (failed), an abort or timeout (cancelled), a cold one
# reverted by someone (reverted)
FAILED = frozenset({"error", "failed", "cancelled", "reverted"})
# a cold migration that moved and waits in VERIFY_RESIZE for a confirm: not done yet
AWAITING_CONFIRM = frozenset({"finished"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """The fields of one /os-migrations record the watch uses."""

    id: str
    status: str
    kind: str | None
    source: str | None
    dest: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Migration:
        return cls(
            id=str(record.get("id")),
            status=str(record.get("status") or "").lower(),
            kind=record.get("migration_type"),
            source=record.get("source_compute") or None,
            dest=record.get("dest_compute") or None,
            created_at=parse_time(record.get("created_at")),
            updated_at=parse_time(record.get("updated_at")),
        )

    def route(self) -> str:
        return f"{self.source or '?'} → {self.dest or '?'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """Taken just before the call: when, and the VM's migration ids then (None: unread)."""

    started_at: datetime
    known: frozenset[str] | None


def pick_migration(
    records: Iterable[Migration],
    *,
    baseline: Baseline,
    kind: str,
    dest: str | None,
    migration_id: str | None = None,
) -> Migration | None:
    """The record of the move the bot started, or None while Nova has none yet."""
    rows = list(records)
    if migration_id is not None:  # a move already recorded (abort, force complete)
        return next((m for m in rows if m.id == migration_id), None)

    def ours(m: Migration) -> bool:
        if m.kind not in (None, kind) or (dest and m.dest not in (None, dest)):
            return False
        if baseline.known is not None:
            return m.id not in baseline.known
        return (
            m.created_at is not None
            and m.created_at >= baseline.started_at - CLOCK_SLACK
        )

    found = [m for m in rows if ours(m)]
    # the first one after the call: a later one would be someone's next move
    return min(found, key=_order) if found else None


def _order(m: Migration) -> tuple[int, str]:
    return (int(m.id), m.id) if m.id.isdigit() else (1 << 62, m.id)


class MoveReader(Protocol):
    """Nova, read with the diagnosis credentials (blocking)."""

    def migrations_of(self, vm_id: str) -> list[Migration]: ...

    def why_failed(self, vm_id: str, request_id: str | None) -> str | None: ...

    def close(self) -> None: ...


class NovaMoveReader:
    """``MoveReader`` over openstacksdk's compute adapter (raw paths, as the poller)."""

    def __init__(self, api: OpenStackApi, *, owned: bool = True) -> None:
        self.api = api
        self.conn = api.conn
        self.owned = owned  # False: a shared connection (the engine's), left open

    @classmethod
    def for_bot(
        cls, settings: BotSettings, shared: OpenStackApi | None
    ) -> NovaMoveReader:
        """Over the bot's shared connection when it has one, else a connection of its own."""
        if shared is not None:
            return cls(shared, owned=False)
        return cls(OpenStackApi.from_settings(settings.openstack))

    def migrations_of(self, vm_id: str) -> list[Migration]:
        response = self.conn.compute.get(
            "/os-migrations",
            params={"instance_uuid": vm_id},
            microversion=MIGRATIONS_MICROVERSION,
        )
        response.raise_for_status()
        return [Migration.of(r) for r in response.json().get("migrations", [])]

    def why_failed(self, vm_id: str, request_id: str | None) -> str | None:
        """Nova's own words: the request's failed event, else the server's fault."""
        said = self._failed_event(vm_id, request_id) if request_id else None
        return said or self._fault(vm_id)

    def _failed_event(self, vm_id: str, request_id: str) -> str | None:
        response = self.conn.compute.get(
            f"/servers/{vm_id}/os-instance-actions/{request_id}",
            microversion=EVENTS_MICROVERSION,
        )
        if response.status_code >= 400:
            return None
        action = response.json().get("instanceAction") or {}
        for event in action.get("events") or []:
            if str(event.get("result", "")).lower() == "error":
                detail = event.get("details") or _last_line(event.get("traceback"))
                text = f"{event.get('event')}: {detail}" if detail else None
                return redact(text or f"{event.get('event')} failed")
        message = action.get("message")
        return redact(f"instance action: {message}") if message else None

    def _fault(self, vm_id: str) -> str | None:
        response = self.conn.compute.get(f"/servers/{vm_id}")
        if response.status_code >= 400:
            return None
        fault = (response.json().get("server") or {}).get("fault") or {}
        message = fault.get("message")
        return redact(f"server fault: {message}") if message else None

    def close(self) -> None:
        if self.owned:
            self.api.close()


def _last_line(traceback: object) -> str | None:
    if not isinstance(traceback, str) or not traceback.strip():
        return None
    return traceback.strip().splitlines()[-1].strip()

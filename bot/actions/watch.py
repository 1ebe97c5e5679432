"""The bot follows a move it started, and says in the thread how it ended.

After a fix whose Nova call was accepted (Retry to H; any later fix that starts or
changes a migration can use it), ``follow`` looks the migration up (``nova_moves``), polls
it with a growing wait (``actions.watch``: first_poll_s, ×1.5, up to max_poll_s) and a
cap on the whole watch, and keeps one progress reply in the thread up to date:

- it succeeded: the case is resolved through ``CaseResolver``, the very path of the
  success poller and the notifications, so whichever sees it first resolves it and the
  others change nothing (one resolution, one note naming the migration, its route, when);
- it failed: a reply with Nova's migration status and its own error (the request's failed
  instance-action event, else the server's fault) and a *Re-run* button; the case stays
  open and nothing is diagnosed by itself;
- Nova recorded no migration within find_within_s, Nova could not be read five times in
  a row, or the cap passed: a reply that says so, the case stays open.

Every end is also a timeline entry. The watch lives in this process only (shutdown
cancels it rather than wait up to the cap): a bot that restarts mid-watch drops it, and
the move's success is then seen by the poller or the
notifications (``intake.poller`` / ``intake.notifications``) like any other; with both
off, a case whose watch was cut short is resolved by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.actions.nova_moves import (
    AWAITING_CONFIRM,
    FAILED,
    SUCCEEDED,
    Baseline,
    Migration,
    MoveReader,
    NovaMoveReader,
    pick_migration,
)
from bot.cases.resolution import CaseResolver
from bot.posting.case_poster import SlackCasePoster
from bot.posting.move_progress import MoveThread, with_rerun
from bot.posting.resolution import SlackResolutionPoster
from bot.services import Services
from bot.settings import WatchSettings
from bot.store import CaseRecord
from bot.store.resolution_repo import ResolvedVia, SuccessfulMove
from bot.store.timeline_repo import record_event
from bot.textsafe import code_span, escaped_within
from bot.times import utcnow

log = logging.getLogger(__name__)

READ_FAILURES_MAX = 5  # Nova unreadable this many times in a row ends the watch


@dataclass(frozen=True, slots=True, kw_only=True)
class Move:
    """A move the bot started (or acted on) and now follows."""

    case: CaseRecord
    vm_id: str
    what: str  # "live-migrate web-02 to cmp-a-03": the thread names it so
    kind: str  # Nova's migration_type the call starts: live-migration, migration
    dest: str | None  # the host the call named
    request_id: str | None  # the call's request id: Nova's error comes from its events
    baseline: Baseline
    migration_id: str | None = None  # set when the migration already exists
    # statuses that are this call's own end, not a failure (an abort ends "cancelled"):
    # said in the thread, the case left open
    ends: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchResult:
    outcome: str  # succeeded, ended, failed, not_found, gave_up, unreadable
    migration: Migration | None
    resolved: bool  # this watch resolved the case (False: another source had)


async def baseline(services: Services, vm_id: str) -> Baseline:
    """Call just before the fix: the VM's migrations now (None if Nova would not say)."""
    started = utcnow()

    def read() -> frozenset[str]:
        reader = NovaMoveReader.for_bot(services.settings, services.openstack)
        try:
            return frozenset(m.id for m in reader.migrations_of(vm_id))
        finally:
            reader.close()

    try:
        return Baseline(started_at=started, known=await asyncio.to_thread(read))
    except Exception as exc:  # the watch falls back to created_at; the fix still runs
        log.warning("migrations of %s before the fix unread: %s", vm_id, exc)
        return Baseline(started_at=started, known=None)


def start_watch(
    services: Services,
    poster: SlackCasePoster,
    move: Move,
    reader: MoveReader | None = None,
) -> asyncio.Task[Any]:
    """Follow ``move`` in the background (``services.watches``: cancelled at shutdown)."""
    return services.watches.spawn(
        follow(services, poster, move, reader), name=f"watch-{move.case.id}"
    )


def _at(when: datetime | None) -> str:
    return f"{(when or utcnow()).astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _named(m: Migration) -> str:
    return f"migration {code_span(m.id, 40)} {escaped_within(m.route(), 300)}"


async def follow(
    services: Services,
    poster: SlackCasePoster,
    move: Move,
    reader: MoveReader | None = None,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> WatchResult:
    """Poll Nova until the move ends or the watch's bounds pass; say it in the thread."""
    nova: MoveReader
    if reader is None:
        nova = await asyncio.to_thread(
            NovaMoveReader.for_bot, services.settings, services.openstack
        )
    else:
        nova = reader
    try:
        return await _Watch(services, poster, move, nova, sleep).run()
    finally:
        if reader is None:
            await asyncio.to_thread(nova.close)


class _Watch:
    def __init__(
        self,
        services: Services,
        poster: SlackCasePoster,
        move: Move,
        nova: MoveReader,
        sleep: Callable[[float], Awaitable[object]],
    ) -> None:
        self.services = services
        self.poster = poster
        self.move = move
        self.nova = nova
        self.sleep = sleep
        self.limits: WatchSettings = services.settings.actions.watch
        self.thread = MoveThread(poster, move.case)

    async def run(self) -> WatchResult:
        limits, move = self.limits, self.move
        began = time.monotonic()
        wait = limits.first_poll_s
        misses = 0
        last: Migration | None = None
        status, since = "", utcnow()  # the status last seen, and since when
        await self.thread.progress(
            f"👀 Following {escaped_within(move.what, 300)}:"
            " waiting for Nova to record the migration…"
        )
        while True:
            await self.sleep(wait)
            wait = min(wait * 1.5, limits.max_poll_s)
            elapsed = time.monotonic() - began
            try:
                records = await asyncio.to_thread(self.nova.migrations_of, move.vm_id)
            except Exception as exc:  # Nova busy or down: look again, a few times
                misses += 1
                log.warning("watch of case %s: Nova unread: %s", move.case.id, exc)
                if misses >= READ_FAILURES_MAX:
                    return await self._unreadable(last, exc)
            else:
                misses = 0
                found = pick_migration(
                    records,
                    baseline=move.baseline,
                    kind=move.kind,
                    dest=move.dest,
                    migration_id=move.migration_id or (last.id if last else None),
                )
                last = found or last
                if found is not None:
                    if found.status in move.ends:
                        return await self._ended(found)
                    if found.status in SUCCEEDED:
                        return await self._succeeded(found)
                    if found.status in FAILED:
                        return await self._failed(found)
                    if found.status != status:
                        status, since = found.status, utcnow()
                        if status in AWAITING_CONFIRM:  # a person must act: say it anew
                            await self.thread.reply(self._confirm_needed(found))
                    await self.thread.progress(self._running(found, since))
                elif last is None and elapsed >= limits.find_within_s:
                    return await self._not_found(elapsed)
            if elapsed >= limits.give_up_after_s:
                return await self._gave_up(last, elapsed)

    def _running(self, m: Migration, since: datetime) -> str:
        head = f"👀 Following {escaped_within(self.move.what, 300)}: {_named(m)}"
        if m.status in AWAITING_CONFIRM:
            return f"{head} moved; the VM waits in VERIFY_RESIZE for a confirm."
        return f"{head} is {code_span(m.status, 40)} (since {_at(since)})."

    def _confirm_needed(self, m: Migration) -> str:
        return (
            f"↪️ {escaped_within(self.move.what, 300)}: {_named(m)} moved the VM; it"
            " waits in VERIFY_RESIZE until the resize is confirmed (openstack server"
            f" resize confirm {code_span(self.move.vm_id, 80)}, or Nova's"
            " resize_confirm_window). The case resolves when the migration is"
            " `confirmed`."
        )

    async def _timeline(self, text: str) -> None:
        await record_event(
            self.services.store, self.move.case.id, actor=None, kind="watch", text=text
        )

    async def _succeeded(self, m: Migration) -> WatchResult:
        success = SuccessfulMove(
            migration_id=m.id,
            source_host=m.source,
            dest_host=m.dest,
            at=m.updated_at or utcnow(),
            via=ResolvedVia.WATCH,
        )
        # the thread says how the move ended first; then the resolution (the same path
        # as the poller's: a case another source resolved already is left as it is)
        await self.thread.progress(
            f"✅ {escaped_within(self.move.what, 300)}: {_named(m)}"
            f" {code_span(m.status, 40)} at {_at(m.updated_at)}."
        )
        resolver = CaseResolver(self.services.store, SlackResolutionPoster(self.poster))
        done = await resolver.migration_succeeded(self.move.vm_id, success)
        mine = any(r.case_id == self.move.case.id for r in done)
        await self._timeline(
            f"{self.move.what}: migration {m.id} {m.route()} {m.status}"
        )
        return WatchResult(outcome="succeeded", migration=m, resolved=mine)

    async def _ended(self, m: Migration) -> WatchResult:
        await self.thread.progress(
            f"✅ {escaped_within(self.move.what, 300)}: {_named(m)}"
            f" {code_span(m.status, 40)} at {_at(m.updated_at)}. The case stays open."
        )
        await self._timeline(
            f"{self.move.what}: migration {m.id} {m.route()} {m.status}"
        )
        return WatchResult(outcome="ended", migration=m, resolved=False)

    async def _failed(self, m: Migration) -> WatchResult:
        said = await asyncio.to_thread(
            self.nova.why_failed, self.move.vm_id, self.move.request_id
        )
        nova = (
            f"Nova: {code_span(said, 600)}"
            if said
            else "Nova recorded no error message for this request; Re-run reads the"
            " hosts' logs for the reason."
        )
        text = (
            f"❌ *{escaped_within(self.move.what, 300)} failed*: {_named(m)} ended"
            f" {code_span(m.status, 40)} at {_at(m.updated_at)}. {nova}"
            " The case stays open."
        )
        await self.thread.progress(
            f"❌ {escaped_within(self.move.what, 300)}: {_named(m)}"
            f" {code_span(m.status, 40)}."
        )
        await self.thread.reply(text, with_rerun(text, self.move.case.id))
        await self._timeline(
            f"{self.move.what}: migration {m.id} {m.route()} {m.status}"
            + (f" ({said})" if said else "")
        )
        return WatchResult(outcome="failed", migration=m, resolved=False)

    async def _not_found(self, elapsed: float) -> WatchResult:
        text = (
            f"⌛ Nova recorded no migration for {escaped_within(self.move.what, 300)}"
            f" within {elapsed:.0f} s"
            + (
                f" (request {code_span(self.move.request_id, 80)})"
                if self.move.request_id
                else ""
            )
            + "; stopped following it. The case stays open."
        )
        return await self._stop("not_found", None, text)

    async def _gave_up(self, m: Migration | None, elapsed: float) -> WatchResult:
        where = (
            f"{_named(m)} was still {code_span(m.status, 40)}" if m else "no migration"
        )
        if m is not None and m.status in AWAITING_CONFIRM:
            where += " (moved, waiting in VERIFY_RESIZE for a confirm)"
        text = (
            f"⌛ Stopped following {escaped_within(self.move.what, 300)} after"
            f" {elapsed:.0f} s (actions.watch.give_up_after_s): {where}."
            " The case stays open; the poller or the notifications resolve it when the"
            " move succeeds, if they are on, or *Resolve* it by hand."
        )
        return await self._stop("gave_up", m, text)

    async def _unreadable(self, m: Migration | None, exc: Exception) -> WatchResult:
        text = (
            f"⚠️ Stopped following {escaped_within(self.move.what, 300)}: Nova's"
            f" migrations could not be read {READ_FAILURES_MAX} times in a row"
            f" ({code_span(type(exc).__name__, 60)}). The case stays open."
        )
        return await self._stop("unreadable", m, text)

    async def _stop(self, outcome: str, m: Migration | None, text: str) -> WatchResult:
        await self.thread.reply(text)
        await self._timeline(f"{self.move.what}: watch ended ({outcome})")
        return WatchResult(outcome=outcome, migration=m, resolved=False)

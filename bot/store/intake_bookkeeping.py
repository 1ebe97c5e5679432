"""The intake's small records: channels, case state, dead letters, the poller watermark.

A base of :class:`bot.store.intake_repo.IntakeRepo`, kept apart from the claim logic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.intake_models import (
    DeadLetterRow,
    DedupeKeyRow,
    IntakeCaseRow,
    PollerWatermarkRow,
    WebhookSignatureRow,
)
from bot.store.models import CaseRow
from bot.store.repo import Store
from bot.times import as_utc
from diagnostics.evidence.redact import redact

_DEAD_LETTER_CHARS = 65536


class IntakeBookkeeping:
    store: Store

    async def set_channel(self, case_id: str, channel: str) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(CaseRow).where(CaseRow.id == case_id).values(channel=channel)
            )
            await session.execute(
                update(IntakeCaseRow)
                .where(IntakeCaseRow.case_id == case_id)
                .values(channel=channel)
            )

    async def case_state(self, case_id: str) -> tuple[str, list[str]]:
        """The case's intake status and every key that leads to it (tests, history)."""
        async with self.store.sessions() as session:
            row = await session.get(IntakeCaseRow, case_id)
            keys = await session.scalars(
                select(DedupeKeyRow.key).where(DedupeKeyRow.case_id == case_id)
            )
            return (row.status if row else "missing", sorted(keys.all()))

    async def count_cases(self, status: str | None = None) -> int:
        async with self.store.sessions() as session:
            query = select(IntakeCaseRow.case_id)
            if status is not None:
                query = query.where(IntakeCaseRow.status == status)
            return len((await session.scalars(query)).all())

    async def dead_letter(self, source: str, reason: str, body: bytes | str) -> None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        # redacted before the cut, so a secret the cut would split is still recognised
        kept = redact(text[: _DEAD_LETTER_CHARS * 2])[:_DEAD_LETTER_CHARS]
        async with self.store.sessions.begin() as session:
            session.add(
                DeadLetterRow(
                    source=source,
                    reason=redact(reason),
                    body=kept,
                    at=datetime.now(UTC),
                )
            )

    async def dead_letters(self) -> list[tuple[str, str]]:
        async with self.store.sessions() as session:
            rows = await session.scalars(
                select(DeadLetterRow).order_by(DeadLetterRow.id)
            )
            return [(r.source, r.reason) for r in rows.all()]

    async def watermark(self, name: str) -> datetime | None:
        async with self.store.sessions() as session:
            row = await session.get(PollerWatermarkRow, name)
            return as_utc(row.watermark) if row else None

    async def set_watermark(self, name: str, value: datetime) -> None:
        async with self.store.sessions.begin() as session:
            row = await session.get(PollerWatermarkRow, name, with_for_update=True)
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    PollerWatermarkRow(name=name, watermark=value, updated_at=now)
                )
            elif (
                as_utc(row.watermark) < value
            ):  # never move backwards (two replicas polling)
                row.watermark, row.updated_at = value, now

    async def forget(self, digest: str) -> None:
        """Drop an accepted digest whose request could not be stored: its retry is new."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                delete(WebhookSignatureRow).where(WebhookSignatureRow.digest == digest)
            )

    async def first_use(
        self,
        digest: str,
        *,
        now: datetime,
        keep_s: float,
        window_s: float | None = None,
    ) -> bool:
        """Record an accepted request's digest; False when it is a replay.

        One row per digest (the primary key makes the check exclusive across replicas);
        rows older than ``keep_s`` (the timestamp window has refused them since) go. A
        digest seen more than ``window_s`` ago (default ``keep_s``) counts as new again
        and is stamped ``now``: every caller prunes with the same ``keep_s``, so one
        kind of key never drops another's rows early.
        """
        window = keep_s if window_s is None else window_s
        async with self.store.sessions.begin() as session:
            await session.execute(
                delete(WebhookSignatureRow).where(
                    WebhookSignatureRow.seen_at < now - timedelta(seconds=keep_s)
                )
            )
            dialect = session.get_bind().dialect.name
            insert: Any = (
                postgresql.insert if dialect == "postgresql" else sqlite.insert
            )
            stmt = insert(WebhookSignatureRow).values(digest=digest, seen_at=now)
            stmt = stmt.on_conflict_do_update(
                index_elements=["digest"],
                set_={"seen_at": stmt.excluded.seen_at},
                where=WebhookSignatureRow.seen_at < now - timedelta(seconds=window),
            ).returning(WebhookSignatureRow.digest)
            return (await session.execute(stmt)).first() is not None

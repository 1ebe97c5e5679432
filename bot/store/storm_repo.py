"""A storm's board in the database: cause groups, members, the refresher's lease.

Every replica that diagnoses a member writes it here (:meth:`StormRepo.add_member`, one
transaction: the board and the group if new, the member row). No row is updated by every
writer (a storm's members would queue on its lock, one commit each): counts are taken
from the member rows by the refresh, which stores what it showed. The
replica holding the board's lease renders the parent and the replies from these rows;
exactly one replica posts each group's reply (:meth:`StormRepo.claim_reply`, a
conditional UPDATE, like the intake's leases). Nothing per VM is kept in memory: what
renders reads the counts and at most ``limit`` labels per group.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.causes import CauseKey
from bot.store.repo import Store, new_id
from bot.store.storm_models import StormBoardRow, StormGroupRow, StormMemberRow
from diagnostics.model import Confidence


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRecord:
    id: str
    key: CauseKey
    title: str
    members: int
    shown: int
    listed: int
    reply_ts: str | None
    example_run_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardRecord:
    """A board as stored: what its parent shows and what changed since it was shown."""

    id: str
    channel: str
    parent_ts: str
    incident_id: str
    title: str
    opened_at: str
    expected: int
    resolved: int
    version: int
    shown_version: int
    shown_members: int  # members the parent counted when last shown
    groups: tuple[GroupRecord, ...]

    @property
    def settled(self) -> int:
        return sum(g.members for g in self.groups)

    @property
    def parent_dirty(self) -> bool:
        return self.version != self.shown_version or self.settled != self.shown_members

    @property
    def dirty(self) -> bool:
        """Slack does not show everything stored yet."""
        return self.parent_dirty or any(
            g.reply_ts is None or g.shown != g.members for g in self.groups
        )


def key_digest(key: CauseKey) -> str:
    """The group's identity inside its board (the typed key's fields, canonical)."""
    fields = [
        key.root_cause,
        key.check_id,
        key.confidence.value if key.confidence else None,
        list(key.hosts),
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _group(row: StormGroupRow, members: int) -> GroupRecord:
    return GroupRecord(
        id=row.id,
        key=CauseKey(
            row.root_cause,
            row.check_id,
            Confidence(row.confidence) if row.confidence else None,
            tuple(row.hosts),
        ),
        title=row.title,
        members=members,
        shown=row.shown,
        listed=row.listed,
        reply_ts=row.reply_ts,
        example_run_id=row.example_run_id,
    )


def _member_count(board_id: Any) -> Any:
    """How many members the board has (a correlated subquery)."""
    return (
        select(func.count())
        .where(StormMemberRow.board_id == board_id)
        .scalar_subquery()
    )


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _changed(rowcount: Any) -> bool:
    return bool(rowcount)


class StormRepo:
    def __init__(self, store: Store) -> None:
        self.sessions = store.sessions

    # ---- writes of every replica -------------------------------------------------------

    async def _board_id(
        self, session: AsyncSession, channel: str, parent_ts: str, now: datetime
    ) -> str:
        # a write first: SQLite takes its write lock here rather than upgrading later
        await session.execute(
            _insert(session)(StormBoardRow)
            .values(
                id=new_id("board"),
                channel=channel,
                parent_ts=parent_ts,
                title="",
                opened_at="",
                expected=0,
                resolved=0,
                version=0,
                shown_version=0,
                shown_members=0,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel", "parent_ts"])
        )
        board_id = await session.scalar(
            select(StormBoardRow.id).where(
                StormBoardRow.channel == channel, StormBoardRow.parent_ts == parent_ts
            )
        )
        assert board_id is not None  # inserted above or by someone else before
        return board_id

    async def describe(
        self,
        channel: str,
        parent_ts: str,
        *,
        incident_id: str,
        title: str,
        opened_at: str,
        expected: int,
        resolved: int,
        shown: bool,
        now: datetime,
    ) -> str:
        """What the incident row says the parent shows; ``shown``: it already does.
        Returns the board's id."""
        async with self.sessions.begin() as session:
            board_id = await self._board_id(session, channel, parent_ts, now)
            values = {
                "incident_id": incident_id,
                "title": title,
                "opened_at": opened_at,
                "expected": expected,
                "resolved": resolved,
                "updated_at": now,
            }
            changed = or_(
                StormBoardRow.title != title,
                StormBoardRow.expected != expected,
                StormBoardRow.resolved != resolved,
                StormBoardRow.incident_id.is_(None),
            )
            bump: dict[str, Any] = (
                {"shown_version": StormBoardRow.version}
                if shown
                else {"version": StormBoardRow.version + 1}
            )
            await session.execute(
                update(StormBoardRow)
                .where(StormBoardRow.id == board_id, changed)
                .values(**values, **bump)
            )
            return board_id

    async def add_member(
        self,
        channel: str,
        parent_ts: str,
        key: CauseKey,
        *,
        case_id: str,
        label: str,
        title: str,
        example_run_id: str | None,
        now: datetime,
    ) -> str:
        """The member into its group (the group created by whoever comes first); returns
        the board's id. A case already a member of the board (a re-run after a takeover)
        stays where it was counted."""
        async with self.sessions.begin() as session:
            board_id = await self._board_id(session, channel, parent_ts, now)
            digest = key_digest(key)
            await session.execute(
                _insert(session)(StormGroupRow)
                .values(
                    id=new_id("grp"),
                    board_id=board_id,
                    key_digest=digest,
                    root_cause=key.root_cause,
                    check_id=key.check_id,
                    confidence=key.confidence.value if key.confidence else None,
                    hosts=list(key.hosts),
                    title=title,
                    example_run_id=example_run_id,
                    members=0,
                    shown=0,
                    listed=0,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["board_id", "key_digest"])
            )
            group_id = await session.scalar(
                select(StormGroupRow.id).where(
                    StormGroupRow.board_id == board_id,
                    StormGroupRow.key_digest == digest,
                )
            )
            await session.execute(
                _insert(session)(StormMemberRow)
                .values(
                    board_id=board_id,
                    case_id=case_id,
                    group_id=group_id,
                    label=label[:300],
                    added_at=now,
                )
                .on_conflict_do_nothing(index_elements=["board_id", "case_id"])
            )
            return board_id

    # ---- the refresher's lease -----------------------------------------------------------

    async def take(
        self, board_id: str, owner: str, *, now: datetime, lease_s: float
    ) -> bool:
        """The board's lease: free, expired, or already ours. One replica refreshes it."""
        query = (
            update(StormBoardRow)
            .where(
                StormBoardRow.id == board_id,
                or_(
                    StormBoardRow.owner.is_(None),
                    StormBoardRow.owner == owner,
                    StormBoardRow.lease_until < now,
                ),
            )
            .values(owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
        async with self.sessions.begin() as session:
            return _changed((await session.execute(query)).rowcount)  # type: ignore[attr-defined]

    async def release(self, board: BoardRecord, owner: str) -> bool:
        """Give the lease up, unless the board changed since it was read (then whoever
        wrote the change found the lease held, and the holder must go on)."""
        query = (
            update(StormBoardRow)
            .where(
                StormBoardRow.id == board.id,
                StormBoardRow.owner == owner,
                StormBoardRow.version == board.version,
                _member_count(StormBoardRow.id) == board.settled,
            )
            .values(owner=None, lease_until=None)
        )
        async with self.sessions.begin() as session:
            return _changed((await session.execute(query)).rowcount)  # type: ignore[attr-defined]

    async def claim_reply(
        self, group_id: str, owner: str, *, now: datetime, lease_s: float
    ) -> bool:
        """Exactly one replica posts a group's reply: the one whose claim lands."""
        query = (
            update(StormGroupRow)
            .where(
                StormGroupRow.id == group_id,
                StormGroupRow.reply_ts.is_(None),
                or_(
                    StormGroupRow.reply_owner.is_(None),
                    StormGroupRow.reply_owner == owner,
                    StormGroupRow.reply_until < now,
                ),
            )
            .values(reply_owner=owner, reply_until=now + timedelta(seconds=lease_s))
        )
        async with self.sessions.begin() as session:
            return _changed((await session.execute(query)).rowcount)  # type: ignore[attr-defined]

    async def unclaim_reply(self, group_id: str, owner: str) -> None:
        """The post failed: another pass (or replica) may claim it again."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(StormGroupRow)
                .where(StormGroupRow.id == group_id, StormGroupRow.reply_owner == owner)
                .values(reply_owner=None, reply_until=None)
            )

    async def set_group(self, group_id: str, **values: Any) -> None:
        """``reply_ts``, ``shown`` or ``listed`` after the write that made them true."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(StormGroupRow)
                .where(StormGroupRow.id == group_id)
                .values(**values)
            )

    async def mark_shown(
        self, board: BoardRecord, *, parent: bool, groups: dict[str, int], now: datetime
    ) -> None:
        """What one refresh of ``board`` got into Slack: the parent (``parent``), each
        group's reply at its count; the counts it read are stored with them."""
        async with self.sessions.begin() as session:
            for group in board.groups:
                values: dict[str, Any] = {"members": group.members}
                if group.id in groups:
                    values["shown"] = groups[group.id]
                await session.execute(
                    update(StormGroupRow)
                    .where(StormGroupRow.id == group.id)
                    .values(**values)
                )
            if parent:
                await session.execute(
                    update(StormBoardRow)
                    .where(StormBoardRow.id == board.id)
                    .values(
                        shown_version=board.version,
                        shown_members=board.settled,
                        updated_at=now,
                    )
                )

    # ---- reads ---------------------------------------------------------------------------

    async def board_id(self, channel: str, parent_ts: str) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(
                select(StormBoardRow.id).where(
                    StormBoardRow.channel == channel,
                    StormBoardRow.parent_ts == parent_ts,
                )
            )

    async def board(self, board_id: str) -> BoardRecord | None:
        async with self.sessions() as session:
            row = await session.get(StormBoardRow, board_id)
            if row is None:
                return None
            groups = (
                await session.scalars(
                    select(StormGroupRow)
                    .where(StormGroupRow.board_id == board_id)
                    .order_by(StormGroupRow.created_at, StormGroupRow.id)
                )
            ).all()
            counted = await session.execute(
                select(StormMemberRow.group_id, func.count())
                .where(StormMemberRow.board_id == board_id)
                .group_by(StormMemberRow.group_id)
            )
            counts: dict[str, int] = {gid: int(n) for gid, n in counted.all()}
            return BoardRecord(
                id=row.id,
                channel=row.channel,
                parent_ts=row.parent_ts,
                incident_id=row.incident_id or "",
                title=row.title,
                opened_at=row.opened_at,
                expected=row.expected,
                resolved=row.resolved,
                version=row.version,
                shown_version=row.shown_version,
                shown_members=row.shown_members,
                groups=tuple(_group(g, counts.get(g.id, 0)) for g in groups),
            )

    async def members(
        self, group_id: str, limit: int | None = None
    ) -> list[tuple[str, str]]:
        """(label, case id) of the group's members in the order they joined."""
        query = (
            select(StormMemberRow.label, StormMemberRow.case_id)
            .where(StormMemberRow.group_id == group_id)
            .order_by(StormMemberRow.added_at, StormMemberRow.case_id)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self.sessions() as session:
            return [
                (label, case_id)
                for label, case_id in (await session.execute(query)).all()
            ]

    async def stale(self, *, now: datetime, within_s: float) -> list[str]:
        """Boards changed within ``within_s`` that Slack does not show in full and that
        nobody is refreshing (their refresher died with its replica)."""
        since = now - timedelta(seconds=within_s)
        group_count = (
            select(func.count())
            .where(StormMemberRow.group_id == StormGroupRow.id)
            .scalar_subquery()
        )
        behind = (
            select(StormGroupRow.id)
            .where(
                StormGroupRow.board_id == StormBoardRow.id,
                or_(
                    StormGroupRow.reply_ts.is_(None),
                    StormGroupRow.shown != group_count,
                ),
            )
            .exists()
        )
        query = select(StormBoardRow.id).where(
            StormBoardRow.updated_at >= since,
            or_(StormBoardRow.owner.is_(None), StormBoardRow.lease_until < now),
            or_(
                StormBoardRow.version != StormBoardRow.shown_version,
                StormBoardRow.shown_members != _member_count(StormBoardRow.id),
                behind,
            ),
        )
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

"""Tables of a storm's board: its cause groups, their members, and who refreshes it.

A board is one incident parent in Slack (``channel``, ``parent_ts``). Every replica writes
members here; the one holding the board's lease renders the parent and the group replies
from these rows, so a replica that restarts, or any other, can take over (revision 0010).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class StormBoardRow(Base):
    """One storm parent: what it shows, what changed since, and its refresher's lease."""

    __tablename__ = "storm_boards"
    __table_args__ = (UniqueConstraint("channel", "parent_ts", name="uq_storm_board"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    parent_ts: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[str] = mapped_column(String(32), default="")
    expected: Mapped[int] = mapped_column(Integer, default=0)  # the incident's members
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    # bumped when what the incident row says changes (count, title, resolved); members
    # are counted from storm_members (no row every writer updates: no hot row)
    version: Mapped[int] = mapped_column(Integer, default=0)
    shown_version: Mapped[int] = mapped_column(Integer, default=0)
    shown_members: Mapped[int] = mapped_column(Integer, default=0)  # the parent counts
    owner: Mapped[str | None] = mapped_column(String(64))  # the refresher's lease
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class StormGroupRow(Base):
    """Members of one board sharing a cause (``bot.causes.CauseKey``): one reply."""

    __tablename__ = "storm_groups"
    __table_args__ = (
        # one group per cause per board, whichever replica saw the cause first
        UniqueConstraint("board_id", "key_digest", name="uq_storm_group_key"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    board_id: Mapped[str] = mapped_column(ForeignKey("storm_boards.id"))
    key_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the typed key
    root_cause: Mapped[str] = mapped_column(String(64))
    check_id: Mapped[str] = mapped_column(String(255))
    confidence: Mapped[str | None] = mapped_column(String(16))
    hosts: Mapped[list[str]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(Text)
    example_run_id: Mapped[str | None] = mapped_column(String(64))  # the card's run
    # members as counted by the last refresh (the live count is of storm_members rows)
    members: Mapped[int] = mapped_column(Integer, default=0)
    shown: Mapped[int] = mapped_column(Integer, default=0)  # members the reply shows
    listed: Mapped[int] = mapped_column(Integer, default=0)  # members the file lists
    # the reply: claimed (owner, until) by exactly one replica, then its ts
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    reply_owner: Mapped[str | None] = mapped_column(String(64))
    reply_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StormMemberRow(Base):
    """One VM of a board, in its group (a case is counted once per board)."""

    __tablename__ = "storm_members"
    __table_args__ = (Index("ix_storm_members_group", "group_id", "added_at"),)

    board_id: Mapped[str] = mapped_column(
        ForeignKey("storm_boards.id"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("storm_groups.id"))
    label: Mapped[str] = mapped_column(String(300))  # "web-07" or "web-07 (why)"
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

"""Tables of the bot's store. Other modules (intake) add theirs to the same ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    """One investigated failure: a Slack parent message and its thread."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vm_id: Mapped[str | None] = mapped_column(String(64))
    vm_name: Mapped[str] = mapped_column(String(255))
    migration_id: Mapped[str | None] = mapped_column(String(64))
    target_host: Mapped[str | None] = mapped_column(String(255))
    # what the operator said was tried (--kind), so a re-run repeats the same request
    kind: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    # set when the case lives as a reply inside another thread (an incident thread)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(
        String(32)
    )  # "slash", "notification", "poller", ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # repo.CaseState; while "diagnosing", state_owner renews state_until (a lease)
    state: Mapped[str | None] = mapped_column(String(16), index=True)
    state_reason: Mapped[str | None] = mapped_column(Text)
    state_owner: Mapped[str | None] = mapped_column(String(64))
    state_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RunRow(Base):
    """One diagnosis of a case, kept whole so buttons work after a restart."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    diagnosis: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class EscalationRow(Base):
    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text)

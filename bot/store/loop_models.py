"""Tables of a case's outcome: whether it is resolved (and by what), and its timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class CaseResolutionRow(Base):
    """One row per case that was ever resolved; ``resolved`` False once reopened."""

    __tablename__ = "case_resolutions"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    resolved: Mapped[bool] = mapped_column(Boolean, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # a Slack user id, or None when the bot saw the VM move (a successful migration)
    by: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(32))  # a ResolvedVia value
    migration_id: Mapped[str | None] = mapped_column(String(64))
    source_host: Mapped[str | None] = mapped_column(String(255))
    dest_host: Mapped[str | None] = mapped_column(String(255))


class CaseEventRow(Base):
    """One entry of a case's own timeline that no other table holds (resolve, mentions)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str | None] = mapped_column(String(32))  # None: the bot
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class FixAuditRow(Base):
    """One fix run (or refused) from a button: who, what, when, Nova's request id, result."""

    __tablename__ = "fix_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(32))
    what: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(
        String(16)
    )  # running / accepted / refused / failed
    request_id: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[str] = mapped_column(Text)

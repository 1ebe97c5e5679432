"""Tables of the intake: dedupe claims, intake state of cases, incidents, watermark, dead letters.

They share ``bot.store.models.Base`` so one Alembic history (revision 0002) covers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class DedupeKeyRow(Base):
    """A claimed identity of a failure. The primary key is what makes a claim exclusive."""

    __tablename__ = "dedupe_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)


class IntakeCaseRow(Base):
    """The intake side of a case: what reported it and whether it has been posted."""

    __tablename__ = "intake_cases"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    primary_key: Mapped[str] = mapped_column(String(255))
    instance_uuid: Mapped[str | None] = mapped_column(String(64), index=True)
    migration: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(32))
    source_host: Mapped[str | None] = mapped_column(String(255), index=True)
    dest_host: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    aggregate: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # waiting (no server known yet) -> pending -> posting (leased) -> posted, or failed
    # (terminal: the VM is gone, the channel refuses, the cloud refuses us, or the retries
    # ran out; ``reason`` says which)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reason: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(64))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentRow(Base):
    """Many failures sharing a host (or cause) inside the storm window: one Slack parent."""

    __tablename__ = "incidents"
    __table_args__ = (
        # at most one open incident per key, even with several replicas
        Index(
            "ux_incidents_open_key",
            "key",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(32))
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentMemberRow(Base):
    __tablename__ = "incident_members"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id"), primary_key=True
    )
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PollerWatermarkRow(Base):
    __tablename__ = "poller_watermark"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WebhookSignatureRow(Base):
    """An accepted webhook signature (its SHA-256), kept while its timestamp is valid."""

    __tablename__ = "webhook_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

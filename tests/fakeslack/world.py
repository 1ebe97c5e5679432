"""The fake workspace's state: channels, users, messages with threads and edits, files."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0FAKE001"
BOT_USER_ID = "U0BOT0001"
BOT_ID = "B0BOT0001"
APP_ID = "A0APP0001"


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    bot_member: bool = True


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    replies: list[str] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(
        default_factory=list
    )  # earlier versions, oldest first
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


class World:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.usergroups: dict[str, list[str]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        # trigger_id -> (issued at, loop time; exchanged already); views.open spends one
        self.triggers: dict[str, tuple[float, bool]] = {}
        self.views: dict[str, dict[str, Any]] = {}  # view id -> the opened view
        self._ts = itertools.count(1)
        self._epoch = int(time.time())

    def next_ts(self) -> str:
        return f"{self._epoch}.{next(self._ts):06d}"

    def add_channel(self, channel_id: str, name: str, **kw: Any) -> Channel:
        self.channels[channel_id] = Channel(id=channel_id, name=name, **kw)
        return self.channels[channel_id]

    def history(self, channel: str) -> list[Message]:
        """Top-level messages of a channel, oldest first."""
        return sorted(
            (
                m
                for (c, _), m in self.messages.items()
                if c == channel and m.thread_ts is None
            ),
            key=lambda m: m.ts,
        )

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Replies of a thread, oldest first (the parent excluded)."""
        parent = self.messages[(channel, ts)]
        return [self.messages[(channel, r)] for r in parent.replies]

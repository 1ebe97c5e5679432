"""Who may do what, on Slack IDs only (never display names).

Empty user and group lists for an action allow everyone; a configured list allows only its
members. User-group membership comes from ``usergroups.users.list``, cached briefly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import AccessSettings

log = logging.getLogger(__name__)


class Action(StrEnum):
    DIAGNOSE = "diagnose"
    RERUN = "rerun"
    ESCALATE = "escalate"
    CLAIM = "claim"
    SHOW_EVIDENCE = "show evidence"
    RESOLVE = "resolve or reopen cases"
    FIX = "run fixes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    message: str


class Authorizer:
    def __init__(
        self, access: AccessSettings, client: AsyncWebClient, group_ttl_s: float = 300.0
    ) -> None:
        self.access = access
        self.client = client
        self.group_ttl_s = group_ttl_s
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def _rule(self, action: Action) -> tuple[tuple[str, ...], tuple[str, ...]]:
        a = self.access
        if action is Action.RERUN:
            return (
                a.rerun_users or a.diagnose_users,
                a.rerun_groups or a.diagnose_groups,
            )
        if action is Action.RESOLVE:
            # its own lists when set; otherwise whoever may re-run
            return (
                a.resolve_users or a.rerun_users or a.diagnose_users,
                a.resolve_groups or a.rerun_groups or a.diagnose_groups,
            )
        if action is Action.ESCALATE:
            return a.escalate_users, a.escalate_groups
        # claiming and reading evidence need the right to diagnose
        return a.diagnose_users, a.diagnose_groups

    async def members(self, group_id: str) -> frozenset[str]:
        now = asyncio.get_running_loop().time()
        cached = self._groups.get(group_id)
        if cached is not None and now - cached[0] < self.group_ttl_s:
            return cached[1]
        try:
            resp = await self.client.usergroups_users_list(usergroup=group_id)
            listed: list[str] = resp.get("users") or []
            users = frozenset(str(u) for u in listed)
        except SlackApiError as exc:
            # fail closed: an unreadable group grants nothing
            log.warning(
                "usergroups.users.list %s failed: %s",
                group_id,
                exc.response.get("error"),
            )
            users = frozenset()
        self._groups[group_id] = (now, users)
        return users

    async def check(
        self, action: Action, user_id: str, channel_id: str
    ) -> Refusal | None:
        """None when allowed; otherwise the (ephemeral) reason."""
        if (
            self.access.allowed_channels
            and channel_id not in self.access.allowed_channels
        ):
            return Refusal(message="migrate-diag is not enabled in this channel.")
        users, groups = self._rule(action)
        if action is Action.FIX:
            users, groups = self.access.fix_users, self.access.fix_groups
            if not users and not groups:  # never open to everyone by default
                return Refusal(message="Fixes are not enabled for anyone here.")
        elif not users and not groups:
            return None
        if user_id in users:
            return None
        for group in groups:
            if user_id in await self.members(group):
                return None
        return Refusal(
            message=f"You are not allowed to {action.value} here. Nothing was run."
        )

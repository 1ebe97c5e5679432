"""Every access rule of bot/authz.py, as a table: who may do what, where, and why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.authz import Action, Authorizer
from bot.settings import AccessSettings

OPS, OTHER = "C0OPS0001", "C0OTHER01"
BOSS, SRE, ONCALL, STRANGER = "U0BOSS001", "U0SRE0001", "U0ONCALL1", "U0STRANGE"
SRE_GROUP, ONCALL_GROUP, BROKEN_GROUP = "S0SRE0001", "S0ONCALL1", "S0BROKEN1"

NOT_IN_CHANNEL = "migrate-diag is not enabled in this channel."


def refused(action: Action) -> str:
    return f"You are not allowed to {action.value} here. Nothing was run."


@dataclass
class UserGroups:
    """``usergroups.users.list`` as Slack answers it; a group it cannot read fails."""

    members: dict[str, list[str]] = field(
        default_factory=lambda: {SRE_GROUP: [SRE], ONCALL_GROUP: [ONCALL]}
    )
    calls: list[str] = field(default_factory=list)

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.calls.append(usergroup)
        if usergroup not in self.members:
            raise SlackApiError(
                "missing_scope", {"ok": False, "error": "missing_scope"}
            )
        return {"ok": True, "users": self.members[usergroup]}


def authorizer(access: AccessSettings, groups: UserGroups | None = None) -> Authorizer:
    return Authorizer(access, cast(AsyncWebClient, groups or UserGroups()))


DIAGNOSERS = AccessSettings(diagnose_users=(BOSS,), diagnose_groups=(SRE_GROUP,))
RERUNNERS = AccessSettings(
    diagnose_users=(BOSS,), diagnose_groups=(SRE_GROUP,), rerun_users=(ONCALL,)
)
RERUN_GROUP = AccessSettings(diagnose_users=(BOSS,), rerun_groups=(ONCALL_GROUP,))
ESCALATORS = AccessSettings(
    diagnose_users=(BOSS,), escalate_groups=(ONCALL_GROUP,), escalate_users=(SRE,)
)
ONE_CHANNEL = AccessSettings(allowed_channels=(OPS,))


@pytest.mark.parametrize(
    ("access", "action", "user", "channel", "reason"),
    [
        # no lists at all: everyone, everywhere, every action but fixes
        *(
            pytest.param(AccessSettings(), a, STRANGER, OTHER, None, id=f"open-{a}")
            for a in Action
            if a is not Action.FIX
        ),
        # fixes change the cloud: empty lists allow nobody, not everybody
        pytest.param(
            AccessSettings(),
            Action.FIX,
            BOSS,
            OPS,
            "Fixes are not enabled for anyone here.",
            id="fix-unset-is-nobody",
        ),
        pytest.param(
            AccessSettings(fix_users=(BOSS,)),
            Action.FIX,
            BOSS,
            OPS,
            None,
            id="fix-user",
        ),
        pytest.param(
            AccessSettings(fix_users=(BOSS,), diagnose_users=(STRANGER,)),
            Action.FIX,
            STRANGER,
            OPS,
            refused(Action.FIX),
            id="fix-not-listed",
        ),
        # allowed_channels limits every action, whoever asks
        *(
            pytest.param(ONE_CHANNEL, a, BOSS, OTHER, NOT_IN_CHANNEL, id=f"chan-{a}")
            for a in Action
        ),
        pytest.param(ONE_CHANNEL, Action.DIAGNOSE, STRANGER, OPS, None, id="chan-in"),
        pytest.param(
            AccessSettings(allowed_channels=(OPS,), diagnose_users=(BOSS,)),
            Action.DIAGNOSE,
            STRANGER,
            OPS,
            refused(Action.DIAGNOSE),
            id="chan-in-user-out",
        ),
        # diagnose: the listed user, or a member of a listed group
        pytest.param(DIAGNOSERS, Action.DIAGNOSE, BOSS, OPS, None, id="diag-user"),
        pytest.param(DIAGNOSERS, Action.DIAGNOSE, SRE, OPS, None, id="diag-group"),
        pytest.param(
            DIAGNOSERS,
            Action.DIAGNOSE,
            STRANGER,
            OPS,
            refused(Action.DIAGNOSE),
            id="diag-stranger",
        ),
        # claim and show evidence need the right to diagnose
        pytest.param(DIAGNOSERS, Action.CLAIM, SRE, OPS, None, id="claim-group"),
        pytest.param(
            DIAGNOSERS,
            Action.CLAIM,
            STRANGER,
            OPS,
            refused(Action.CLAIM),
            id="claim-stranger",
        ),
        pytest.param(
            DIAGNOSERS, Action.SHOW_EVIDENCE, BOSS, OPS, None, id="evidence-user"
        ),
        pytest.param(
            DIAGNOSERS,
            Action.SHOW_EVIDENCE,
            STRANGER,
            OPS,
            "You are not allowed to show evidence here. Nothing was run.",
            id="evidence-stranger",
        ),
        # re-run: its own users when set; its own groups fall back to diagnose's
        pytest.param(DIAGNOSERS, Action.RERUN, SRE, OPS, None, id="rerun-fallback"),
        pytest.param(RERUNNERS, Action.RERUN, ONCALL, OPS, None, id="rerun-own-user"),
        pytest.param(
            RERUNNERS,
            Action.RERUN,
            BOSS,
            OPS,
            refused(Action.RERUN),
            id="rerun-users-replace-diagnose-users",
        ),
        pytest.param(
            RERUNNERS, Action.RERUN, SRE, OPS, None, id="rerun-groups-fallback"
        ),
        pytest.param(
            RERUN_GROUP, Action.RERUN, ONCALL, OPS, None, id="rerun-own-group"
        ),
        pytest.param(
            RERUN_GROUP, Action.RERUN, BOSS, OPS, None, id="rerun-users-fallback"
        ),
        pytest.param(
            RERUN_GROUP,
            Action.RERUN,
            SRE,
            OPS,
            refused(Action.RERUN),
            id="rerun-group-replaces-diagnose-group",
        ),
        # escalate: only its own lists, no fallback to diagnose's
        pytest.param(ESCALATORS, Action.ESCALATE, SRE, OPS, None, id="esc-user"),
        pytest.param(ESCALATORS, Action.ESCALATE, ONCALL, OPS, None, id="esc-group"),
        pytest.param(
            ESCALATORS,
            Action.ESCALATE,
            BOSS,
            OPS,
            refused(Action.ESCALATE),
            id="esc-no-fallback-to-diagnose",
        ),
        pytest.param(
            DIAGNOSERS, Action.ESCALATE, STRANGER, OPS, None, id="esc-unset-is-open"
        ),
    ],
)
async def test_access_rule(
    access: AccessSettings,
    action: Action,
    user: str,
    channel: str,
    reason: str | None,
) -> None:
    """The rule answers allowed (None) or refuses with the reason the user is shown."""
    refusal = await authorizer(access).check(action, user, channel)
    assert (refusal.message if refusal else None) == reason


async def test_unreadable_group_grants_nothing() -> None:
    """A group Slack will not list (missing scope) fails closed, with the usual reason."""
    groups = UserGroups()
    access = AccessSettings(diagnose_groups=(BROKEN_GROUP,))
    refusal = await authorizer(access, groups).check(Action.DIAGNOSE, SRE, OPS)
    assert refusal is not None
    assert refusal.message == refused(Action.DIAGNOSE)
    assert groups.calls == [BROKEN_GROUP]


async def test_group_members_are_cached_within_the_ttl() -> None:
    """Membership is read once per group within the TTL, again after it (ttl 0)."""
    groups = UserGroups()
    access = AccessSettings(diagnose_groups=(SRE_GROUP,))
    cached = authorizer(access, groups)
    for _ in range(3):
        assert await cached.check(Action.DIAGNOSE, SRE, OPS) is None
    assert groups.calls == [SRE_GROUP]
    uncached = Authorizer(access, cast(AsyncWebClient, groups), group_ttl_s=0)
    await uncached.check(Action.DIAGNOSE, SRE, OPS)
    await uncached.check(Action.DIAGNOSE, SRE, OPS)
    assert groups.calls == [SRE_GROUP, SRE_GROUP, SRE_GROUP]


async def test_a_listed_user_needs_no_group_lookup() -> None:
    """A user named directly is allowed without calling usergroups.users.list."""
    groups = UserGroups()
    refusal = await authorizer(DIAGNOSERS, groups).check(Action.DIAGNOSE, BOSS, OPS)
    assert refusal is None
    assert groups.calls == []

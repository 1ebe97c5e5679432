"""Which fixes the root-cause card offers: only what the diagnosis verified, never a cut call."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.fixes.calls import CONFIRM_MAX, CloudCall, confirm_text
from bot.fixes.offers import ABORT, FORCE_COMPLETE, REMOVE_BINDING, fix_buttons
from bot.settings import ActionsSettings, BotSettings
from bot.store import CaseRecord, CaseState
from diagnostics.model import (
    CheckResult,
    Concluded,
    Confidence,
    Diagnosis,
    MigrationKind,
    RootCauseId,
)
from tests.bot.support import scripted_diagnosis

ON = BotSettings(actions=ActionsSettings(enabled=True, cloud="ops-fix"))
PORT = "e24389fe-ee10-5354-ad1d-46c85b44e80e"
CASE = CaseRecord(
    id="case-1",
    vm_id="vm-uuid-1",
    vm_name="cache-02",
    migration_id=None,
    target_host=None,
    kind=None,
    channel="C0OPS",
    parent_ts="1.0",
    thread_ts=None,
    source="slash",
    created_at=datetime(2026, 12, 1, tzinfo=UTC),
    claimed_by=None,
    claimed_at=None,
    state=CaseState.DIAGNOSED,
)


def offered(settings: BotSettings, d: Diagnosis) -> set[str]:
    blocks = [b.to_dict() for b in fix_buttons(settings, CASE, d)]
    return {
        e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]
    }


def running(
    status: str = "running", kind: MigrationKind = MigrationKind.LIVE
) -> Diagnosis:
    d = scripted_diagnosis(
        "cache-02", failing_step=8, verdict=RootCauseId.MIGRATION_TIMEOUT
    )
    assert d.migration is not None
    assert d.root_cause is not None
    return replace(
        d,
        migration=replace(d.migration, id="7", status=status, kind=kind),
        root_cause=replace(d.root_cause, check_id="nova.live-migration-timeout"),
    )


def with_leftover(
    check_id: str, facts: dict[str, str], status: str = "failed"
) -> Diagnosis:
    d = scripted_diagnosis("queue-01")
    assert d.migration is not None
    leftover = CheckResult(
        check_id=check_id,
        title="Leftovers",
        step=7,
        root_cause=RootCauseId.STALE_LEFTOVERS,
        outcome=Concluded(facts=facts, confidence=Confidence.CONFIRMED),
    )
    return replace(
        d,
        migration=replace(d.migration, status=status),
        checks=(*d.checks, leftover),
    )


SEEN = {"stale_binding_port_id": PORT, "stale_binding_host": "cmp-a-02"}


def test_a_running_migration_that_does_not_converge_offers_abort_and_force():
    """Running, live, concluded by the timeout check: both buttons; fixes off: none."""
    assert offered(ON, running()) == {ABORT, FORCE_COMPLETE}
    assert offered(BotSettings(), running()) == set()
    assert (
        offered(BotSettings(actions=ActionsSettings(enabled=True)), running()) == set()
    )


@pytest.mark.parametrize(
    "d",
    [
        pytest.param(running("cancelled"), id="ended"),
        pytest.param(running("running (post-copy)"), id="post-copy"),
        pytest.param(running(kind=MigrationKind.COLD), id="cold"),
        pytest.param(scripted_diagnosis("web-02"), id="another-cause"),
    ],
)
def test_no_abort_where_it_does_not_apply(d):
    """Ended (even timed out), in post-copy, cold, or another cause: no Abort/Force."""
    assert offered(ON, d) & {ABORT, FORCE_COMPLETE} == set()


@pytest.mark.parametrize("check_id", ["nova.stale-leftovers", "nova.leftovers-on-dest"])
def test_a_binding_seen_in_neutron_offers_its_removal(check_id):
    """The primary cause or a leftover that would break a retry: the removal button."""
    assert offered(ON, with_leftover(check_id, SEEN)) == {REMOVE_BINDING}


@pytest.mark.parametrize(
    "d",
    [
        pytest.param(
            with_leftover(
                "nova.stale-leftovers",
                {"leftover_port_id": PORT, "binding_host": "cmp-a-02"},
            ),
            id="only-named-by-the-failure-text",
        ),
        pytest.param(
            with_leftover("nova.leftovers-on-dest", SEEN, status="running"),
            id="move-under-way",
        ),
        pytest.param(
            with_leftover(
                "nova.leftovers-on-dest",
                SEEN | {"stale_binding_host": "cmp-a-01"},
            ),
            id="the-vms-own-host",
        ),
    ],
)
def test_no_removal_where_the_binding_is_not_a_seen_leftover(d):
    """Named only by the error text, a move under way, or the VM's own host: none."""
    assert offered(ON, d) == set()


def test_every_dialog_names_the_whole_call_and_what_it_cannot_undo():
    """The confirm text holds the exact call uncut, within Slack's limit."""
    for b in fix_buttons(ON, CASE, running()) + fix_buttons(
        ON, CASE, with_leftover("nova.leftovers-on-dest", SEEN)
    ):
        for e in b.to_dict().get("elements", []):
            if "confirm" not in e:
                continue
            text = e["confirm"]["text"]["text"]
            assert len(text) <= CONFIRM_MAX
            assert text.startswith("Calls ")
            assert "not be undone" in text.lower() or "cannot be undone" in text.lower()
            assert json.loads(e["value"])["token"]


def test_a_call_too_long_for_the_dialog_is_not_offered():
    """A path near Slack's limit drops the prose first; one beyond it drops the button."""
    host = "h" * 180
    call = CloudCall(
        service="network", method="DELETE", path=f"/ports/{PORT}/bindings/{host}"
    )
    text = confirm_text(call, "x" * 200)
    assert text == f"Calls {call.exact()}. Cannot be undone."
    assert (
        confirm_text(replace(call, path=f"/ports/{PORT}/bindings/{'h' * 253}"), "")
        is None
    )

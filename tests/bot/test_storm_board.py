"""Storm groups: which members share a card, the parent's breakdown, O(causes) messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from bot.app import build_client
from bot.causes import NOT_DIAGNOSED, cause_of
from bot.pacing import ChannelPacer
from bot.posting.incidents import render_storm_parent
from bot.posting.storm import INLINE_VMS, Group, Storm, StormBoard, breakdown_text
from bot.posting.writer import SlackWriter
from bot.services import OnEvent
from bot.settings import BotSettings
from bot.store import Store
from bot.textsafe import code_span
from diagnostics.model import (
    Confidence,
    Diagnosis,
    MigrationRef,
    Place,
    RootCauseId,
    RunsOn,
    VmNotFound,
)
from tests.bot.support import SECRETS, scripted_diagnosis
from tests.fakeslack import FakeSlack
from tests.fakeslack.blocks import validate_blocks

OPS = "C0OPS0001"
PER_CAUSE = INLINE_VMS + 15  # a group too long to list inline: its list is a file
TITLES = {
    "libvirt_tls": "Destination libvirt TLS certificate expired",
    "insufficient_resources": "Not enough free memory on the destination",
    "port_binding": "The port could not be bound on the destination",
}


def diagnosis_of(vm: str, cause: str, host: str = "cmp-a-02") -> Diagnosis:
    """A scripted diagnosis of ``vm`` whose verdict is ``cause``, fixed on ``host``."""
    d = scripted_diagnosis(vm, verdict=RootCauseId(cause))
    assert d.root_cause is not None
    fixes = tuple(
        replace(r, on=RunsOn(place=Place.HOST, name=host))
        for r in d.root_cause.remediation
    )
    finding = replace(d.root_cause, title=TITLES[cause], remediation=fixes)
    return replace(d, vm=replace(d.vm, name=vm, id=f"uuid-{vm}"), root_cause=finding)


@dataclass
class CauseDiagnoser:
    """NOT the engine: each VM's verdict from a table; VMs not in it are not found."""

    causes: dict[str, str]
    calls: list[MigrationRef] = field(default_factory=list)

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        self.calls.append(ref)
        cause = self.causes.get(ref.server)
        if cause is None:
            raise VmNotFound(ref.server)
        return diagnosis_of(ref.server, cause)


# ---- which members share a group -----------------------------------------------------------


def test_same_verdict_on_the_same_host_is_one_group() -> None:
    assert cause_of(diagnosis_of("a", "libvirt_tls")) == cause_of(
        diagnosis_of("b", "libvirt_tls")
    )


def test_the_same_verdict_fixed_on_another_host_is_another_group() -> None:
    """Two expired certificates on two hosts are two cards, never one."""
    one = cause_of(diagnosis_of("a", "libvirt_tls", host="cmp-a-02"))
    other = cause_of(diagnosis_of("b", "libvirt_tls", host="cmp-a-03"))
    assert one != other
    assert one.where == "cmp-a-02"


def test_confidence_and_cause_split_groups() -> None:
    d = diagnosis_of("a", "libvirt_tls")
    assert d.root_cause is not None
    likely = replace(d, root_cause=replace(d.root_cause, confidence=Confidence.LIKELY))
    assert cause_of(d) != cause_of(likely)
    assert cause_of(d) != cause_of(diagnosis_of("a", "insufficient_resources"))


def test_no_finding_is_the_healthy_group() -> None:
    d = replace(diagnosis_of("a", "libvirt_tls"), root_cause=None)
    key = cause_of(d)
    assert key.root_cause == "healthy"
    assert key != NOT_DIAGNOSED


# ---- the parent's breakdown ----------------------------------------------------------------


def _storm(counts: dict[tuple[str, str | None], int], expected: int) -> Storm:
    storm = Storm(channel=OPS, parent_ts="1.0", expected=expected, title="t")
    for (cause, host), n in counts.items():
        d = diagnosis_of("x", cause, host=host or "h")
        key = cause_of(d)
        if host is None:
            key = replace(key, hosts=())
        storm.groups[key] = Group(
            key=key,
            title=TITLES[cause],
            example=d,
            example_run="run-1",
            count=n,
            vms=[(f"vm-{i}", f"case-{i}") for i in range(min(n, 100))],
        )
    return storm


def test_breakdown_names_counts_causes_and_hosts_largest_first() -> None:
    storm = _storm(
        {("insufficient_resources", None): 10, ("libvirt_tls", "cmp-a-02"): 990}, 1000
    )
    assert breakdown_text(storm) == (
        "1,000 VMs failed: 990 `libvirt_tls` on cmp-a-02 — "
        "Destination libvirt TLS certificate expired; "
        "10 `insufficient_resources` — Not enough free memory on the destination"
    )


def test_breakdown_counts_members_still_being_diagnosed() -> None:
    storm = _storm({("libvirt_tls", "cmp-a-02"): 3}, 5)
    assert breakdown_text(storm).startswith("5 VMs failed: 3 `libvirt_tls`")
    assert breakdown_text(storm).endswith("; 2 still being diagnosed")


def test_parent_fits_slack_with_many_causes() -> None:
    counts = {(c, f"cmp-{i:03d}"): i + 1 for i in range(60) for c in ["libvirt_tls"]}
    storm = _storm(counts, 2000)
    blocks, text = render_storm_parent(storm)
    assert validate_blocks(blocks, text_cap=12_000) is None
    assert len(text) <= 3000
    assert "40 more causes in the thread" in str(blocks)


def test_hostile_names_stay_inside_code_spans() -> None:
    d = diagnosis_of("x", "libvirt_tls", host="cmp`*bold*`<!here>")
    key = cause_of(d)
    group = Group(
        key=key, title=TITLES["libvirt_tls"], example=d, example_run="r", count=1
    )
    assert "<!here>" not in group.label()
    assert code_span(key.root_cause, 60) in group.label()


# ---- O(causes) messages through the real writer and the Slack stand-in ----------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(post_rate_per_s=50, post_burst=5)
    fake.world.add_channel(OPS, "ops")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'storm.sqlite'}")
    yield opened
    await opened.close()


async def _storm_of(
    slack: FakeSlack, store: Store, n: int
) -> tuple[list[str], list[str]]:
    """Record ``n`` members of 3 causes; the methods called, and the thread's texts."""
    settings = BotSettings.model_validate({"slack": {"api_base_url": slack.api_url}})
    client = build_client(settings, SECRETS.bot_token)
    writer = SlackWriter(client, ChannelPacer(rate_per_s=40, burst=4))
    board = StormBoard(writer, store, render_storm_parent, updates_per_min=6000)
    parent = await writer.post(OPS, None, "storm")
    await board.expect(
        OPS, parent, count=n, title="t", incident_id="inc-1", opened_at="now"
    )
    causes = list(TITLES)
    for i in range(n):
        vm = f"vm-{i:04d}"
        await board.record(
            OPS,
            parent,
            case_id=f"case-{i}",
            vm=vm,
            diagnosis=diagnosis_of(vm, causes[i % 3]),
            run_id=f"run-{i}",
        )
    await board.flush(OPS, parent)
    await board.close()
    methods = [c.method for c in slack.calls()]
    return methods, [m.text for m in slack.thread(OPS, parent)]


async def test_a_storm_posts_per_cause_not_per_vm(
    slack: FakeSlack, store: Store
) -> None:
    # each member is a store write (SQLite commits cost tens of ms on a loaded disk)
    methods, thread = await _storm_of(slack, store, 3 * PER_CAUSE)
    # the parent, three group replies, three list files (more VMs each than INLINE_VMS)
    assert methods.count("chat.postMessage") == 1 + 3
    assert methods.count("files.completeUploadExternal") == 3
    assert len(thread) == 6
    assert sorted(t for t in thread if t.startswith(f"{PER_CAUSE} VMs")) == sorted(
        f"{PER_CAUSE} VMs: `{c}` on cmp-a-02 — {t}" for c, t in TITLES.items()
    )
    assert slack.rejected_calls() == []


async def test_a_small_storm_names_its_vms_inline(
    slack: FakeSlack, store: Store
) -> None:
    methods, thread = await _storm_of(slack, store, 3 * INLINE_VMS)
    assert methods.count("chat.postMessage") == 1 + 3
    assert "files.completeUploadExternal" not in methods
    assert len(thread) == 3


async def test_a_member_that_could_not_be_diagnosed_is_counted_with_why(
    slack: FakeSlack, store: Store
) -> None:
    settings = BotSettings.model_validate({"slack": {"api_base_url": slack.api_url}})
    writer = SlackWriter(
        build_client(settings, SECRETS.bot_token), ChannelPacer(rate_per_s=40, burst=4)
    )
    board = StormBoard(writer, store, render_storm_parent)
    parent = await writer.post(OPS, None, "storm")
    await board.expect(
        OPS, parent, count=1, title="t", incident_id="i", opened_at="now"
    )
    await board.record(
        OPS,
        parent,
        case_id="c",
        vm="gone-vm",
        diagnosis=None,
        run_id=None,
        reason="no server gone-vm",
    )
    await board.flush(OPS, parent)
    await board.close()
    final = slack.message(OPS, parent)
    assert final.text == "1 VM failed: 1 `not-diagnosed` — could not be diagnosed"
    (reply,) = slack.thread(OPS, parent)
    assert "gone-vm (no server gone-vm)" in str(reply.blocks)


async def test_a_group_reply_slack_did_not_take_is_posted_again(
    slack: FakeSlack, store: Store
) -> None:
    """Slack answers 500 to the group's reply (no client retries left): the board posts it
    again, and its later update and the parent's land; nothing is lost."""
    settings = BotSettings.model_validate(
        {"slack": {"api_base_url": slack.api_url, "retries": 0}}
    )
    writer = SlackWriter(
        build_client(settings, SECRETS.bot_token), ChannelPacer(rate_per_s=40, burst=4)
    )
    board = StormBoard(writer, store, render_storm_parent, updates_per_min=6000)
    parent = await writer.post(OPS, None, "storm")
    await board.expect(
        OPS, parent, count=2, title="t", incident_id="i", opened_at="now"
    )
    slack.inject("chat.postMessage", status=500)
    for n in range(2):
        await board.record(
            OPS,
            parent,
            case_id=f"c{n}",
            vm=f"vm-{n}",
            diagnosis=diagnosis_of(f"vm-{n}", "libvirt_tls"),
            run_id=f"r{n}",
        )
    await board.flush(OPS, parent)
    await board.flush(OPS, parent)  # the second pass re-posts and updates
    await board.close()
    (reply,) = slack.thread(OPS, parent)
    assert reply.text.startswith("2 VMs: `libvirt_tls`")
    assert slack.message(OPS, parent).text.startswith("2 VMs failed: 2 `libvirt_tls`")
    assert [c.status for c in slack.calls("chat.postMessage")] == [200, 500, 200]

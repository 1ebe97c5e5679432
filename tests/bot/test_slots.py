"""Diagnosis slots: a slash command is never queued behind a storm's automatic diagnoses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.settings import SlackSettings
from bot.slots import DiagnosisSlots
from diagnostics.model import Diagnosis, MigrationRef
from tests.bot.conftest import OPS
from tests.bot.support import OnEvent, PagerDutyEndpoint, bot_settings, launch
from tests.bot.test_storm_board import diagnosis_of
from tests.fakeslack import FakeSlack
from tests.intake.conftest import wait_for

OPERATOR = "U0OPER001"


# ---- the slots on their own ----------------------------------------------------------------


async def _hold(
    slots: DiagnosisSlots,
    *,
    background: bool,
    started: list[str],
    name: str,
    release: asyncio.Event,
) -> None:
    slot = slots.background() if background else slots.interactive()
    async with slot:
        started.append(name)
        await release.wait()


async def test_automatic_runs_never_take_the_reserved_slot() -> None:
    """Three slots, one reserved: ten automatic runs hold two, a person starts at once."""
    slots, started, release = DiagnosisSlots(3, reserved=1), [], asyncio.Event()
    storm = [
        asyncio.create_task(
            _hold(
                slots,
                background=True,
                started=started,
                name=f"auto-{n}",
                release=release,
            )
        )
        for n in range(10)
    ]
    await wait_for(lambda: slots.waiting == 8)
    assert started == ["auto-0", "auto-1"]
    person = asyncio.create_task(
        _hold(slots, background=False, started=started, name="slash", release=release)
    )
    await wait_for(lambda: "slash" in started)
    assert started == ["auto-0", "auto-1", "slash"]
    release.set()
    await asyncio.gather(person, *storm)
    assert slots.running == 0


async def test_a_waiting_person_takes_the_next_free_slot_before_the_storm() -> None:
    """No slot reserved and all busy: the next slot that frees goes to the person."""
    slots = DiagnosisSlots(2, reserved=0)
    started: list[str] = []
    gates = [asyncio.Event() for _ in range(6)]
    storm = [
        asyncio.create_task(
            _hold(
                slots,
                background=True,
                started=started,
                name=f"auto-{n}",
                release=gates[n],
            )
        )
        for n in range(6)
    ]
    await wait_for(lambda: slots.waiting == 4)
    person_gate = asyncio.Event()
    person = asyncio.create_task(
        _hold(
            slots, background=False, started=started, name="slash", release=person_gate
        )
    )
    await wait_for(lambda: slots.waiting == 5)
    gates[0].set()  # one automatic diagnosis ends: one slot's time
    await wait_for(lambda: len(started) == 3)
    assert started == ["auto-0", "auto-1", "slash"]
    person_gate.set()
    for gate in gates:
        gate.set()
    await asyncio.gather(person, *storm)
    assert started[3:] == [f"auto-{n}" for n in range(2, 6)]


async def test_a_cancelled_waiter_gives_nothing_away() -> None:
    """A waiter cancelled while queued (a lost lease) leaves the count as it was."""
    slots, started, release = DiagnosisSlots(1), [], asyncio.Event()
    first = asyncio.create_task(
        _hold(slots, background=True, started=started, name="a", release=release)
    )
    second = asyncio.create_task(
        _hold(slots, background=True, started=started, name="b", release=release)
    )
    await wait_for(lambda: slots.waiting == 1)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await first
    assert (slots.running, slots.waiting, started) == (0, 0, ["a"])


def test_one_slot_cannot_be_reserved() -> None:
    """With one slot, reserving it would starve automatic posts: only priority applies."""
    assert DiagnosisSlots(1, reserved=1).reserved == 0


# ---- through the bot: a storm queued, then a slash command ---------------------------------


@dataclass
class GatedDiagnoser:
    """NOT the engine: storm members wait for the test; anything else finishes at once."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)

    async def diagnose(
        self, ref: MigrationRef, on_event: OnEvent | None = None
    ) -> Diagnosis:
        self.started.append(ref.server)
        if ref.server.startswith("storm-"):
            await self.gate.wait()
        return diagnosis_of(ref.server, "libvirt_tls")


async def test_a_slash_diagnosis_during_a_storm_starts_at_once(
    fake: FakeSlack, pagerduty: PagerDutyEndpoint, tmp_path: Path
) -> None:
    """40 storm members queued on 2 slots (one reserved): a slash command's diagnosis
    starts while the storm still holds its slot, and is posted before the storm ends."""
    base = bot_settings(fake, tmp_path, pagerduty)
    slack = SlackSettings.model_validate(
        {**base.slack.model_dump(), "max_concurrent_diagnoses": 2}
    )
    diagnoser = GatedDiagnoser()
    bot, store = await launch(base.model_copy(update={"slack": slack}), diagnoser, fake)
    try:
        parent = await bot.poster.writer.post(OPS, None, "storm")
        members = [
            asyncio.create_task(
                bot.poster.post_case(
                    f"case-{n}",
                    MigrationRef(server=f"storm-{n}"),
                    OPS,
                    thread_ts=parent,
                )
            )
            for n in range(40)
        ]
        await wait_for(lambda: bot.services.diagnosis_slots.waiting == 39)
        (first,) = diagnoser.started  # whichever member reached its slot first
        await fake.slash("/migrate-diag", "web-02", user=OPERATOR, channel=OPS)
        # the storm has not moved (its one slot is still held), the slash ran anyway
        await wait_for(lambda: "web-02" in diagnoser.started)
        assert diagnoser.started == [first, "web-02"]
        await wait_for(
            lambda: any(
                "web-02" in m.text for m in fake.history(OPS) if m.thread_ts is None
            )
        )
        diagnoser.gate.set()
        await asyncio.gather(*members)
        assert len(diagnoser.started) == 41
    finally:
        await bot.close()
        await store.close()

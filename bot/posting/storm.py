"""A storm in Slack: one parent with the breakdown, one reply per root-cause group.

Each member of an incident is diagnosed on its own (and its run stored), but not posted on
its own: :class:`StormBoard` puts it into its group (:func:`bot.causes.cause_of`).
The first member of a group posts the group's reply in the incident thread (the shared
card and the VMs); later members only make the reply and the parent's breakdown *dirty*.
One refresher per incident rewrites what is dirty, spending chat.update from one budget
(Slack's Tier 3, ~50 a minute), so N members cost O(groups) messages and O(groups)
updates per refresh, whatever N is. A long VM list goes up as a file once the storm has
been quiet for ``QUIET_S`` with every member in. Any one VM's full diagnosis is posted on demand (``show_case``).

Memory per incident: each group keeps one representative diagnosis and its VMs' labels
(a name and a case id); diagnoses of the other members live only in the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.cards import render_root_cause
from bot.causes import NOT_DIAGNOSED, CauseKey, cause_of
from bot.pacing import ChannelPacer
from bot.posting.writer import DeliveryFailed, SlackWriter
from bot.rendering import TOP_TEXT_MAX, fit, md
from bot.textsafe import code_span, escaped_within, truncate
from diagnostics.model import Diagnosis

log = logging.getLogger(__name__)

SHOW_VM = "storm.show-vm"  # the group reply's select: one VM's full diagnosis
INLINE_VMS = 25  # VMs named in the reply itself; the rest go in a file
SELECT_MAX = 100  # Slack: options of one static select
UPDATES_PER_MIN = 50  # chat.update is Tier 3
QUIET_S = 10.0  # quiet this long: long lists go up as files, the refresher ends
WRITE_ATTEMPTS = (
    5  # extra passes for writes Slack did not take (after the client's retries)
)
TEXT_CAUSES = 10  # causes named in the parent's fallback text (the blocks name more)


@dataclass(slots=True)
class Group:
    """Members of one incident that share a cause (and so a card)."""

    key: CauseKey
    title: str  # the finding's title, or why the member was not diagnosed
    example: Diagnosis | None  # the card's diagnosis (the group's first member)
    example_run: str | None
    vms: list[tuple[str, str]] = field(default_factory=list)  # (label, case id)
    reply: asyncio.Future[str] | None = None
    shown: int = 0  # len(vms) the reply last showed
    listed: int = 0  # len(vms) the last list file held

    def label(self) -> str:
        """``libvirt_tls on cmp-a-02 — <title>``, the breakdown's line for the group."""
        # host names and titles come from the cloud: escaped, never Slack markup
        where = f" on {escaped_within(self.key.where, 80)}" if self.key.where else ""
        title = escaped_within(self.title, 120)
        return f"{code_span(self.key.root_cause, 60)}{where} — {title}"


@dataclass(slots=True)
class Storm:
    channel: str
    parent_ts: str
    incident_id: str = ""
    opened_at: str = ""  # "2026-12-01 22:40:00" for the parent's context line
    groups: dict[CauseKey, Group] = field(default_factory=dict)
    expected: int = 0  # members the incident has (from its row); some still diagnosing
    title: str = ""
    resolved: int = 0  # members whose case was resolved
    # posted or fed by this process: its groups are whole (after a restart they are not,
    # and the parent is left as it was rather than shown with nothing diagnosed)
    known: bool = False
    failures: int = 0  # writes that did not land, retried up to WRITE_ATTEMPTS
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    parent_dirty: bool = False
    refresher: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def settled(self) -> int:
        return sum(len(g.vms) for g in self.groups.values())

    def breakdown(self) -> list[tuple[int, str]]:
        """(count, label) per group, largest first."""
        rows = [(len(g.vms), g.label()) for g in self.groups.values()]
        return sorted(rows, key=lambda row: -row[0])


def breakdown_text(storm: Storm) -> str:
    """``1,000 VMs failed: 990 `libvirt_tls` on cmp-a-02 — …; 10 `insufficient_resources` — …``."""
    total = max(storm.expected, storm.settled)
    rows = storm.breakdown()
    parts = [f"{count:,} {label}" for count, label in rows[:TEXT_CAUSES]]
    if len(rows) > TEXT_CAUSES:
        parts.append(f"{len(rows) - TEXT_CAUSES} more causes")
    pending = total - storm.settled
    if pending > 0:
        parts.append(f"{pending:,} still being diagnosed")
    noun = "VM" if total == 1 else "VMs"
    text = f"{total:,} {noun} failed: " + "; ".join(parts or ["diagnosing"])
    return truncate(text, TOP_TEXT_MAX)


def render_group(group: Group, runbook_url: str | None) -> list[Block]:
    """The group's reply: how many, the shared card, the VMs, a picker for one VM."""
    n = len(group.vms)
    noun = "VM" if n == 1 else "VMs"
    blocks: list[Block] = [
        SectionBlock(text=md(f"*{n:,} {noun}* · {group.label()}")),
    ]
    if group.example is not None and group.example_run is not None:
        blocks.extend(render_root_cause(group.example, group.example_run, runbook_url))
        blocks.append(
            ContextBlock(
                elements=[
                    md(
                        "Card from the diagnosis of "
                        f"{code_span(group.example.vm.name, 80)}; every VM listed was "
                        "diagnosed on its own and reached this verdict on the same hosts."
                    )
                ]
            )
        )
    names = ", ".join(code_span(label, 60) for label, _ in group.vms[:INLINE_VMS])
    more = n - INLINE_VMS
    if more > 0:
        names += f" and {more:,} more (the full list is a file in this thread)"
    blocks.append(SectionBlock(text=md(names or "(none yet)")))
    options = [
        Option(text=truncate(label, 75), value=case_id)
        for label, case_id in group.vms[:SELECT_MAX]
    ]
    if options:
        blocks.append(
            ActionsBlock(
                elements=[
                    StaticSelectElement(
                        action_id=SHOW_VM,
                        placeholder="Show one VM's diagnosis",
                        options=options,
                    )
                ]
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                md("Any VM of this storm: `@migrate-diag show <vm>` in this thread.")
            ]
        )
    )
    return blocks


def group_text(group: Group) -> str:
    n = len(group.vms)
    return truncate(f"{n:,} VM{'s' if n != 1 else ''}: {group.label()}", 3000)


def vm_list(group: Group) -> str:
    return "\n".join(label for label, _ in group.vms) + "\n"


RenderParent = Callable[[Storm], tuple[list[dict[str, Any]], str]]


class StormBoard:
    """Every open storm of this replica: groups, their replies, the parents' breakdowns."""

    def __init__(
        self,
        writer: SlackWriter,
        render_parent: RenderParent,
        *,
        runbook_url: str | None = None,
        updates_per_min: float = UPDATES_PER_MIN,
    ) -> None:
        self.writer = writer
        self.render_parent = render_parent
        self.runbook_url = runbook_url
        # one budget for every chat.update of the storms (the key is not a channel)
        self.updates = ChannelPacer(rate_per_s=updates_per_min / 60, burst=3)
        self._storms: dict[tuple[str, str], Storm] = {}

    def storm(self, channel: str, parent_ts: str) -> Storm:
        key = (channel, parent_ts)
        found = self._storms.get(key)
        if found is None:
            found = self._storms[key] = Storm(channel=channel, parent_ts=parent_ts)
        return found

    def get(self, channel: str, parent_ts: str) -> Storm | None:
        return self._storms.get((channel, parent_ts))

    def expect(
        self,
        channel: str,
        parent_ts: str,
        *,
        count: int,
        title: str,
        incident_id: str,
        opened_at: str,
        resolved: int = 0,
        shown: bool = False,
    ) -> None:
        """The incident row says it has ``count`` members: the parent shows it.

        ``shown``: the parent was just posted with these values (nothing to update).
        """
        storm = self.storm(channel, parent_ts)
        storm.incident_id, storm.opened_at = incident_id, opened_at
        storm.known = storm.known or shown
        changed = (count, title, resolved) != (
            storm.expected,
            storm.title,
            storm.resolved,
        )
        storm.expected, storm.title, storm.resolved = count, title, resolved
        if changed and not shown:
            self._dirty(storm, parent=True)

    def record(
        self,
        channel: str,
        parent_ts: str,
        *,
        case_id: str,
        vm: str,
        diagnosis: Diagnosis | None,
        run_id: str | None,
        reason: str | None = None,
    ) -> Group:
        """One member is settled: diagnosed (``diagnosis``) or not (``reason``)."""
        storm = self.storm(channel, parent_ts)
        storm.known = True
        key = cause_of(diagnosis) if diagnosis is not None else NOT_DIAGNOSED
        group = storm.groups.get(key)
        if group is None:
            if diagnosis is not None and diagnosis.root_cause is not None:
                title = diagnosis.root_cause.title
            elif diagnosis is not None:
                title = "no failure found"
            else:
                title = "could not be diagnosed"
            group = storm.groups[key] = Group(
                key=key, title=title, example=diagnosis, example_run=run_id
            )
        group.vms.append((vm if reason is None else f"{vm} ({reason})", case_id))
        if group.reply is None:
            # the group's first member: its reply, in the thread's order, at once
            group.shown = len(group.vms)
            group.reply = self.writer.reply(
                channel,
                parent_ts,
                fit(render_group(group, self.runbook_url)),
                group_text(group),
            )
        self._dirty(storm, parent=True)
        return group

    def _dirty(self, storm: Storm, *, parent: bool) -> None:
        storm.parent_dirty = storm.parent_dirty or parent
        storm.dirty.set()
        if storm.refresher is None or storm.refresher.done():
            storm.refresher = asyncio.create_task(
                self._refresh(storm), name=f"storm-{storm.parent_ts}"
            )

    async def _refresh(self, storm: Storm) -> None:
        """Rewrite what changed, within the update budget, until quiet."""
        while True:
            try:
                async with asyncio.timeout(QUIET_S):
                    await storm.dirty.wait()
            except TimeoutError:
                # quiet: the lists are final for now (a later member re-uploads its group's)
                if storm.settled >= storm.expected > 0:
                    async with storm.lock:
                        await self._upload_lists(storm)
                return
            try:
                await self._apply(storm)
            except Exception:
                log.exception("refreshing storm %s failed", storm.parent_ts)

    async def _apply(self, storm: Storm) -> None:
        async with storm.lock:
            storm.dirty.clear()
            await self._apply_locked(storm)

    async def _apply_locked(self, storm: Storm) -> None:
        if storm.parent_dirty and storm.known:
            storm.parent_dirty = False
            blocks, text = self.render_parent(storm)
            if not await self._update(storm.channel, storm.parent_ts, blocks, text):
                storm.parent_dirty = self._again(storm)
        for group in list(storm.groups.values()):
            if group.reply is None or group.shown == len(group.vms):
                continue
            try:
                ts = await group.reply
            except DeliveryFailed as exc:
                # the writer logged it; post the reply again unless no retry can help
                if not exc.permanent and self._again(storm):
                    group.shown = len(group.vms)
                    group.reply = self.writer.reply(
                        storm.channel,
                        storm.parent_ts,
                        fit(render_group(group, self.runbook_url)),
                        group_text(group),
                    )
                continue
            shown, group.shown = group.shown, len(group.vms)
            rendered = fit(render_group(group, self.runbook_url)), group_text(group)
            if not await self._update(storm.channel, ts, *rendered) and self._again(
                storm
            ):
                group.shown = shown  # try again on the next pass

    async def _update(
        self, channel: str, ts: str, blocks: list[dict[str, Any]], text: str
    ) -> bool:
        async with self.updates.slot("chat.update"):
            return await self.writer.update(channel, ts, blocks, text)

    @staticmethod
    def _again(storm: Storm) -> bool:
        """A write did not land: another pass, at most ``WRITE_ATTEMPTS`` per storm."""
        storm.failures += 1
        if storm.failures > WRITE_ATTEMPTS:
            return False
        storm.dirty.set()  # the refresher comes round again, paced by the budget
        return True

    async def _upload_lists(self, storm: Storm) -> None:
        """Every member is in: groups too long to name inline get their list as a file."""
        client = self.writer.client
        for group in list(storm.groups.values()):
            n = len(group.vms)
            if n <= INLINE_VMS or group.listed == n:
                continue
            group.listed = n
            content = vm_list(group)
            name = f"storm-{storm.parent_ts}-{group.key.root_cause}.txt"
            title = f"{n:,} VMs: {group.key.root_cause}"

            async def upload(
                content: str = content, name: str = name, title: str = title
            ) -> None:
                async with self.writer.pacer.slot(storm.channel):
                    await client.files_upload_v2(
                        channel=storm.channel,
                        thread_ts=storm.parent_ts,
                        content=content,
                        filename=name,
                        title=title,
                    )

            self.writer.submit(storm.channel, storm.parent_ts, upload)

    async def flush(self, channel: str, parent_ts: str) -> None:
        """Until the storm's replies, updates and files so far are in Slack (tests, bench)."""
        storm = self.get(channel, parent_ts)
        if storm is None:
            return
        await self._apply(storm)  # after the refresher's own pass, if it is in one
        async with storm.lock:
            await self._upload_lists(storm)
        await self.writer.flush(channel, parent_ts)

    def close(self) -> None:
        for storm in self._storms.values():
            if storm.refresher is not None:
                storm.refresher.cancel()

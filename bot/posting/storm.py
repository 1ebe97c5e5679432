"""A storm in Slack: one parent with the breakdown, one reply per root-cause group.

Each member of an incident is diagnosed on its own (and its run stored), but not posted on
its own: :class:`StormBoard` writes it into its group (:func:`bot.causes.cause_of`) in the
store (:mod:`bot.store.storm_repo`), and the parent and the replies are rendered from the
store. Any replica may write members; one at a time holds the board's lease and refreshes
it: it posts each new group's reply (claimed in the store, so exactly one replica posts
it) and rewrites what changed, spending chat.update from one budget (Slack's Tier 3, ~50
a minute), so N members cost O(groups) messages and O(groups) updates per refresh,
whatever N is. While it holds the lease it polls the store for other replicas' members;
after ``QUIET_S`` with nothing new it lists long groups in a file and lets the lease go.
A replica that starts (or any replica, every lease period) resumes boards whose refresher
died (:meth:`StormBoard.resume`). Any one VM's full diagnosis is posted on demand
(``show_case``).

Memory: nothing per VM past the write. A refresh reads the groups' counts and at most
``SELECT_MAX`` labels per group; each group's card diagnosis is cached while its board
is being refreshed (O(groups)).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
from bot.store import Store
from bot.store.storm_repo import BoardRecord, GroupRecord, StormRepo
from bot.textsafe import code_span, escaped_within, truncate
from bot.times import utcnow
from diagnostics.model import Diagnosis

log = logging.getLogger(__name__)

SHOW_VM = "storm.show-vm"  # the group reply's select: one VM's full diagnosis
INLINE_VMS = 25  # VMs named in the reply itself; the rest go in a file
SELECT_MAX = 100  # Slack: options of one static select
UPDATES_PER_MIN = 50  # chat.update is Tier 3
QUIET_S = 10.0  # quiet this long: long lists go up as files, the lease is let go
POLL_S = 1.0  # the lease holder looks for other replicas' members this often
LEASE_S = 30.0  # a board's refresher lease; renewed on every pass
RESUME_WITHIN_S = 86400.0  # boards changed this recently are resumed when stale
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
    count: int  # members in the store
    vms: list[tuple[str, str]] = field(default_factory=list)  # (label, case id), first

    def label(self) -> str:
        """``libvirt_tls on cmp-a-02 — <title>``, the breakdown's line for the group."""
        # host names and titles come from the cloud: escaped, never Slack markup
        where = f" on {escaped_within(self.key.where, 80)}" if self.key.where else ""
        title = escaped_within(self.title, 120)
        return f"{code_span(self.key.root_cause, 60)}{where} — {title}"


@dataclass(slots=True)
class Storm:
    """What a storm's parent shows, as read from the store for one render."""

    channel: str
    parent_ts: str
    incident_id: str = ""
    opened_at: str = ""  # "2026-12-01 22:40:00" for the parent's context line
    groups: dict[CauseKey, Group] = field(default_factory=dict)
    expected: int = 0  # members the incident has (from its row); some still diagnosing
    title: str = ""
    resolved: int = 0  # members whose case was resolved

    @property
    def settled(self) -> int:
        return sum(g.count for g in self.groups.values())

    def breakdown(self) -> list[tuple[int, str]]:
        """(count, label) per group, largest first."""
        rows = [(g.count, g.label()) for g in self.groups.values()]
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
    n = group.count
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
    n = group.count
    return truncate(f"{n:,} VM{'s' if n != 1 else ''}: {group.label()}", 3000)


def vm_list(labels: list[tuple[str, str]]) -> str:
    return "\n".join(label for label, _ in labels) + "\n"


RenderParent = Callable[[Storm], tuple[list[dict[str, Any]], str]]


@dataclass(slots=True)
class _Local:
    """This replica's handle on one board: no member state, only the refresher's."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one pass at a time
    refresher: asyncio.Task[None] | None = None
    failures: int = 0  # writes that did not land, retried up to WRITE_ATTEMPTS
    examples: dict[str, Diagnosis | None] = field(default_factory=dict)  # per group


def _title(diagnosis: Diagnosis | None) -> str:
    if diagnosis is not None and diagnosis.root_cause is not None:
        return diagnosis.root_cause.title
    if diagnosis is not None:
        return "no failure found"
    return "could not be diagnosed"


class StormBoard:
    """The storms of the store, as this replica writes and (when it holds a board's
    lease) refreshes them."""

    def __init__(
        self,
        writer: SlackWriter,
        store: Store,
        render_parent: RenderParent,
        *,
        runbook_url: str | None = None,
        updates_per_min: float = UPDATES_PER_MIN,
        owner: str | None = None,
        lease_s: float = LEASE_S,
        poll_s: float = POLL_S,
        quiet_s: float = QUIET_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.writer = writer
        self.store = store
        self.repo = StormRepo(store)
        self.render_parent = render_parent
        self.runbook_url = runbook_url
        self.owner = owner or f"board-{uuid.uuid4().hex[:12]}"
        self.lease_s, self.poll_s, self.quiet_s = lease_s, poll_s, quiet_s
        self.clock = clock
        # one budget for every chat.update of the storms (the key is not a channel)
        self.updates = ChannelPacer(rate_per_s=updates_per_min / 60, burst=3)
        self._boards: dict[str, _Local] = {}  # board id -> refresher; O(open storms)

    # ---- what every replica writes --------------------------------------------------------

    async def expect(
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
        board_id = await self.repo.describe(
            channel,
            parent_ts,
            incident_id=incident_id,
            title=title,
            opened_at=opened_at,
            expected=count,
            resolved=resolved,
            shown=shown,
            now=self.clock(),
        )
        if not shown:
            self._wake(board_id)

    async def record(
        self,
        channel: str,
        parent_ts: str,
        *,
        case_id: str,
        vm: str,
        diagnosis: Diagnosis | None,
        run_id: str | None,
        reason: str | None = None,
    ) -> None:
        """One member is settled: diagnosed (``diagnosis``) or not (``reason``)."""
        key = cause_of(diagnosis) if diagnosis is not None else NOT_DIAGNOSED
        board_id = await self.repo.add_member(
            channel,
            parent_ts,
            key,
            case_id=case_id,
            label=vm if reason is None else f"{vm} ({reason})",
            title=_title(diagnosis),
            example_run_id=run_id,
            now=self.clock(),
        )
        self._wake(board_id)

    def _wake(self, board_id: str) -> None:
        local = self._boards.setdefault(board_id, _Local())
        local.wake.set()
        if local.refresher is None or local.refresher.done():
            local.refresher = asyncio.create_task(
                self._refresh(board_id, local), name=f"storm-{board_id}"
            )

    async def resume(self) -> int:
        """Refresh every board Slack is behind on whose refresher died (a restart, a
        replica gone); returns how many. At start, then every lease period."""
        stale = await self.repo.stale(now=self.clock(), within_s=RESUME_WITHIN_S)
        for board_id in stale:
            log.info("storm board %s is behind Slack; resuming it", board_id)
            self._wake(board_id)
        return len(stale)

    # ---- the lease holder's refresh -----------------------------------------------------

    async def _refresh(self, board_id: str, local: _Local) -> None:
        """Rewrite what changed, within the update budget, until quiet; then let go."""
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        try:
            while True:
                if not await self.repo.take(
                    board_id, self.owner, now=self.clock(), lease_s=self.lease_s
                ):
                    return  # another replica refreshes it and polls for our members
                local.wake.clear()
                async with local.lock:
                    board, wrote = await self._pass(board_id, local)
                if board is None:
                    return
                if wrote:
                    quiet_since = loop.time()
                elif loop.time() - quiet_since >= self.quiet_s:
                    if board.settled >= board.expected > 0:
                        async with local.lock:
                            await self._upload_lists(board)
                    released = await self.repo.release(board, self.owner)
                    # a member of ours that came in while releasing woke a task that
                    # was still this one: go on rather than leave it unshown
                    if released and not local.wake.is_set():
                        local.examples.clear()
                        if self._boards.get(board_id) is local:
                            del self._boards[board_id]  # memory: open storms only
                        return
                    quiet_since = loop.time()  # a member came in meanwhile
                # woken by our own members, else polling for other replicas'
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_s):
                        await local.wake.wait()
        except Exception:
            log.exception("refreshing storm board %s failed", board_id)

    async def _pass(
        self, board_id: str, local: _Local
    ) -> tuple[BoardRecord | None, bool]:
        """One pass over what Slack does not show yet; (the board read, anything tried)."""
        board = await self.repo.board(board_id)
        if board is None or not board.dirty or local.failures > WRITE_ATTEMPTS:
            return board, False
        # the parent needs the counts only; a reply to write, its card and first VMs too
        groups = {g.key: self._counted(g) for g in board.groups}
        shown: dict[str, int] = {}  # what landed, stored in one transaction at the end
        for record in board.groups:
            if record.reply_ts is None:
                group = await self._group(record, local)
                await self._post_reply(board, record, group, local)
            elif record.shown != record.members:
                group = await self._group(record, local)
                rendered = fit(render_group(group, self.runbook_url)), group_text(group)
                if await self._update(board.channel, record.reply_ts, *rendered):
                    shown[record.id] = record.members
                else:
                    local.failures += 1
        parent = False
        if board.parent_dirty:
            blocks, text = self.render_parent(self._storm(board, groups))
            parent = await self._update(board.channel, board.parent_ts, blocks, text)
            local.failures += not parent
        await self.repo.mark_shown(board, parent=parent, groups=shown, now=self.clock())
        return board, True

    async def _post_reply(
        self, board: BoardRecord, record: GroupRecord, group: Group, local: _Local
    ) -> None:
        """The group's reply, by the one replica whose claim lands."""
        if not await self.repo.claim_reply(
            record.id, self.owner, now=self.clock(), lease_s=self.lease_s
        ):
            return
        try:
            ts = await self.writer.post(
                board.channel,
                fit(render_group(group, self.runbook_url)),
                group_text(group),
                thread_ts=board.parent_ts,
            )
        except DeliveryFailed as exc:
            # the writer logged it; another pass posts it again unless nothing can help
            await self.repo.unclaim_reply(record.id, self.owner)
            local.failures += WRITE_ATTEMPTS + 1 if exc.permanent else 1
            return
        await self.repo.set_group(record.id, reply_ts=ts, shown=record.members)

    @staticmethod
    def _counted(record: GroupRecord) -> Group:
        return Group(
            key=record.key,
            title=record.title,
            example=None,
            example_run=record.example_run_id,
            count=record.members,
        )

    async def _group(self, record: GroupRecord, local: _Local) -> Group:
        if record.id not in local.examples:
            run = (
                await self.store.get_run(record.example_run_id)
                if record.example_run_id
                else None
            )
            local.examples[record.id] = run.diagnosis if run else None
        return Group(
            key=record.key,
            title=record.title,
            example=local.examples[record.id],
            example_run=record.example_run_id,
            count=record.members,
            vms=await self.repo.members(record.id, SELECT_MAX),
        )

    @staticmethod
    def _storm(board: BoardRecord, groups: dict[CauseKey, Group]) -> Storm:
        return Storm(
            channel=board.channel,
            parent_ts=board.parent_ts,
            incident_id=board.incident_id,
            opened_at=board.opened_at,
            groups=groups,
            expected=board.expected,
            title=board.title,
            resolved=board.resolved,
        )

    async def _update(
        self, channel: str, ts: str, blocks: list[dict[str, Any]], text: str
    ) -> bool:
        async with self.updates.slot("chat.update"):
            return await self.writer.update(channel, ts, blocks, text)

    async def _upload_lists(self, board: BoardRecord) -> None:
        """Groups too long to name inline get their whole list as a file (read from the
        store for the upload, not kept)."""
        client = self.writer.client
        for record in board.groups:
            n = record.members
            if n <= INLINE_VMS or record.listed == n:
                continue
            content = vm_list(await self.repo.members(record.id))
            name = f"storm-{board.parent_ts}-{record.key.root_cause}.txt"
            title = f"{n:,} VMs: {record.key.root_cause}"
            async with self.writer.pacer.slot(board.channel):
                await client.files_upload_v2(
                    channel=board.channel,
                    thread_ts=board.parent_ts,
                    content=content,
                    filename=name,
                    title=title,
                )
            await self.repo.set_group(record.id, listed=n)

    # ---- tests, the bench, shutdown ---------------------------------------------------

    async def flush(self, channel: str, parent_ts: str) -> None:
        """Until what the store holds of the storm is in Slack, as far as this replica
        may write it (tests, bench); long lists are uploaded too."""
        board_id = await self.repo.board_id(channel, parent_ts)
        if board_id is not None:
            local = self._boards.setdefault(board_id, _Local())
            if await self.repo.take(
                board_id, self.owner, now=self.clock(), lease_s=self.lease_s
            ):
                board: BoardRecord | None = None
                async with local.lock:
                    for _ in range(WRITE_ATTEMPTS + 2):
                        board, wrote = await self._pass(board_id, local)
                        if not wrote:
                            break
                    if board is not None:
                        await self._upload_lists(board)
                if board is not None and not await self.repo.release(board, self.owner):
                    self._wake(board_id)  # changed meanwhile: the refresher goes on
        await self.writer.flush(channel, parent_ts)

    async def close(self) -> None:
        """Stop this replica's refreshers and wait until they have (before the store
        closes under them); their leases run out and another replica takes over."""
        running = [
            local.refresher
            for local in self._boards.values()
            if local.refresher is not None
        ]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

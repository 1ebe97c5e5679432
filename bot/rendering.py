"""Diagnosis and progress -> Block Kit (slack_sdk.models.blocks). Slack's limits live here.

Every message leaves through ``fit``: at most 50 blocks, a total text budget, and a short
top-level fallback ``text``. Buttons carry only a case or run id; state is in the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.store.resolution_repo import Resolution
from bot.textsafe import code_span, escaped_within, plain, truncate, user_mention
from diagnostics.model import (
    Conclusion,
    Diagnosis,
    MigrationSummary,
    StepResult,
    StepStatus,
)

MAX_BLOCKS = 50
SECTION_MAX = 3000
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
TOP_TEXT_MAX = 3000  # Slack rejects > 4000 on chat.update; stay well below
TEXT_BUDGET = 10_000  # cumulative block text; Slack says msg_blocks_too_long near 12k

RERUN = "diag.rerun"
ESCALATE = "diag.escalate"
CLAIM = "diag.claim"
SHOW_EVIDENCE = "diag.show-evidence"
RESOLVE = "diag.resolve"
REOPEN = "diag.reopen"

STATUS_ICON = {
    None: "⏳",
    StepStatus.PASSED: "✅",
    StepStatus.FAILED: "❌",
    StepStatus.WARNING: "⚠️",
    StepStatus.SKIPPED: "⏭️",
    StepStatus.ERROR: "💥",
}
STATUS_WORD = {
    StepStatus.PASSED: "passed",
    StepStatus.FAILED: "failed",
    StepStatus.WARNING: "warning",
    StepStatus.SKIPPED: "skipped",
    StepStatus.ERROR: "could not run",
}


def md(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not auto-link URLs or channel names found in our text
    return MarkdownTextObject(text=truncate(text, SECTION_MAX), verbatim=True)


def pt(text: str, limit: int = SECTION_MAX) -> PlainTextObject:
    return PlainTextObject(text=plain(text, limit), emoji=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentState:
    """What the parent message shows at one moment of a case."""

    case_id: str
    vm_name: str
    migration: MigrationSummary | None = None
    steps: tuple[tuple[int, str], ...] = ()
    results: Mapping[int, StepResult] = field(default_factory=dict)
    diagnosis: Diagnosis | None = None
    run_id: str | None = None
    requested_by: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    error: str | None = None  # the diagnosis itself could not finish
    notice: str | None = None  # what Slack would not take (a lost thread reply)
    resolution: Resolution | None = None  # resolved (or reopened) since

    @property
    def resolved(self) -> bool:
        return self.resolution is not None and self.resolution.resolved


def _route(m: MigrationSummary | None) -> str:
    if m is None:
        return "no migration record"
    src = code_span(m.source_host or "?", 80)
    dst = code_span(m.dest_host or "(not scheduled)", 80)
    return f"{code_span(m.kind.value, 40)} {src} → {dst}"


def _checklist(state: ParentState) -> str:
    numbers = [n for n, _ in state.steps] or sorted(state.results)
    titles = dict(state.steps)
    lines = []
    for number in numbers:
        result = state.results.get(number)
        title = result.title if result else titles.get(number, f"Step {number}")
        line = f"{STATUS_ICON[result.status if result else None]} {number}. {title}"
        if result is not None and result.summary:
            line += f" — {result.summary}"
        lines.append(truncate(line, 300))
    return "\n".join(lines) or "Resolving the VM and its migration…"


def _verdict(state: ParentState) -> Block | None:
    d = state.diagnosis
    if state.error is not None:
        return SectionBlock(
            text=pt(f"💥 The diagnosis could not finish: {state.error}", 1000)
        )
    if d is None:
        return None
    if d.root_cause is None and d.conclusion is Conclusion.INCONCLUSIVE:
        return SectionBlock(
            text=md("*Verdict:* ⚠️ inconclusive: some steps could not run.")
        )
    if d.root_cause is None:
        return SectionBlock(text=md("*Verdict:* ✅ no failure found for this VM."))
    f = d.root_cause
    head = f"*Verdict:* {code_span(f.root_cause.value, 60)} — {escaped_within(f.title, 300)}"
    head += f"  (confidence: {f.confidence.value})"
    return SectionBlock(text=md(head + "\n" + escaped_within(f.summary, 2000)))


def resolved_line(r: Resolution) -> str:
    """``✅ Resolved 10:42 UTC: migration 42 a → b succeeded`` (mrkdwn, escaped)."""
    who = f" by {user_mention(r.by)}" if r.by else ""
    return (
        f"✅ *Resolved*{who} at {r.at:%Y-%m-%d %H:%M} UTC: "
        f"{escaped_within(r.reason, 500)}"
    )


def parent_buttons(
    case_id: str, run_id: str | None, *, resolved: bool = False
) -> ActionsBlock:
    def button(label: str, action_id: str, value: str, **kw: Any) -> ButtonElement:
        return ButtonElement(
            text=truncate(label, BUTTON_TEXT_MAX),
            action_id=action_id[:ACTION_ID_MAX],
            value=value[:BUTTON_VALUE_MAX],
            **kw,
        )

    elements = [
        button("Re-run", RERUN, case_id),
        button(
            "Escalate",
            ESCALATE,
            case_id,
            style="danger",
            confirm=ConfirmObject(
                title="Escalate to on-call?",
                text="This pages the on-call engineer through PagerDuty.",
                confirm="Page on-call",
                deny="Cancel",
            ),
        ),
        button("Claim", CLAIM, case_id, style="primary"),
    ]
    if run_id is not None:
        elements.append(button("Show evidence", SHOW_EVIDENCE, run_id))
    if resolved:
        elements.append(button("Reopen", REOPEN, case_id))
    else:
        elements.append(button("Resolve", RESOLVE, case_id))
    return ActionsBlock(elements=elements)


def render_parent(state: ParentState) -> list[Block]:
    d = state.diagnosis
    name = d.vm.name if d else state.vm_name
    migration = d.migration if d else state.migration
    mark = "✅ Resolved · " if state.resolved else ""
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"{mark}Migration diagnosis: {name}", HEADER_MAX)),
        ContextBlock(
            elements=[md(f"{_route(migration)} · case {code_span(state.case_id, 80)}")]
        ),
        SectionBlock(text=pt(_checklist(state))),
    ]
    verdict = _verdict(state)
    if verdict is not None:
        blocks.append(verdict)
    elif state.error is None:
        who = f" for {user_mention(state.requested_by)}" if state.requested_by else ""
        blocks.append(ContextBlock(elements=[md(f"🔄 Diagnosing{who}…")]))
    if state.resolution is not None and state.resolution.resolved:
        blocks.append(SectionBlock(text=md(resolved_line(state.resolution))))
    if state.claimed_by:
        since = f" since {state.claimed_at:%H:%M} UTC" if state.claimed_at else ""
        blocks.append(
            ContextBlock(
                elements=[md(f"🙋 {user_mention(state.claimed_by)} is on it{since}")]
            )
        )
    if state.notice:
        blocks.append(
            ContextBlock(elements=[md(f"⚠️ {escaped_within(state.notice, 500)}")])
        )
    if d is not None or state.error is not None:
        blocks.append(
            parent_buttons(state.case_id, state.run_id, resolved=state.resolved)
        )
    return blocks


def parent_text(state: ParentState) -> str:
    d = state.diagnosis
    name = d.vm.name if d else state.vm_name
    if state.resolved:
        return plain(f"Resolved: migration of {name}", TOP_TEXT_MAX)
    if d is None and state.error is not None:
        return plain(f"Migration diagnosis of {name} could not finish", TOP_TEXT_MAX)
    if d is None:
        return plain(f"Diagnosing VM migration of {name}…", TOP_TEXT_MAX)
    return plain(f"Migration diagnosis of {name}: {d.verdict}", TOP_TEXT_MAX)


def render_step(step: StepResult) -> list[Block]:
    """The thread reply for one step that failed, warned or could not run."""
    icon, word = STATUS_ICON[step.status], STATUS_WORD[step.status]
    blocks: list[Block] = [
        SectionBlock(
            text=md(
                f"{icon} *Step {step.number}: {escaped_within(step.title, 200)}* — {word}"
            )
        ),
        SectionBlock(text=pt(step.summary or word)),
    ]
    if step.findings:
        listing = "\n".join(f"• {f}" for f in step.findings)
        blocks.append(SectionBlock(text=pt(listing)))
    return blocks


def step_text(step: StepResult) -> str:
    return plain(
        f"Step {step.number} ({step.title}): {STATUS_WORD[step.status]}", TOP_TEXT_MAX
    )


def block_text_size(blocks: Sequence[Mapping[str, Any]]) -> int:
    """Sum of every ``text`` string in the blocks (what Slack's cumulative limit counts)."""

    def walk(node: Any) -> int:
        if isinstance(node, Mapping):
            own = len(node["text"]) if isinstance(node.get("text"), str) else 0
            return own + sum(
                walk(v)
                for k, v in node.items()
                if k != "text" or not isinstance(v, str)
            )
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    return sum(walk(b) for b in blocks)


def fit(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Serialise (slack_sdk validates each block) and cut to Slack's message limits.

    When blocks must go, the ones before the last actions block are dropped from the end
    and a note says the full report is in the evidence file.
    """
    dicts = [b.to_dict() for b in blocks]
    actions = [d for d in dicts if d.get("type") == "actions"]
    body = [d for d in dicts if d.get("type") != "actions"]
    note = ContextBlock(
        elements=[
            md("✂️ Truncated to fit Slack; use *Show evidence* for the full report.")
        ]
    ).to_dict()
    tail = actions[-1:]

    def total(parts: list[dict[str, Any]]) -> int:
        return block_text_size(parts)

    if len(dicts) <= MAX_BLOCKS and total(dicts) <= TEXT_BUDGET:
        return dicts
    while body and (
        len(body) + 1 + len(tail) > MAX_BLOCKS
        or total([*body, note, *tail]) > TEXT_BUDGET
    ):
        body.pop()
    return [*body, note, *tail]

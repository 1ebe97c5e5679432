"""What the thread commands answer: ``status`` (one glance) and ``summary`` (a hand-over)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock

from bot.rendering import HEADER_MAX, md, resolved_line
from bot.store import CaseRecord, EscalationRecord, RunRecord
from bot.store.resolution_repo import Resolution
from bot.store.timeline_repo import TimelineEntry
from bot.textsafe import code_block, code_span, escaped_within, plain, user_mention
from bot.timeline import entry_line
from diagnostics.model import Diagnosis

EVIDENCE_IN_SUMMARY = 3
TIMELINE_IN_SUMMARY = 25


def _verdict(d: Diagnosis | None) -> str:
    if d is None:
        return "not diagnosed yet"
    f = d.root_cause
    if f is None:
        return "no failure found"
    return (
        f"{code_span(f.root_cause.value, 60)} — {escaped_within(f.title, 300)}"
        f" (confidence: {f.confidence.value})"
    )


def _state(resolution: Resolution | None, running: bool) -> str:
    if resolution is not None and resolution.resolved:
        return resolved_line(resolution)
    if running:
        return "🔄 being diagnosed right now"
    return "🔴 open" + (" (reopened)" if resolution is not None else "")


def _claim(case: CaseRecord) -> str:
    if not case.claimed_by:
        return "nobody has claimed it"
    since = f" since {case.claimed_at:%H:%M} UTC" if case.claimed_at else ""
    return f"claimed by {user_mention(case.claimed_by)}{since}"


def _route(d: Diagnosis | None) -> str:
    m = d.migration if d else None
    if m is None:
        return "no migration record"
    return (
        f"{m.kind.value} migration {code_span(m.id or '?', 40)}"
        f" {code_span(m.source_host or '?', 80)} → {code_span(m.dest_host or '?', 80)}"
        f", status {code_span(m.status or '?', 40)}"
    )


def status_text(
    case: CaseRecord,
    run: RunRecord | None,
    resolution: Resolution | None,
    escalations: list[EscalationRecord],
    *,
    running: bool,
) -> str:
    d = run.diagnosis if run else None
    lines = [
        f"*Case* {code_span(case.id, 80)} · VM {code_span(case.vm_name, 120)}",
        _state(resolution, running),
        f"*Verdict:* {_verdict(d)}"
        + (
            f" (run {code_span(run.id, 40)}, {run.created_at:%H:%M} UTC)" if run else ""
        ),
        f"*Migration:* {_route(d)}",
        f"*Claim:* {_claim(case)}",
    ]
    if escalations:
        first = escalations[0]
        lines.append(
            f"*Escalated* by {user_mention(first.user_id)} at {first.at:%H:%M} UTC"
        )
    return "\n".join(lines)


def summary_blocks(
    case: CaseRecord,
    runs: list[RunRecord],
    resolution: Resolution | None,
    entries: list[TimelineEntry],
) -> list[Block]:
    """The hand-over: what failed, the verdict and evidence, what was tried, the timeline."""
    latest = runs[0] if runs else None
    d = latest.diagnosis if latest else None
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"Hand-over: {case.vm_name}", HEADER_MAX)),
        SectionBlock(
            text=md(
                f"*What failed:* {_route(d)}\n*State:* {_state(resolution, False)}\n"
                f"*Claim:* {_claim(case)}"
            )
        ),
    ]
    verdict = f"*Verdict:* {_verdict(d)}"
    if d is not None and d.root_cause is not None:
        f = d.root_cause
        verdict += "\n" + escaped_within(f.summary, 800)
        for c in f.evidence[:EVIDENCE_IN_SUMMARY]:
            verdict += f"\n• from {code_span(c.source, 200)}: {code_span(c.text, 300)}"
        more = len(f.evidence) - EVIDENCE_IN_SUMMARY
        if more > 0:
            verdict += f"\n…and {more} more (*Show evidence*)."
    blocks.append(SectionBlock(text=md(verdict)))
    tried = [
        e
        for e in entries
        if e.kind in {"diagnosed", "escalated", "command", "resolved", "reopened"}
    ]
    tried_text = "\n".join(
        f"• {e.at:%H:%M} {user_mention(e.actor) if e.actor else 'bot'}:"
        f" {escaped_within(e.text, 200)}"
        for e in tried[-10:]
    )
    blocks.append(
        SectionBlock(
            text=md("*What was tried, by whom:*\n" + (tried_text or "nothing yet"))
        )
    )
    shown = entries[-TIMELINE_IN_SUMMARY:]
    hidden = len(entries) - len(shown)
    lines = [entry_line(e) for e in shown]
    if hidden:
        lines.insert(
            0, f"({hidden} earlier entries: migrate-diag history --case {case.id})"
        )
    blocks.append(SectionBlock(text=md("*Timeline*\n" + code_block("\n".join(lines)))))
    return blocks

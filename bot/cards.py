"""Thread replies beyond the steps: root-cause card, "what changed", hand-off summary."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)

from bot.rendering import HEADER_MAX, SECTION_MAX, TOP_TEXT_MAX, md, pt
from bot.textsafe import (
    code_block,
    code_span,
    escaped_within,
    group_mention,
    plain,
    safe_url,
)
from bot.textsafe import user_mention as mention
from diagnostics.model import Conclusion, Diagnosis, Finding, Place, Remedy, RunsOn

EVIDENCE_SHOWN = 8


def _chunks(parts: list[str], limit: int = SECTION_MAX) -> list[str]:
    """Pack lines into sections of at most ``limit`` characters."""
    out: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{part}" if current else part[:limit]
    if current:
        out.append(current)
    return out


_COMMAND_MAX = 1500  # longer commands are never cut (a cut command runs wrong)


def _where(on: RunsOn) -> str:
    if on.place is Place.OPENSTACK_CLI:
        return "with the `openstack` CLI"
    if on.place is Place.POD:
        return f"in a {code_span(on.name or '?', 100)} pod"
    return f"on {code_span(on.name or '?', 100)}"


def remediation_line(number: int, step: Remedy) -> str:
    """One numbered step: fix or check, where it runs and why, then the command as code."""
    head = f"*{number}. {step.kind.value.capitalize()}* {_where(step.on)}: "
    head += escaped_within(step.why, 600)
    if step.command is None:
        return head
    if len(step.command) > _COMMAND_MAX:
        return head + "\n_(command too long for Slack: see the JSON report)_"
    return f"{head}\n{code_block(step.command, _COMMAND_MAX + 400)}"


def _links(finding: Finding, runbook_url: str | None) -> list[str]:
    out = []
    for url in (*finding.references, *([runbook_url] if runbook_url else [])):
        safe = safe_url(url)
        if safe is not None:
            out.append(f"<{safe}|{'Runbook' if url == runbook_url else 'Reference'}>")
    return out


def render_root_cause(
    d: Diagnosis, run_id: str, runbook_url: str | None
) -> list[Block]:
    """The root-cause card: id and title, confidence, evidence with sources, fix, runbook."""
    f = d.root_cause
    if f is None:
        if d.conclusion is Conclusion.INCONCLUSIVE:
            why = "\n".join(
                f"• {escaped_within(c, 300)}" for c in d.could_not_check[:8]
            )
            tips = "\n".join(f"→ {escaped_within(n, 400)}" for n in d.next_steps[:4])
            text = "⚠️ *Inconclusive:* some steps could not run.\n" + why
            text += ("\n" + tips) if tips else ""
        else:
            text = "✅ *No failure found.* Every step that matters ran."
        return [
            SectionBlock(text=md(text[:2900])),
            ContextBlock(elements=[md(f"run {code_span(run_id, 80)}")]),
        ]
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"Root cause: {f.title}", HEADER_MAX)),
        SectionBlock(
            text=md(
                f"{code_span(f.root_cause.value, 60)} · confidence *{f.confidence.value}*"
                f" · check {code_span(f.check_id, 100)}"
            )
        ),
        SectionBlock(text=pt(f.summary)),
    ]
    weighed = [f"explains {code_span(c.value, 60)}" for c in f.explains]
    # a blank caveat would make an empty mrkdwn element, which Slack refuses
    weighed += [escaped_within(c, 400) for c in f.caveats[:4] if c.strip()]
    if weighed:
        blocks.append(ContextBlock(elements=[md(" · ".join(weighed)[:2900])]))
    shown = f.evidence[:EVIDENCE_SHOWN]
    if shown:
        lines = [
            f"• from {code_span(c.source, 300)}\n{code_block(c.text, 800)}"
            for c in shown
        ]
        more = len(f.evidence) - len(shown)
        if more:
            lines.append(f"…and {more} more; use *Show evidence* for all of it.")
        for i, chunk in enumerate(_chunks(lines)):
            blocks.append(
                SectionBlock(text=md(("*Evidence*\n" if i == 0 else "") + chunk))
            )
    if f.remediation:
        steps = [remediation_line(i, s) for i, s in enumerate(f.remediation, 1)]
        for i, chunk in enumerate(_chunks(steps)):
            blocks.append(
                SectionBlock(text=md(("*What to do*\n" if i == 0 else "") + chunk))
            )
    links = _links(f, runbook_url)
    context = [f"run {code_span(run_id, 80)}", *links]
    blocks.append(ContextBlock(elements=[md(" · ".join(context))]))
    if d.other_findings:
        blocks.append(DividerBlock())
        also = [
            f"• {code_span(o.root_cause.value, 60)} {escaped_within(o.title, 200)} ({o.confidence.value})"
            + (
                f" — consequence of {code_span(o.consequence_of.value, 60)}"
                if o.consequence_of
                else ""
            )
            for o in d.other_findings[:10]
        ]
        blocks.append(SectionBlock(text=md("*Also found*\n" + "\n".join(also))))
    return blocks


def root_cause_text(d: Diagnosis) -> str:
    f = d.root_cause
    if f is None:
        if d.conclusion is Conclusion.INCONCLUSIVE:
            return "Inconclusive: some steps could not run"
        return "No failure found"
    return plain(
        f"Root cause: {f.root_cause.value} ({f.confidence.value}): {f.title}",
        TOP_TEXT_MAX,
    )


def describe_changes(before: Diagnosis, after: Diagnosis) -> list[str]:
    """Plain lines saying what differs between two runs of one case."""
    changes = []
    if before.verdict != after.verdict:
        changes.append(f"verdict: {before.verdict} → {after.verdict}")
    old = {s.number: s for s in before.steps}
    for step in after.steps:
        prev = old.get(step.number)
        if prev is None:
            changes.append(
                f"step {step.number} ({step.title}): new, {step.status.value}"
            )
        elif prev.status != step.status:
            changes.append(
                f"step {step.number} ({step.title}): {prev.status.value} → {step.status.value}"
            )
    if (
        before.migration
        and after.migration
        and before.migration.id != after.migration.id
    ):
        changes.append(f"migration: {before.migration.id} → {after.migration.id}")
    return changes


def render_changes(before: Diagnosis | None, after: Diagnosis) -> list[Block]:
    if before is None:
        return [
            SectionBlock(
                text=md("🔁 *Re-run finished.* There was no earlier run to compare.")
            )
        ]
    changes = describe_changes(before, after)
    if not changes:
        return [
            SectionBlock(
                text=md("🔁 *Re-run finished.* Nothing changed since the last run.")
            )
        ]
    return [
        SectionBlock(text=md("🔁 *Re-run finished.* What changed since the last run:")),
        SectionBlock(text=pt("\n".join(f"• {c}" for c in changes))),
    ]


def render_handoff(
    d: Diagnosis | None,
    *,
    case_id: str,
    vm_name: str,
    escalated_by: str,
    oncall_group: str | None,
    status: str,
) -> list[Block]:
    who = group_mention(oncall_group) if oncall_group else "on-call"
    verdict = f"{code_span(d.verdict, 60)}" if d else "not diagnosed yet"
    title = escaped_within(d.root_cause.title, 300) if d and d.root_cause else ""
    lines = [
        f"🚨 {who}: {mention(escalated_by)} escalated case {code_span(case_id, 80)}"
        f" for VM {code_span(vm_name, 120)}.",
        f"*Verdict:* {verdict} {title}".rstrip(),
        f"*PagerDuty:* {escaped_within(status, 300)}",
    ]
    return [SectionBlock(text=md("\n".join(lines)))]


def handoff_summary(d: Diagnosis | None, vm_name: str) -> str:
    """One line for PagerDuty's summary (≤ 1024 characters)."""
    if d is None or d.root_cause is None:
        return f"VM migration failure on {vm_name}: cause not determined"[:1024]
    f = d.root_cause
    return f"VM migration failure on {vm_name}: {f.root_cause.value} ({f.confidence.value}) — {f.title}"[
        :1024
    ]

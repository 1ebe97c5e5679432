"""Diagnosis -> terminal text, step by step. ANSI colour only when writing to a TTY."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.model import (
    Diagnosis,
    DiagnosisStarted,
    Finding,
    StepResult,
    StepStatus,
)

_MARK = {
    StepStatus.PASSED: ("ok", "32"),
    StepStatus.FAILED: ("FAIL", "31"),
    StepStatus.WARNING: ("warn", "33"),
    StepStatus.SKIPPED: ("skip", "90"),
    StepStatus.ERROR: ("ERR", "35"),
}


@dataclass(frozen=True, slots=True)
class Style:
    colour: bool

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self.paint(text, "1")


def header(event: DiagnosisStarted, style: Style) -> str:
    vm = event.vm
    lines = [
        style.bold(f"migrate-diag: {vm.name} ({vm.id})")
        + f" {vm.status} on {vm.host or '?'}"
    ]
    m = event.migration
    if m is None:
        lines.append("  no migration record for this VM")
    else:
        block = " block" if m.block_migration else ""
        lines.append(
            f"  migration {m.id} {m.kind.value}{block}: {m.source_host or '?'} → "
            f"{m.dest_host or '(not scheduled)'}, status {m.status}, request {m.request_id or '?'}"
        )
    return "\n".join(lines)


def step_line(step: StepResult, style: Style) -> str:
    word, code = _MARK[step.status]
    mark = style.paint(f"[{word:>4}]", code)
    lines = [f"{mark} {step.number}. {step.title}: {step.summary}"]
    lines += [f"         - {finding}" for finding in step.findings]
    return "\n".join(lines)


def _finding_block(f: Finding, style: Style, *, primary: bool) -> list[str]:
    label = "ROOT CAUSE" if primary else "also found"
    lines = [
        style.bold(f"{label}: {f.root_cause.value}")
        + f" ({f.confidence.value}) — {f.title}",
        f"  {f.summary}",
    ]
    if f.evidence:
        lines.append("  evidence:")
        lines += [f"    {c.source}\n      {c.text}" for c in f.evidence]
    if f.remediation:
        lines.append("  what to do (fixes first; run each command where it says):")
        for i, r in enumerate(f.remediation, 1):
            lines.append(f"    {i}. {r.kind.value} on {r.on.label}: {r.why}")
            if r.command is not None:
                lines.append(f"         {style.paint(r.command, '36')}")
    return lines


def verdict(d: Diagnosis, style: Style) -> str:
    lines = [""]
    if d.root_cause is None:
        lines.append(
            style.paint("No migration failure found and no problem detected.", "32")
        )
    else:
        lines += _finding_block(d.root_cause, style, primary=True)
    for other in d.other_findings:
        lines += ["", *_finding_block(other, style, primary=False)]
    lines.append(f"\n(diagnosis {d.id} in {d.duration_ms} ms)")
    return "\n".join(lines)


def render(d: Diagnosis, *, colour: bool = False) -> str:
    """The whole diagnosis at once (the CLI streams the same pieces as they arrive)."""
    style = Style(colour)
    started = DiagnosisStarted(
        diagnosis_id=d.id, vm=d.vm, migration=d.migration, steps=()
    )
    body = [
        header(started, style),
        *(step_line(s, style) for s in d.steps),
        verdict(d, style),
    ]
    return "\n".join(body)

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

# text from logs, APIs and users must not drive the terminal: control characters
# (ESC first of all) are shown as \xNN instead of being written out
_CONTROLS = {
    c: f"\\x{c:02x}"
    for c in (*range(0x20), *range(0x7F, 0xA0))
    if c not in (0x09, 0x0A)
}


def _t(text: object) -> str:
    return str(text).translate(_CONTROLS)


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
        style.bold(f"migrate-diag: {_t(vm.name)} ({_t(vm.id)})")
        + f" {_t(vm.status)} on {_t(vm.host or '?')}"
    ]
    m = event.migration
    if m is None:
        lines.append("  no migration record for this VM")
    else:
        block = " block" if m.block_migration else ""
        lines.append(
            f"  migration {_t(m.id)} {m.kind.value}{block}: {_t(m.source_host or '?')} → "
            f"{_t(m.dest_host or '(not scheduled)')}, status {_t(m.status)}, "
            f"request {_t(m.request_id or '?')}"
        )
    return "\n".join(lines)


def step_line(step: StepResult, style: Style) -> str:
    word, code = _MARK[step.status]
    mark = style.paint(f"[{word:>4}]", code)
    lines = [f"{mark} {step.number}. {_t(step.title)}: {_t(step.summary)}"]
    lines += [f"         - {_t(finding)}" for finding in step.findings]
    return "\n".join(lines)


def _finding_block(f: Finding, style: Style, *, primary: bool) -> list[str]:
    label = "ROOT CAUSE" if primary else "also found"
    lines = [
        style.bold(f"{label}: {f.root_cause.value}")
        + f" ({f.confidence.value}) — {_t(f.title)}",
        f"  {_t(f.summary)}",
    ]
    if f.evidence:
        lines.append("  evidence:")
        lines += [f"    {_t(c.source)}\n      {_t(c.text)}" for c in f.evidence]
    if f.remediation:
        lines.append("  what to do (fixes first; run each command where it says):")
        for i, r in enumerate(f.remediation, 1):
            lines.append(f"    {i}. {r.kind.value} {_t(r.on.label)}: {_t(r.why)}")
            if r.command is not None:
                lines.append(f"         {style.paint(_t(r.command), '36')}")
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
    lines.append(f"\n(diagnosis {_t(d.id)} in {d.duration_ms} ms)")
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

"""Diagnosis -> terminal text, step by step. ANSI colour only when writing to a TTY."""

from __future__ import annotations

from dataclasses import dataclass

from diagnostics.model import (
    Conclusion,
    Diagnosis,
    DiagnosisStarted,
    Finding,
    StepResult,
    StepRole,
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
    role = f" ({step.role.value})" if step.role is not None else ""
    lines = [f"{mark} {step.number}. {_t(step.title)}{role}: {_t(step.summary)}"]
    lines += [f"         - {_t(finding)}" for finding in step.findings]
    return "\n".join(lines)


def _finding_block(f: Finding, style: Style, *, primary: bool) -> list[str]:
    label = "ROOT CAUSE" if primary else "also found"
    if f.consequence_of is not None and not primary:
        label = f"consequence of {f.consequence_of.value}"
    lines = [
        style.bold(f"{label}: {f.root_cause.value}")
        + f" ({f.confidence.value}) — {_t(f.title)}",
        f"  {_t(f.summary)}",
    ]
    if f.explains:
        lines.append(f"  explains: {', '.join(c.value for c in f.explains)}")
    lines += [f"  {_t(c)}" for c in f.caveats]
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


def _headline(d: Diagnosis, style: Style) -> list[str]:
    if d.conclusion is Conclusion.NO_FAILURE:
        done = d.migration is not None and not d.migration.failed and d.migration.status
        what = _t(f"Migration {d.migration.id} {done}") if done and d.migration else ""
        return [
            style.paint(
                (what + ": no failure found." if what else "No failure found.")
                + " Every step that matters ran.",
                "32",
            )
        ]
    if d.root_cause is None:
        steps = [str(s.number) for s in d.steps if s.status is StepStatus.ERROR]
        because = f": steps {', '.join(steps)} could not run" if steps else ""
        return [style.paint(f"Inconclusive{because}.", "33")]
    return []


def verdict(d: Diagnosis, style: Style) -> str:
    lines = ["", *_headline(d, style)]
    if d.root_cause is not None:
        lines += _finding_block(d.root_cause, style, primary=True)
        causes = [s.number for s in d.steps if s.role is StepRole.CAUSE]
        if causes:
            lines.append(f"  found in step {causes[0]}; step 1 shows the symptom")
    for other in d.other_findings:
        lines += ["", *_finding_block(other, style, primary=False)]
    if d.could_not_check:
        lines += ["", style.bold("could not check:")]
        lines += [f"  - {_t(c)}" for c in d.could_not_check]
    if d.next_steps:
        lines += ["", style.bold("next:")]
        lines += [f"  - {_t(n)}" for n in d.next_steps]
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

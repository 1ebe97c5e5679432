"""What the operator asked about must exist; what the diagnosis concludes must be earned.

``validate_host_name`` / ``validate_target_host`` / ``validate_migration`` run before any
evidence is collected (the engine's bootstrap; the bot calls the same functions through
``Engine.diagnose``): a host or migration Nova does not know is an ``InvalidRequest``
(CLI exit 2, Slack's ephemeral reply) and nothing runs.

``conclude`` turns ranked findings and step results into the answer: a completed
migration is never reported as failed; "no failure" only when the steps that matter ran,
else inconclusive with what could not run and what to try next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from diagnostics.evidence import types as ev
from diagnostics.evidence.types import Evidence, Unavailable
from diagnostics.model import (
    CheckResult,
    Conclusion,
    Finding,
    MigrationRef,
    MigrationSummary,
    RootCauseId,
    StepResult,
    StepStatus,
    UnknownHost,
    UnknownMigration,
)
from diagnostics.registry import CheckSpec
from diagnostics.steps import mark_roles

# RFC 1123 host names (labels of letters, digits and hyphens, dot separated): what Nova
# host names are. Anything else (spaces, ';', quotes, '$(') never reaches a command.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
MIGRATION_ID = re.compile(
    r"\d{1,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# Nova's statuses of a move that did not fail (live: completed; cold/resize: finished,
# confirmed, reverted by the operator; evacuation: done)
NOT_FAILED = frozenset({"completed", "finished", "confirmed", "reverted", "done"})
_LISTED = 12
# the SSH pool's own failures (diagnostics/evidence/ssh_errors.py), not a probe's needs
_SSH_TROUBLE = re.compile(
    r"SSH (?:connection|timeout|auth|to \S+ failed|to hypervisors is disabled"
    r"|address of|key)|host key",
    re.I,
)


def _shown(value: str) -> str:
    """The operator's value for a message: printable, bounded, quoted."""
    clean = "".join(c if c.isprintable() else "?" for c in value)
    return repr(clean[:80] + ("…" if len(clean) > 80 else ""))


def validate_host_name(host: str) -> None:
    """Raise ``UnknownHost`` unless ``host`` is a host name (checked before any call)."""
    if len(host) > 253 or not HOST_NAME.fullmatch(host):
        raise UnknownHost(
            f"--target-host {_shown(host)} is not a host name "
            "(letters, digits, '-' and '.'; the nova-compute host name)"
        )


def validate_target_host(
    host: str, services: Evidence | Unavailable
) -> tuple[str, ...]:
    """Raise ``UnknownHost`` when Nova's compute services do not include ``host``.

    When os-services could not be read the name cannot be verified; the returned note
    says so (it is shown as "could not check") and the host is used as typed, which is
    safe because it passed ``validate_host_name``.
    """
    validate_host_name(host)
    if not isinstance(services, ev.ComputeServices):
        why = services.reason if isinstance(services, Unavailable) else "not collected"
        return (f"could not verify that Nova knows --target-host {host}: {why}",)
    known = sorted({s.host for s in services.services})
    if host in known:
        return ()
    listed = ", ".join(known[:_LISTED]) + (" …" if len(known) > _LISTED else "")
    raise UnknownHost(
        f"Nova knows no compute host named {_shown(host)}"
        + (f"; compute hosts: {listed}" if known else "")
    )


def validate_migration(
    migration_id: str, records: Evidence | Unavailable, vm_name: str
) -> tuple[str, ...]:
    """Raise ``UnknownMigration`` unless ``migration_id`` is one of the VM's migrations."""
    if not MIGRATION_ID.fullmatch(migration_id):
        raise UnknownMigration(
            f"--migration {_shown(migration_id)} is not a migration id (a number) or uuid"
        )
    if not isinstance(records, ev.MigrationRecords):
        why = records.reason if isinstance(records, Unavailable) else "not collected"
        return (f"could not verify migration {migration_id}: {why}",)
    if any(migration_id in (r.id, r.uuid) for r in records.records):
        return ()
    listed = ", ".join(
        f"{r.id} ({r.kind}, {r.status})" for r in records.records[:_LISTED]
    )
    raise UnknownMigration(
        f"{vm_name} has no migration {_shown(migration_id)}"
        + (f"; its migrations: {listed}" if listed else "; it has no migration records")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    conclusion: Conclusion
    primary: Finding | None
    others: tuple[Finding, ...]
    steps: tuple[StepResult, ...]
    could_not_check: tuple[str, ...]
    next_steps: tuple[str, ...]


def could_not_check(
    steps: Sequence[StepResult], notes: Sequence[str]
) -> tuple[str, ...]:
    """Every step that could not run and everything a step could not check."""
    out = list(notes)
    for step in steps:
        if step.status is StepStatus.ERROR:
            out.append(f"step {step.number} ({step.title}): {step.summary}")
            continue
        out += [
            f"step {step.number} ({step.title}): {f}"
            for f in step.findings
            if f.startswith("could not") or "could not check" in f
        ]
    return tuple(dict.fromkeys(out))


def _next_steps(
    ref: MigrationRef,
    migration: MigrationSummary | None,
    primary: Finding | None,
    missing: Sequence[str],
    records_unread: str | None = None,
) -> tuple[str, ...]:
    tips: list[str] = []
    text = " ".join(missing)
    if migration is None and records_unread is not None:
        # no record was *seen* because none could be read: saying Nova recorded none
        # (and that the API refused the move) would rest on evidence never collected
        tips.append(
            f"the VM's migration records could not be read ({records_unread}): run "
            "again once Nova answers os-migrations"
        )
    elif migration is None and ref.kind is None:
        tips.append(
            "Nova recorded no migration for this VM: if the API refused the request, "
            "run again with the kind you tried, e.g. --kind evacuation (or "
            "live-migration, migration, resize), and --target-host HOST if you named one"
        )
    if "no destination host" in text and ref.target_host is None:
        tips.append("name the destination with --target-host HOST")
    if "sudo" in text or "Permission denied" in text or "cannot read" in text:
        tips.append(
            "give the diagnosis user read access (ssh.sudo: true with a NOPASSWD rule for "
            "the read-only commands of docs/host-commands.md), then run again"
        )
    if _SSH_TROUBLE.search(text):
        tips.append(
            "check SSH from the bot to the hypervisors (ssh.user, key, known_hosts), "
            "then run again"
        )
    if primary is not None and primary.root_cause is RootCauseId.UNKNOWN:
        tips.append(
            "read the raw fault, events and log lines shown, then escalate with this "
            "diagnosis attached"
        )
    return tuple(dict.fromkeys(tips))


def conclude(
    *,
    ref: MigrationRef,
    migration: MigrationSummary | None,
    primary: Finding | None,
    others: tuple[Finding, ...],
    steps: Sequence[StepResult],
    results: Sequence[CheckResult],
    specs: Mapping[str, CheckSpec],
    unknown: Callable[[], Finding],
    notes: Sequence[str] = (),
    records_unread: str | None = None,
) -> Verdict:
    """The answer of one diagnosis from its ranked findings and its steps.

    ``records_unread`` is why the VM's migration records could not be read (None when
    they were): then "no migration" is unknown, not known."""
    del results  # the steps already carry what each check could not check
    done = (
        migration is not None
        and migration.status in NOT_FAILED
        and ref.target_host is None
    )
    if done and primary is not None:
        # what was found beside a move that worked can hurt the next one; it did not
        # fail this one
        others, primary = (primary, *others), None
    if primary is None and migration is not None and migration.failed:
        primary = unknown()
    missing = could_not_check(steps, notes)
    if primary is not None and primary.root_cause is not RootCauseId.UNKNOWN:
        conclusion = Conclusion.ROOT_CAUSE
    elif primary is not None or (missing and not done):
        conclusion = Conclusion.INCONCLUSIVE
    else:
        conclusion = Conclusion.NO_FAILURE
    spec = specs.get(primary.check_id) if primary is not None else None
    cited = frozenset(c.source for c in primary.evidence) if primary else frozenset()
    marked = mark_roles(
        steps,
        primary if spec is not None else None,
        int(spec.step) if spec is not None else None,
        migration,
        cited,
        target_host=ref.target_host,
    )
    return Verdict(
        conclusion=conclusion,
        primary=primary,
        others=others,
        steps=marked,
        could_not_check=missing,
        next_steps=_next_steps(ref, migration, primary, missing, records_unread)
        if conclusion is Conclusion.INCONCLUSIVE
        else (),
    )

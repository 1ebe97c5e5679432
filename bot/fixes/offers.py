"""Which fixes the root-cause card offers, and their buttons: only where the diagnosis
just verified the fix applies (and fixes are on).

- *Abort* and *Force complete*: the diagnosis found a live migration still ``running``
  that does not converge (``nova.live-migration-timeout`` concluded on a running record:
  its progress stopped falling). Nova's abort (2.24) takes ``running`` (and queued or
  preparing from 2.65); force complete (2.22) takes only ``running``: not ``running
  (post-copy)``, which finishes by itself.
- *Remove the stale binding*: the port's INACTIVE binding on the destination, seen in
  Neutron now (``stale_binding_*`` facts of ``nova.stale-leftovers``, the primary cause,
  or ``nova.leftovers-on-dest``, which would break a retry), never while a move is under
  way (its destination binding is the move's own) and never on the VM's host.

Pure: the posting side imports it to put the buttons on the card; the clicks are
``bot.actions.live_fixes`` and ``bot.actions.binding_fix``.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock

from bot.fixes.calls import CloudCall, fix_button, path_of
from bot.rendering import md
from bot.settings import BotSettings
from bot.store import CaseRecord
from bot.textsafe import code_span
from diagnostics.model import Concluded, Diagnosis, MigrationKind, RootCauseId

ABORT = "diag.fix.abort"
FORCE_COMPLETE = "diag.fix.force-complete"
REMOVE_BINDING = "diag.fix.remove-binding"
ABORT_MICROVERSION = "2.24"
FORCE_COMPLETE_MICROVERSION = "2.22"
TIMEOUT_CHECK = "nova.live-migration-timeout"
LEFTOVER_CHECKS = ("nova.stale-leftovers", "nova.leftovers-on-dest")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningMove:
    """The live migration a button acts on."""

    vm_id: str
    vm_name: str
    migration_id: str
    source: str
    dest: str


def abort_call(m: RunningMove) -> CloudCall:
    return CloudCall(
        service="compute",
        method="DELETE",
        path=path_of("/servers/{}/migrations/{}", m.vm_id, m.migration_id),
        microversion=ABORT_MICROVERSION,
    )


def force_complete_call(m: RunningMove) -> CloudCall:
    return CloudCall(
        service="compute",
        method="POST",
        path=path_of("/servers/{}/migrations/{}/action", m.vm_id, m.migration_id),
        body={"force_complete": None},
        microversion=FORCE_COMPLETE_MICROVERSION,
    )


def binding_call(port_id: str, host: str) -> CloudCall:
    return CloudCall(
        service="network",
        method="DELETE",
        path=path_of("/ports/{}/bindings/{}", port_id, host),
        accepted=204,
    )


def not_converging(d: Diagnosis) -> RunningMove | None:
    """The running live migration the diagnosis found not converging, else None."""
    m, f = d.migration, d.root_cause
    if (
        m is None
        or m.kind is not MigrationKind.LIVE
        or m.status != "running"
        or m.id is None
        or f is None
        or f.root_cause is not RootCauseId.MIGRATION_TIMEOUT
        or f.check_id != TIMEOUT_CHECK
    ):
        return None
    return RunningMove(
        vm_id=d.vm.id,
        vm_name=d.vm.name,
        migration_id=m.id,
        source=m.source_host or d.vm.host or "the source host",
        dest=m.dest_host or "the destination host",
    )


def stale_binding(d: Diagnosis) -> tuple[str, str] | None:
    """(port, host) of an INACTIVE binding Neutron showed on the destination, else None."""
    if d.migration is not None and d.migration.in_progress:
        return None
    for c in d.checks:
        if c.check_id not in LEFTOVER_CHECKS or not isinstance(c.outcome, Concluded):
            continue
        port = c.outcome.facts.get("stale_binding_port_id", "")
        host = c.outcome.facts.get("stale_binding_host", "")
        if port and host and host != d.vm.host:
            return port, host
    return None


ABORT_DOES = (
    "Nova stops the copy and rolls back: the VM stays on its source host. The copy made"
    " so far is lost; this cannot be undone."
)
FORCE_COMPLETE_DOES = (
    "Nova pauses the VM until the copy is done (or switches to post-copy, if enabled):"
    " it does not answer meanwhile. Cannot be undone."
)
BINDING_DOES = (
    "Neutron lets only the service role. Deletes the INACTIVE binding on that host; the"
    " VM's ACTIVE binding stays. Cannot be undone."
)


def fix_buttons(settings: BotSettings, case: CaseRecord, d: Diagnosis) -> list[Block]:
    """The card's fix buttons (none when fixes are off or nothing applies)."""
    if not settings.actions.enabled or settings.actions.cloud is None:
        return []
    buttons: list[ButtonElement | None] = []
    said: list[str] = []
    if (m := not_converging(d)) is not None:
        value = {"case": case.id, "migration": m.migration_id}
        buttons += [
            fix_button(
                label=f"Abort migration {m.migration_id}",
                action_id=ABORT,
                value=value,
                title="Abort the live migration?",
                call=abort_call(m),
                consequence=ABORT_DOES,
                confirm="Abort",
            ),
            fix_button(
                label="Force complete",
                action_id=FORCE_COMPLETE,
                value=value,
                title="Force the live migration to complete?",
                call=force_complete_call(m),
                consequence=FORCE_COMPLETE_DOES,
                confirm="Force complete",
            ),
        ]
        said.append(
            f"migration {code_span(m.migration_id, 40)} is not converging: abort it, or force it"
            " to complete (the VM is paused meanwhile)"
        )
    if (found := stale_binding(d)) is not None:
        port, host = found
        buttons.append(
            fix_button(
                label=f"Remove stale binding on {host}",
                action_id=REMOVE_BINDING,
                value={"case": case.id, "port": port, "host": host},
                title="Remove the stale port binding?",
                call=binding_call(port, host),
                consequence=BINDING_DOES,
                confirm="Remove",
            )
        )
        said.append(
            f"port {code_span(port, 60)} has a stale INACTIVE binding on"
            f" {code_span(host, 120)}"
        )
    shown = [b for b in buttons if b is not None]
    if not shown:
        return []
    note = "🛠 *Fixes* (checked again when clicked; " + "; ".join(said) + ")"
    return [ContextBlock(elements=[md(note)]), ActionsBlock(elements=shown)]

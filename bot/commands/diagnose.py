"""``/migrate-diag <vm> [--migration ID] [--target-host HOST]`` and ``/migrate-diag help``."""

from __future__ import annotations

import asyncio
import logging
import shlex
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.authz import Action
from bot.posting.case_poster import SlackCasePoster
from bot.posting.writer import DeliveryFailed
from bot.services import Services
from bot.store.repo import new_id
from bot.textsafe import code_span, escaped_within
from diagnostics.model import (
    AmbiguousVm,
    DiagnosticsError,
    MigrationKind,
    MigrationRef,
    VmNotFound,
)

log = logging.getLogger(__name__)

MAX_ARGUMENT = 255
AUTHZ_BEFORE_ACK_S = 1.5  # of Slack's 3 s ack deadline
KINDS = {k.value: k for k in MigrationKind}


@dataclass(frozen=True, slots=True, kw_only=True)
class Help:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageError:
    message: str


def usage(command: str) -> str:
    return (
        f"*Usage:* `{command} <vm name or id> [--migration ID] [--target-host HOST]"
        " [--kind evacuation|live-migration|migration|resize]`\n"
        "Finds out why the VM's last migration failed: a live checklist of the runbook's 8 steps,"
        " the failed steps in the thread, then the root cause with its evidence and the fix.\n"
        "`--kind` names what was tried when Nova refused it before recording a migration"
        " (e.g. an evacuation of a host that is still up).\n"
        f"`{command} help` shows this text."
    )


def parse_command(text: str) -> MigrationRef | Help | UsageError:
    """Parse the command text; never raises on user input."""
    try:
        words = shlex.split(text)
    except ValueError as exc:  # unbalanced quotes
        return UsageError(message=f"Cannot read the arguments: {exc}.")
    if not words or words[0].lower() in {"help", "-h", "--help"}:
        return Help()
    server: str | None = None
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=")
        if name in {"--migration", "--target-host", "--kind"}:
            if eq:
                value = inline
            elif i + 1 < len(words):
                i += 1
                value = words[i]
            else:
                return UsageError(message=f"{name} needs a value.")
            if not value or len(value) > MAX_ARGUMENT:
                return UsageError(
                    message=f"{name} needs a value of at most {MAX_ARGUMENT} characters."
                )
            if name == "--kind" and value not in KINDS:
                return UsageError(
                    message=f"--kind is one of {', '.join(sorted(KINDS))}."
                )
            options[name] = value
        elif word.startswith("--"):
            return UsageError(message=f"Unknown option {code_span(word, 60)}.")
        elif server is None:
            server = word
        else:
            return UsageError(message=f"Give one VM; {code_span(word, 60)} is extra.")
        i += 1
    if server is None or len(server) > MAX_ARGUMENT:
        return UsageError(message="Give the VM's name or id.")
    return MigrationRef(
        server=server,
        migration_id=options.get("--migration"),
        target_host=options.get("--target-host"),
        kind=KINDS[options["--kind"]] if "--kind" in options else None,
    )


def ambiguous_text(exc: AmbiguousVm) -> str:
    lines = [
        f"{len(exc.candidates)} VMs are named {code_span(exc.name)}; run the command again with an id:"
    ]
    for vm_id, name, status, host in exc.candidates[:20]:
        lines.append(
            f"• {code_span(vm_id, 64)} {code_span(name, 80)} {escaped_within(status, 30)}"
            f" on {code_span(host or 'no host', 80)}"
        )
    return "\n".join(lines)


async def run_case(
    services: Services,
    poster: SlackCasePoster,
    respond: AsyncRespond,
    *,
    ref: MigrationRef,
    channel: str,
    user: str,
) -> None:
    """The background half of the command: authorize, diagnose, post. Never raises."""
    try:
        refusal = await services.authz.check(Action.DIAGNOSE, user, channel)
        if refusal is not None:
            await respond(
                text=refusal.message, response_type="ephemeral", replace_original=True
            )
            return
        await poster.post_case(
            new_id("case"), ref, channel, requested_by=user, source="slash"
        )
    except VmNotFound:
        await respond(
            text=f"No VM matches {code_span(ref.server)}. Check the name or give its id.",
            response_type="ephemeral",
            replace_original=True,
        )
    except AmbiguousVm as exc:
        await respond(
            text=ambiguous_text(exc), response_type="ephemeral", replace_original=True
        )
    except DiagnosticsError as exc:
        await respond(
            text=f"Could not diagnose {code_span(ref.server)}: {escaped_within(str(exc), 1000)}",
            response_type="ephemeral",
            replace_original=True,
        )
    except DeliveryFailed as exc:
        # logged once by the writer; the case ended without a parent
        if exc.permanent:
            text = f"I cannot post in this channel ({exc.reason}). Invite me, then try again."
        else:
            text = f"Slack did not take the post ({exc.reason}) after retries; try again later."
        await respond(text=text, response_type="ephemeral", replace_original=True)


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    command_name = services.settings.slack.command

    @app.command(command_name)
    async def diagnose_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        parsed = parse_command(str(command.get("text", "")))
        if isinstance(parsed, Help):
            await ack(text=usage(command_name))
            return
        if isinstance(parsed, UsageError):
            await ack(text=f"{parsed.message}\n{usage(command_name)}")
            return
        channel, user = str(command["channel_id"]), str(command["user_id"])
        # the refusal IS the ack when it can be decided in time: posted after an ack it
        # could arrive first and leave "Diagnosing…" as the last word the user sees
        try:
            async with asyncio.timeout(AUTHZ_BEFORE_ACK_S):
                refusal = await services.authz.check(Action.DIAGNOSE, user, channel)
        except TimeoutError:
            refusal = None  # a slow group lookup: decided (and answered) after the ack
        if refusal is not None:
            await ack(text=refusal.message)
            return
        await ack(text=f"Diagnosing {code_span(parsed.server)}…")
        services.tasks.spawn(
            run_case(
                services,
                poster,
                respond,
                ref=parsed,
                channel=channel,
                user=user,
            ),
            name=f"diagnose-{command.get('trigger_id', '')}",
        )

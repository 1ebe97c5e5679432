"""Button listeners, one module per button; ``register`` wires them onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.actions import (
    binding_fix,
    claim,
    escalate,
    live_fixes,
    rerun,
    resolve,
    retry,
    show_evidence,
    show_vm,
)
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    for module in (rerun, escalate, claim, show_evidence, resolve, show_vm, retry,
                   live_fixes, binding_fix):  # fmt: skip
        module.register(app, services, poster)

"""Slash-command listeners; ``register`` wires them onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.commands import diagnose
from bot.posting import CasePoster
from bot.services import Services


def register(app: AsyncApp, services: Services, poster: CasePoster) -> None:
    diagnose.register(app, services, poster)

"""Slash-command listeners; ``register`` wires them onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.commands import diagnose
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    diagnose.register(app, services, poster)

"""Events API listeners (``app_mention``: the bot spoken to in a case thread)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.events import mentions
from bot.posting.case_poster import SlackCasePoster
from bot.services import Services


def register(app: AsyncApp, services: Services, poster: SlackCasePoster) -> None:
    mentions.register(app, services, poster)

"""A local Slack stand-in for end-to-end tests of the bot (shared/slack.md §1.3)."""

from __future__ import annotations

from tests.fakeslack.driver import HttpReply, SlackDriver, sign
from tests.fakeslack.socketmode import Ack
from tests.fakeslack.world import BOT_USER_ID, Call, Message

FakeSlack = SlackDriver

__all__ = ["BOT_USER_ID", "Ack", "Call", "FakeSlack", "HttpReply", "Message", "sign"]

"""High-level test API: slash commands and button clicks as Slack would deliver them.

Socket Mode: pushed as envelopes and acked over the websocket. HTTP mode: signed
form posts to the bot's ``/slack/events`` (slack.md §1.3 C and D).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakeslack.server import FakeSlack
from tests.fakeslack.socketmode import Ack
from tests.fakeslack.world import APP_ID, BOT_USER_ID, TEAM_ID, Message

ACK_DEADLINE_S = 3.0


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str
    latency_s: float


def sign(secret: str, body: str, timestamp: int) -> str:
    return SignatureVerifier(secret).generate_signature(
        timestamp=str(timestamp), body=body
    )


class SlackDriver(FakeSlack):
    http_target: str | None = None  # the bot's /slack/events URL in HTTP mode
    signing_secret: str = ""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.http_acks: list[HttpReply] = []

    def slash_payload(
        self, command: str, text: str, *, user: str, channel: str
    ) -> dict[str, Any]:
        return {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": self.world.channels[channel].name
            if channel in self.world.channels
            else "x",
            "user_id": user,
            "user_name": f"name-of-{user}",  # display names are never used for authorization
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": self.new_response_url(),
            "trigger_id": self.new_trigger(),
        }

    def click_payload(
        self, channel: str, ts: str, action_id: str, *, user: str
    ) -> dict[str, Any]:
        """A block_actions payload built from the stored latest version of the message."""
        msg = self.message(channel, ts)
        for block in msg.blocks:
            for element in (
                block.get("elements", []) if block.get("type") == "actions" else []
            ):
                if element.get("action_id") == action_id:
                    action = {
                        "type": element["type"],
                        "action_id": action_id,
                        "block_id": block.get("block_id", "b"),
                        "value": element.get("value"),
                        "text": element.get("text"),
                        "action_ts": f"{time.time():.6f}",
                    }
                    break
            else:
                continue
            break
        else:
            raise AssertionError(f"no element {action_id!r} on message {ts}")
        return {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": f"name-of-{user}", "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": self.new_trigger(),
            "channel": {"id": channel, "name": self.world.channels[channel].name},
            "message": self._as_json(msg),
            "response_url": self.new_response_url(),
            "actions": [action],
        }

    def view_submission_payload(
        self, view_id: str, *, user: str, values: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        """What Slack sends when the user presses Submit; ``values``: block -> action -> text."""
        view = dict(self.world.views[view_id])
        view["state"] = {
            "values": {
                block: {
                    action: {"type": "plain_text_input", "value": text}
                    for action, text in actions.items()
                }
                for block, actions in values.items()
            }
        }
        return {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": f"name-of-{user}", "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "deprecated-verification-token",
            "trigger_id": self.new_trigger(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
        }

    async def submit_view(
        self, view_id: str, *, user: str, values: dict[str, dict[str, str]]
    ) -> Ack | HttpReply:
        payload = self.view_submission_payload(view_id, user=user, values=values)
        if self.http_target is None:
            return await self.socket.push("interactive", payload)
        return await self.post_signed("payload=" + quote(json.dumps(payload)))

    def mention_payload(
        self, channel: str, thread_ts: str | None, text: str, *, user: str
    ) -> dict[str, Any]:
        """An Events API ``app_mention`` (the message names the bot as ``<@U...>``).

        The mention is a message of the user's in the channel (or thread), as in Slack.
        """
        ts = self.world.next_ts()
        root = self.world.messages.get((channel, thread_ts)) if thread_ts else None
        self.world.messages[(channel, ts)] = Message(
            channel=channel,
            ts=ts,
            user=user,
            text=f"<@{BOT_USER_ID}> {text}",
            blocks=[],
            thread_ts=(root.thread_ts or root.ts) if root else None,
        )
        if root is not None:
            self.world.messages[(channel, root.thread_ts or root.ts)].replies.append(ts)
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "team": TEAM_ID,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}
            ],
        }

    async def mention(
        self, channel: str, thread_ts: str | None, text: str, *, user: str
    ) -> Ack | HttpReply:
        payload = self.mention_payload(channel, thread_ts, text, user=user)
        if self.http_target is None:
            return await self.socket.push("events_api", payload)
        body = json.dumps(payload)
        return await self.post_signed(body, content_type="application/json")

    async def slash(
        self, command: str, text: str, *, user: str, channel: str
    ) -> Ack | HttpReply:
        payload = self.slash_payload(command, text, user=user, channel=channel)
        if self.http_target is None:
            return await self.socket.push("slash_commands", payload)
        return await self.post_signed(urlencode(payload))

    async def click(
        self, channel: str, ts: str, action_id: str, *, user: str
    ) -> Ack | HttpReply:
        payload = self.click_payload(channel, ts, action_id, user=user)
        if self.http_target is None:
            return await self.socket.push("interactive", payload)
        return await self.post_signed("payload=" + quote(json.dumps(payload)))

    async def post_signed(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> HttpReply:
        """POST a form body to the bot as Slack would, signed unless told otherwise."""
        assert self.http_target is not None
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(self.signing_secret, body, ts),
        }
        loop_time = time.monotonic()
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.http_target, data=body.encode(), headers=headers) as resp,
        ):
            reply = HttpReply(
                status=resp.status,
                body=await resp.text(),
                latency_s=time.monotonic() - loop_time,
            )
        self.http_acks.append(reply)
        return reply

    def max_ack_latency(self) -> float:
        latencies = [a.latency_s for a in self.socket.acks] + [
            a.latency_s for a in self.http_acks
        ]
        return max(latencies, default=0.0)

    def rejected_calls(self) -> list[Any]:
        """Calls Slack would have refused for their content: a bug in the bot, always."""
        bad = {
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "msg_blocks_too_long",
            "no_text",
        }
        return [c for c in self.journal if c.response.get("error") in bad]

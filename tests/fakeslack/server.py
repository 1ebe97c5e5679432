"""FakeSlack: Web API, Socket Mode, response_url and file uploads on 127.0.0.1:0 (slack.md §1.3)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakeslack.blocks import validate_blocks
from tests.fakeslack.socketmode import SocketHub
from tests.fakeslack.world import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    Message,
    World,
)

TOP_TEXT_MAX = 4000
TRIGGER_TTL_S = 3.0  # a trigger_id is good for 3 s and one exchange
VIEW_TITLE_MAX = 24
VIEW_BLOCKS_MAX = 100
TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
SERVER_ERROR_PAGE = "<html><body><h1>Slack is having trouble</h1></body></html>"


@dataclass
class Injection:
    method: str
    status: int
    error: str | None
    retry_after: int
    times: int


class RateLimited(Exception):
    pass


class FakeSlack:
    def __init__(
        self,
        *,
        post_rate_per_s: float = 20.0,
        post_burst: int = 5,
        text_cap: int = 12_000,
        response_url_uses: int = 5,
        update_rate_per_min: float
        | None = None,  # chat.update (Tier 3: ~50); None: no limit
        update_burst: int = 5,
    ) -> None:
        self.world = World()
        self.journal: list[Call] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.response_url_uses = response_url_uses
        self.socket = SocketHub(on_change=self._notify)
        self.text_cap = text_cap
        self.post_rate_per_s = post_rate_per_s
        self.post_burst = post_burst
        self.update_rate_per_min = update_rate_per_min
        self.update_burst = update_burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._injections: list[Injection] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.socket.handle)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    # ---- test hooks ------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        *,
        status: int = 429,
        error: str | None = None,
        retry_after: int = 0,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        429 answers ``ratelimited`` with ``Retry-After``; 5xx answers an HTML error page,
        as Slack's edge does (no JSON, so the SDK sees no ``error``); ``status=200`` with
        ``error`` answers ``ok: false`` with that code (``channel_not_found``, ...).
        """
        self._injections.append(Injection(method, status, error, retry_after, times))

    async def post_as_bot(self, channel: str, text: str) -> str:
        """A message the bot posted earlier (before a restart, say); returns its ts."""
        msg = Message(
            channel=channel,
            ts=self.world.next_ts(),
            user=BOT_USER_ID,
            text=text,
            blocks=[],
        )
        self.world.messages[(channel, msg.ts)] = msg
        await self._notify()
        return msg.ts

    def clear_injections(self) -> None:
        """Slack is healthy again: every injected failure still pending is dropped."""
        self._injections.clear()

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self.journal if method is None or c.method == method]

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10.0,  # noqa: ASYNC109 - the test API of slack.md §1.3 D
    ) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change)."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    async def wait_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] = lambda c: True,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test API of slack.md §1.3 D
    ) -> Call:
        return await self.wait_for(
            lambda: next(
                (c for c in self.calls(method) if c.ok and predicate(c)), None
            ),
            timeout,
        )

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def history(self, channel: str) -> list[Message]:
        return self.world.history(channel)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.world.thread(channel, ts)

    def message(self, channel: str, ts: str) -> Message:
        return self.world.messages[(channel, ts)]

    # ---- Web API ---------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            raw = await request.text()
            if request.content_type == "application/json":
                args.update(json.loads(raw or "{}"))
            else:
                args.update(dict(parse_qsl(raw, keep_blank_values=True)))
        for key in ("blocks", "files", "view"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    args[key] = "<unparseable>"
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        status, headers, body = 200, {}, {"ok": False, "error": "unknown_method"}
        wanted = "Bearer xapp-" if method == "apps.connections.open" else "Bearer xoxb-"
        injected = next(
            (i for i in self._injections if i.method == method and i.times > 0), None
        )
        if not auth.startswith(wanted):
            body = {"ok": False, "error": "invalid_auth"}
        elif injected is not None:
            injected.times -= 1
            status = injected.status
            body = {
                "ok": False,
                "error": injected.error
                or ("ratelimited" if status == 429 else "fatal_error"),
            }
            if status == 429:
                headers["Retry-After"] = str(injected.retry_after)
        else:
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is not None:
                try:
                    body = handler(args)
                except RateLimited:
                    status, headers = 429, {"Retry-After": "1"}
                    body = {"ok": False, "error": "ratelimited"}
        if method == "auth.test":
            headers["x-oauth-scopes"] = (
                "app_mentions:read,commands,chat:write,files:write,usergroups:read"
            )
        loop = asyncio.get_running_loop()
        self.journal.append(
            Call(method=method, args=args, at=loop.time(), status=status, response=body)
        )
        await self._notify()
        if status >= 500:
            return web.Response(
                status=status, text=SERVER_ERROR_PAGE, content_type="text/html"
            )
        return web.json_response(body, status=status, headers=headers)

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "migrate-diag",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4()
        return {
            "ok": True,
            "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}",
        }

    def _take_post_token(self, channel: str) -> None:
        self._take(channel, self.post_burst, self.post_rate_per_s)

    def _take(self, key: str, burst: int, rate_per_s: float) -> None:
        now = asyncio.get_running_loop().time()
        tokens, updated = self._buckets.get(key, (float(burst), now))
        tokens = min(burst, tokens + (now - updated) * rate_per_s)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise RateLimited
        self._buckets[key] = (tokens - 1, now)

    def _check_content(self, args: dict[str, Any]) -> str | None:
        blocks = args.get("blocks")
        text = args.get("text")
        if not text and not blocks:
            return "no_text"
        if blocks is not None and (
            err := validate_blocks(blocks, text_cap=self.text_cap)
        ):
            return err
        if text and len(text) > TOP_TEXT_MAX:
            return "msg_too_long"
        return None

    def _channel_error(self, channel_id: str) -> str | None:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            return "channel_not_found"
        if channel.is_archived:
            return "is_archived"
        if channel.is_private and not channel.bot_member:
            return "not_in_channel"
        return None

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if err := self._channel_error(channel) or self._check_content(args):
            return {"ok": False, "error": err}
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            parent = self.world.messages.get((channel, thread_ts))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            thread_ts = (
                parent.thread_ts or parent.ts
            )  # a reply's ts attaches to its parent
        self._take_post_token(channel)
        msg = Message(
            channel=channel,
            ts=self.world.next_ts(),
            user=BOT_USER_ID,
            text=args.get("text") or "",
            blocks=args.get("blocks") or [],
            thread_ts=thread_ts,
        )
        self.world.messages[(channel, msg.ts)] = msg
        if thread_ts is not None:
            self.world.messages[(channel, thread_ts)].replies.append(msg.ts)
        return {
            "ok": True,
            "channel": channel,
            "ts": msg.ts,
            "message": self._as_json(msg),
        }

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        msg = self.world.messages.get((channel, ts))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.user != BOT_USER_ID:
            return {"ok": False, "error": "cant_update_message"}
        if err := self._check_content(args):
            return {"ok": False, "error": err}
        if self.update_rate_per_min is not None:  # workspace-wide, like Slack's tiers
            self._take(
                "\0chat.update", self.update_burst, self.update_rate_per_min / 60
            )
        msg.edits.append({"text": msg.text, "blocks": msg.blocks})
        msg.text, msg.blocks = args.get("text") or "", args.get("blocks") or []
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg.text,
            "message": self._as_json(msg),
        }

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("message_ts", ""))
        if channel not in self.world.channels:
            return {"ok": False, "error": "channel_not_found"}
        if (channel, ts) not in self.world.messages:
            return {"ok": False, "error": "message_not_found"}
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if err := self._channel_error(channel) or self._check_content(args):
            return {"ok": False, "error": err}
        self.world.ephemeral.append(
            {
                "channel": channel,
                "user": args.get("user"),
                "text": args.get("text"),
                "blocks": args.get("blocks"),
            }
        )
        return {"ok": True, "message_ts": self.world.next_ts()}

    def new_trigger(self) -> str:
        """A trigger_id as an interaction carries it (``12345.98765.abcd2358fdea``)."""
        now = asyncio.get_running_loop().time()
        trigger = (
            f"{int(now * 1000)}.{len(self.world.triggers)}.{uuid.uuid4().hex[:12]}"
        )
        self.world.triggers[trigger] = (now, False)
        return trigger

    def _view_error(self, view: Any) -> str | None:
        if not isinstance(view, dict) or view.get("type") != "modal":
            return "invalid_arguments"
        title = view.get("title") or {}
        if (
            title.get("type") != "plain_text"
            or not 0 < len(title.get("text", "")) <= VIEW_TITLE_MAX
        ):
            return "invalid_arguments"
        blocks = view.get("blocks")
        if not isinstance(blocks, list) or len(blocks) > VIEW_BLOCKS_MAX:
            return "invalid_arguments"
        inputs = [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
        if inputs and not view.get("submit"):
            return "invalid_arguments"  # a modal with inputs needs a submit button
        if validate_blocks(blocks, text_cap=self.text_cap):
            return "invalid_arguments"
        if len(str(view.get("private_metadata", ""))) > 3000:
            return "invalid_arguments"
        return None

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id", ""))
        if not TRIGGER_FORMAT.match(trigger):
            return {"ok": False, "error": "invalid_trigger_id"}
        issued = self.world.triggers.get(trigger)
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        at, exchanged = issued
        if exchanged:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if asyncio.get_running_loop().time() - at > TRIGGER_TTL_S:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        if err := self._view_error(view):
            return {"ok": False, "error": err}
        assert isinstance(view, dict)
        self.world.triggers[trigger] = (at, True)
        view_id = "V" + uuid.uuid4().hex[:10].upper()
        opened = {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{int(at)}.{uuid.uuid4().hex[:8]}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self.world.views[view_id] = opened
        return {"ok": True, "view": opened}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.world.usergroups.get(str(args.get("usergroup")))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group)}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.world.uploads[file_id] = {
            "id": file_id,
            "name": args["filename"],
            "length": int(args["length"]),
        }
        return {
            "ok": True,
            "upload_url": f"{self.base}/upload/{file_id}",
            "file_id": file_id,
        }

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            upload = self.world.uploads.get(str(item.get("id")))
            if upload is None or "content" not in upload:
                return {"ok": False, "error": "file_not_found"}
            upload["title"] = item.get("title")
            done.append(
                {"id": upload["id"], "name": upload["name"], "title": upload["title"]}
            )
        channel = args.get("channel_id")
        if channel:
            if err := self._channel_error(str(channel)):
                return {"ok": False, "error": err}
            post = self._m_chat_postMessage(
                {
                    "channel": channel,
                    "thread_ts": args.get("thread_ts"),
                    "text": args.get("initial_comment") or "file",
                }
            )
            if not post["ok"]:
                return post
            self.world.messages[(str(channel), post["ts"])].files.extend(
                self.world.uploads[f["id"]] for f in done
            )
        return {"ok": True, "files": done}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.world.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404)
        upload["content"] = await request.read()
        await self._notify()
        return web.Response(text="OK - {}".format(len(upload["content"])))

    @staticmethod
    def _as_json(msg: Message) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": msg.user,
            "bot_id": BOT_ID,
            "text": msg.text,
            "ts": msg.ts,
            "blocks": msg.blocks,
            "team": TEAM_ID,
        }
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
        return out

    # ---- response_url ----------------------------------------------------------------------

    def new_response_url(self) -> str:
        token = uuid.uuid4().hex
        self.responses[token] = []
        return f"{self.base}/response/{token}"

    async def _response_url(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        uses = self.responses.get(token)
        if uses is None:
            return web.Response(status=404, text="no_such_url")
        if len(uses) >= self.response_url_uses:
            return web.Response(status=410, text="used_up")
        body = await request.json()
        if err := self._check_content(body):
            return web.Response(status=400, text=err)
        uses.append(body)
        await self._notify()
        return web.Response(text="ok")

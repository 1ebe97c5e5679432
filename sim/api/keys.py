"""Typed keys for what the region stores on the aiohttp app and on each request."""

from __future__ import annotations

from aiohttp import web

from sim.api.microversion import Microversion
from sim.region.moves import MoveRunner
from sim.region.state import RegionState

STATE = web.AppKey("state", RegionState)
MOVE_RUNNER = web.AppKey("move_runner", MoveRunner)
REQUEST_ID = web.RequestKey("request_id", str)
# every request the region answered, "METHOD /path" in order (tests count API calls)
REQUEST_LOG: web.AppKey[list[str]] = web.AppKey("request_log")
# (user name, project id, roles) of the request's token
AUTH: web.RequestKey[tuple[str, str, tuple[str, ...]]] = web.RequestKey("auth")
MICROVERSION = web.RequestKey("microversion", Microversion)

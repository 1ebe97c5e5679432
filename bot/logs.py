"""The serving bot's log: one line per event, text or JSON, with the case's correlation id.

``case_context(case_id)`` binds the id for everything the case's tasks log (contextvars
follow the tasks it creates); each record then carries ``case`` (text: ``[case-…]``).
``logging.format: json`` writes one JSON object per line (time, level, logger, message,
case, and the exception as one string), for a log pipeline.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal

CASE: contextvars.ContextVar[str | None] = contextvars.ContextVar("case", default=None)


@contextmanager
def case_context(case_id: str) -> Iterator[None]:
    token = CASE.set(case_id)
    try:
        yield
    finally:
        CASE.reset(token)


class _CaseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        case = CASE.get()
        record.case = case
        record.case_tag = f" [{case}]" if case else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        case = getattr(record, "case", None)
        if case:
            entry["case"] = case
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class OneLineFormatter(logging.Formatter):
    """Text, but a traceback stays on the event's line (newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\\n")


def configure(fmt: Literal["text", "json"], level: str) -> None:
    """Replace the root handlers with one stderr handler in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CaseFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            OneLineFormatter(
                "%(asctime)s %(levelname)s %(name)s%(case_tag)s: %(message)s"
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # the libraries' chatter stays at WARNING unless asked
    for name in ("slack_bolt", "slack_sdk", "aiohttp.access", "openstack", "paramiko"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

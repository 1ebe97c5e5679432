"""serve's log: one line per event, JSON when asked, the case id on each line of a case."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def captured(fmt: str) -> io.StringIO:
    logs.configure(fmt, "INFO")  # type: ignore[arg-type]
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


def test_json_lines_carry_the_case_and_keep_a_traceback_on_one_line(
    root_restored: None,
) -> None:
    stream = captured("json")
    log = logging.getLogger("bot.test")
    with logs.case_context("case-123"):
        log.info("posted %s", "parent")
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("failed")
    log.info("outside")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # one line per event, the traceback included
    first, failure, outside = (json.loads(line) for line in lines)
    assert (first["message"], first["case"], first["level"]) == (
        "posted parent",
        "case-123",
        "INFO",
    )
    assert "ValueError: boom" in failure["exception"]
    assert "case" not in outside


def test_text_lines_name_the_case(root_restored: None) -> None:
    stream = captured("text")
    with logs.case_context("case-9"):
        logging.getLogger("bot.test").warning("two\nlines")
    [line] = stream.getvalue().splitlines()
    assert "bot.test [case-9]: two\\nlines" in line

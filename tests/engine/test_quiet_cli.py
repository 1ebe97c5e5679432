"""At the default level a library's traceback never reaches the operator's terminal."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from diagnostics.cli_diagnose import quiet_libraries


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """A root handler like the CLI's basicConfig, writing to a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.getLogger("paramiko").setLevel(logging.NOTSET)


def _paramiko_banner_error() -> None:
    try:
        raise EOFError("Error reading SSH protocol banner")
    except EOFError:
        logging.getLogger("paramiko.transport").exception("Exception (client)")


def test_default_level_hides_paramiko_tracebacks(stderr: io.StringIO) -> None:
    """paramiko logs the banner error with a traceback: hidden unless --verbose."""
    quiet_libraries(verbose=False)
    _paramiko_banner_error()
    assert stderr.getvalue() == ""


def test_verbose_shows_them(stderr: io.StringIO) -> None:
    """With --verbose the details are there for whoever debugs the probe."""
    quiet_libraries(verbose=True)
    _paramiko_banner_error()
    assert "Error reading SSH protocol banner" in stderr.getvalue()
    assert "Traceback" in stderr.getvalue()

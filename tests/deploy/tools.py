"""The deploy linters come from the `deploy` dependency group (`make test` installs it).

A developer venv made before that group existed skips these tests with the reason; CI
(CI=true) fails instead, so a missing install step can never pass unnoticed.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = (
    "install the deploy tools: .venv/bin/pip install -e . --group dev (or make test)"
)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI; {INSTALL_HINT}")
    pytest.skip(f"{what} is not installed; {INSTALL_HINT}")


def tool(name: str) -> str:
    """Path of an executable: the venv's own first, then PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        _missing(name)
    assert found is not None
    return found


def module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"the Python module {name}")
        raise

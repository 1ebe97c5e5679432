"""Shared fixtures. The simulated region itself lives in sim/testing.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from sim.testing import start_region
from sim.wiring import Region

SimRegionFactory = Callable[..., AbstractAsyncContextManager[Region]]


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keystone tokens cached by the runs under test (openstack.token_cache) go to a
    directory of this session, never the user's ~/.cache (subprocesses inherit it)."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))


@pytest.fixture
def sim_region_factory(
    tmp_path: Path,
) -> Callable[..., AbstractAsyncContextManager[Region]]:
    """``async with sim_region_factory("scenario-or-path") as region:`` on free ports."""

    def factory(scenario: Any, **options: Any) -> AbstractAsyncContextManager[Region]:
        return start_region(scenario, tmp_path, **options)

    return factory

"""Shared fixtures. The simulated region itself lives in sim/testing.py."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from sim.testing import start_region
from sim.wiring import Region

SimRegionFactory = Callable[..., AbstractAsyncContextManager[Region]]


@pytest.fixture
def sim_region_factory(
    tmp_path: Path,
) -> Callable[..., AbstractAsyncContextManager[Region]]:
    """``async with sim_region_factory("scenario-or-path") as region:`` on free ports."""

    def factory(scenario: Any, **options: Any) -> AbstractAsyncContextManager[Region]:
        return start_region(scenario, tmp_path, **options)

    return factory

"""Shared fixtures. The simulated region itself lives in sim/testing.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from sim.testing import start_region
from sim.wiring import Region

SimRegionFactory = Callable[..., AbstractAsyncContextManager[Region]]


# The developer's environment that would otherwise steer a test: an OpenStack cloud, a
# kubeconfig, an SSH agent. Unset for the whole run (subprocesses inherit the result).
_FOREIGN_ENV = ("KUBECONFIG", "SSH_AUTH_SOCK", "SSH_AGENT_PID")


@pytest.fixture(autouse=True, scope="session")
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every HOME-derived path of the run is a directory of this session, never the user's.

    ``SshSettings()`` reads ``~/.ssh/config`` and ``~/.ssh/known_hosts`` by default, the
    token cache writes under ``$XDG_CACHE_HOME`` (else ``~/.cache``), openstacksdk reads
    ``~/.config/openstack/clouds.yaml`` and the ``OS_*`` variables: a developer's
    ``Host *`` block, cached tokens or ``OS_CLOUD`` must not change what the tests see or
    dial. ``tests/testprivate_home.py`` runs an SSH test under a hostile ~/.ssh/config.
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir(mode=0o700)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        env.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        env.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        for name in [*_FOREIGN_ENV, *(n for n in os.environ if n.startswith("OS_"))]:
            env.delenv(name, raising=False)
        yield home


@pytest.fixture
def sim_region_factory(
    tmp_path: Path,
) -> Callable[..., AbstractAsyncContextManager[Region]]:
    """``async with sim_region_factory("scenario-or-path") as region:`` on free ports."""

    def factory(scenario: Any, **options: Any) -> AbstractAsyncContextManager[Region]:
        return start_region(scenario, tmp_path, **options)

    return factory

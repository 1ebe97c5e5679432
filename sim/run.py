"""``migrate-diag sim up``: run a region in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from sim.region.faults import Fault
from sim.region.statedir import write_state_dir
from sim.wiring import Region

log = logging.getLogger(__name__)


def describe(region: Region, paths: dict[str, Path]) -> str:
    """What to point the bot and the CLI at, as plain text."""
    lines = [
        f"scenario {region.scenario.name}: {region.scenario.description.strip()}",
        f"  OpenStack APIs   {region.base_url}  (auth {region.auth_url})",
        f"  clouds.yaml      {paths['clouds']}  (OS_CLIENT_CONFIG_FILE, --os-cloud sim)",
        f"  SSH hosts        {len(region.ssh_endpoints)} (config {paths['ssh_config']})",
    ]
    lines += [
        f"    {h:<14} 127.0.0.1:{p}"
        for h, (p, _k) in sorted(region.ssh_endpoints.items())
    ]
    if "kubeconfig" in paths:
        lines.append(
            f"  kubeconfig       {paths['kubeconfig']} (namespace {region.scenario.namespace})"
        )
    lines.append(f"  migrate-diag     --config {paths['config']}")
    return "\n".join(lines)


async def serve(
    scenario: str,
    state_dir: Path,
    latency_ms: int = 0,
    amqp_url: str | None = None,
    out: TextIO | None = None,
    faults: Mapping[str, Fault] | None = None,
) -> None:
    """Start the region, write the state dir, say where it is, stop on SIGINT/SIGTERM.

    The description goes to ``out`` (the terminal of `migrate-diag sim up`) or the log.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    region = Region(
        scenario,
        key_dir=state_dir,
        latency_ms=latency_ms,
        amqp_url=amqp_url,
        move_step_s=0.5,
    )
    region.state.faults.update(faults or {})  # read per request; the SSH hosts at start
    async with region:
        paths = write_state_dir(region, state_dir)
        text = describe(region, paths)
        if out is not None:
            out.write(f"simulated region running (Ctrl-C stops it)\n{text}\n")
            out.flush()
        else:
            log.info("simulated region running\n%s", text)
        await stop.wait()
        log.info("stopping simulated region %s", region.scenario.name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(sig)

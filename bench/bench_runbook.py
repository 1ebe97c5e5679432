"""Benchmark: `migrate-diag diagnose` against the runbook done by hand with the `openstack` CLI.

The runbook's API part (steps 1-3, 5, 6) as an operator types it: 15 `openstack` commands
one after another, each a new process that authenticates, the ids for the next command
read from the previous one's output. Against the same region and latency: a cold
`migrate-diag diagnose` (a new process, token reused from the run before) and a warm
diagnosis (one engine kept, as the serving bot does). The runbook here leaves out what
the diagnosis does besides (pods and their logs, SSH probes and hypervisor logs), so the
ratios understate the difference. Targets in bench/README.md (cold >= 10x, warm >= 30x).

    .venv/bin/python bench/bench_runbook.py [--scenario NAME] [--latency 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_bound import _variant, cold, region, scenario_vm, warm

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


def _osc(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [OPENSTACK, "--os-cloud", "sim", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip()


def runbook(clouds: Path, vm: str) -> float:
    """The 15 commands, in order (the VM's id first); returns the wall time in ms."""
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "PYTHONWARNINGS": "ignore",
    }
    placement = ("--os-placement-api-version", "1.14")
    t0 = time.perf_counter()
    vm = _osc(
        env, "server", "list", "--all-projects", "--name", f"^{vm}$",
        "-f", "value", "-c", "ID",
    )  # fmt: skip
    source = _osc(
        env, "server", "show", vm, "-f", "value", "-c", "OS-EXT-SRV-ATTR:host"
    )
    migrations = _osc(
        env, "server", "migration", "list", "--server", vm,
        "-f", "value", "-c", "Dest Compute",
    )  # fmt: skip
    dest = migrations.splitlines()[0].strip() if migrations else source
    _osc(env, "compute", "service", "list", "--service", "nova-compute")
    _osc(env, "volume", "service", "list")
    _osc(env, "network", "agent", "list")
    events = _osc(env, "server", "event", "list", vm, "-f", "value", "-c", "Request ID")
    _osc(env, "server", "event", "show", vm, events.splitlines()[0])
    _osc(env, "resource", "provider", "list", "--name", source, *placement)
    dest_rp = _osc(
        env, "resource", "provider", "list", "--name", dest, "-f", "value", "-c", "uuid",
        *placement,
    )  # fmt: skip
    _osc(env, "resource", "provider", "inventory", "list", dest_rp, *placement)
    _osc(env, "resource", "provider", "usage", "show", dest_rp, *placement)
    _osc(env, "resource", "provider", "trait", "list", dest_rp, *placement)
    _osc(env, "aggregate", "list", "--long")
    _osc(env, "availability", "zone", "list", "--long")
    return (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="libvirt-tls-expired-cert")
    parser.add_argument("--latency", type=int, nargs="+", default=[50])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    vm = scenario_vm(args.scenario)
    for latency in args.latency:
        with (
            tempfile.TemporaryDirectory() as tmp,
            region(args.scenario, latency, Path(tmp) / "state") as config,
        ):
            clouds = config.with_name("clouds.yaml")
            by_hand = statistics.median(runbook(clouds, vm) for _ in range(args.runs))
            cached = _variant(config, "token-cache", token_cache_dir=f"{tmp}/t")
            cold(cached, vm, 1)
            cold_ms = statistics.median(s.wall_ms for s in cold(cached, vm, args.runs))
            no_cache = _variant(config, "no-token-cache", token_cache=False)
            warm_ms = statistics.median(
                s.wall_ms for s in asyncio.run(warm(no_cache, vm, args.runs, False))
            )
        sys.stdout.write(
            f"{latency:>4} ms  runbook {by_hand:8.0f} ms  cold diagnose {cold_ms:7.0f} ms"
            f" ({by_hand / cold_ms:5.1f}x)  warm diagnose {warm_ms:6.0f} ms"
            f" ({by_hand / warm_ms:5.1f}x)\n"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

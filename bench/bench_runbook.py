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

from bench_bound import (
    Sample,
    _variant,
    child_cpu_ms,
    cold,
    compile_checkout,
    region,
    scenario_vm,
    warm,
)

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


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} ms [{min(values):.0f}-{max(values):.0f}]"


def _cold_lines(
    label: str, samples: list[Sample], hand_wall: list[float], hand_cpu: list[float]
) -> str:
    """Wall and CPU of the cold runs, and the runbook's multiple of each, per pair."""
    wall = [s.wall_ms for s in samples]
    cpu = [s.cpu_ms or float("nan") for s in samples]
    wall_x = [h / c for h, c in zip(hand_wall, wall, strict=True)]
    cpu_x = [h / c for h, c in zip(hand_cpu, cpu, strict=True)]
    return (
        f"  {label:<14} wall {_spread(wall)}  cpu {_spread(cpu)}\n"
        f"  {'':<14} {statistics.median(wall_x):5.1f}x wall"
        f" [{min(wall_x):.1f}-{max(wall_x):.1f}],"
        f" {statistics.median(cpu_x):5.1f}x cpu [{min(cpu_x):.1f}-{max(cpu_x):.1f}]\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="libvirt-tls-expired-cert")
    parser.add_argument("--latency", type=int, nargs="+", default=[50])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="also time a cold diagnose of this checkout (PYTHONPATH), in the same turns",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="leave the checkout's modules as they are (no .pyc written first)",
    )
    args = parser.parse_args()
    if not args.no_compile:
        compile_checkout()
        if args.before:
            compile_checkout(args.before)
    vm = scenario_vm(args.scenario)
    for latency in args.latency:
        with (
            tempfile.TemporaryDirectory() as tmp,
            region(args.scenario, latency, Path(tmp) / "state") as config,
        ):
            clouds = config.with_name("clouds.yaml")
            cached = _variant(config, "token-cache", token_cache_dir=f"{tmp}/t")
            cold(cached, vm, 1)  # leaves a cached token for the cold runs
            # runbook and cold diagnosis taken in turns, so a change in the machine's
            # load falls on both; the ratio is taken per pair
            hand_wall, hand_cpu, colds, befores = [], [], [], []
            if args.before:
                cold(cached, vm, 1, args.before)
            for _ in range(args.runs):
                cpu0 = child_cpu_ms()
                hand_wall.append(runbook(clouds, vm))
                hand_cpu.append(child_cpu_ms() - cpu0)
                colds.extend(cold(cached, vm, 1))
                if args.before:
                    befores.extend(cold(cached, vm, 1, args.before))
            no_cache = _variant(config, "no-token-cache", token_cache=False)
            warm_ms = [
                s.wall_ms for s in asyncio.run(warm(no_cache, vm, args.runs, False))
            ]
        warm_x = statistics.median(hand_wall) / statistics.median(warm_ms)
        sys.stdout.write(
            f"{latency:>4} ms, {args.runs} runs, median [min-max], "
            f"load {os.getloadavg()[0]:.1f}\n"
            f"  runbook        wall {_spread(hand_wall)}  cpu {_spread(hand_cpu)}\n"
            + _cold_lines("cold diagnose", colds, hand_wall, hand_cpu)
            + (
                _cold_lines("cold (before)", befores, hand_wall, hand_cpu)
                if befores
                else ""
            )
            + f"  warm diagnose  wall {_spread(warm_ms)}   {warm_x:5.1f}x wall\n"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

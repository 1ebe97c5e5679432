"""Benchmark: wall time and memory of diagnoses against a simulated region with latency.

Goals (see bench/README.md): with 20 ms added to every API call and SSH command, one
diagnosis finishes in under 5 s (the runbook by hand takes ~30 min), and 8 concurrent
diagnoses in under 15 s, with peak RSS under 400 MB.

    .venv/bin/python bench/bench_diagnose.py [--scenario NAME] [--latency MS] [--runs N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import BotSettings
from diagnostics.model import MigrationRef
from diagnostics.service import open_engine
from diagnostics.settings import load_settings
from sim.scenario.load import load_scenario
from sim.testing import start_region


async def bench(
    scenario: str, latency_ms: int, runs: int, concurrency: int
) -> dict[str, float]:
    vm = load_scenario(scenario).expect.vm  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory() as tmp:
        async with start_region(scenario, Path(tmp), latency_ms=latency_ms) as region:
            settings = load_settings(region.paths["config"], BotSettings)  # type: ignore[attr-defined]
            async with open_engine(settings) as engine:
                sequential = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    await engine.diagnose(MigrationRef(server=vm))
                    sequential.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await asyncio.gather(
                    *(
                        engine.diagnose(MigrationRef(server=vm))
                        for _ in range(concurrency)
                    )
                )
                together = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "p50_s": statistics.median(sequential),
        "max_s": max(sequential),
        f"concurrent_{concurrency}_s": together,
        "peak_rss_mb": rss_mb,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="libvirt-tls-expired-cert")
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(
        bench(args.scenario, args.latency, args.runs, args.concurrency)
    )
    for key, value in result.items():
        sys.stdout.write(f"{key:>20}: {value:.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: cold start of the command line (`--help`, `--version`, `diagnose --help`).

Goal (bench/README.md): each answers in under 0.2 s, because the SDKs (openstacksdk,
kubernetes, paramiko), pydantic settings, Slack and the sim load only in the subcommand that
needs them. The ratio to a bare `python -c pass` shows what our own imports cost on top of the
interpreter; the last row, importing the engine, shows what deferring saves. The goal is judged
on CPU time (user + system of the child): on a shared machine wall time mostly measures the
other processes; both are printed, with the load average.

    .venv/bin/python bench/bench_cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL_S = 0.2
ENTRY = Path(sys.executable).with_name("migrate-diag")
CASES: dict[str, list[str]] = {
    "python -c pass (interpreter)": [sys.executable, "-c", "pass"],
    "migrate-diag --help": [str(ENTRY), "--help"],
    "migrate-diag --version": [str(ENTRY), "--version"],
    "migrate-diag diagnose --help": [str(ENTRY), "diagnose", "--help"],
    "import the engine (for scale)": [
        sys.executable,
        "-c",
        "import diagnostics.service",
    ],
}


def _time(argv: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wall.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    _time(CASES["migrate-diag --help"], 1)  # warm the page cache and .pyc files
    rows = {}
    for name, argv in CASES.items():
        wall, cpu = _time(argv, args.runs)
        rows[name] = (statistics.median(wall), statistics.median(cpu))
    base = rows["python -c pass (interpreter)"][1]
    out = sys.stdout
    out.write(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.runs} runs\n"
    )
    out.write(f"{'command':32} {'wall':>8} {'cpu':>8} {'cpu/python':>10}  goal (cpu)\n")
    failed = False
    for name, (wall_s, cpu_s) in rows.items():
        goal = ""
        if name.startswith("migrate-diag"):
            ok = cpu_s < GOAL_S
            failed |= not ok
            goal = f"< {GOAL_S:.1f} s {'ok' if ok else 'MISSED'}"
        out.write(
            f"{name:32} {wall_s:7.3f}s {cpu_s:7.3f}s {cpu_s / base:9.1f}x  {goal}\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

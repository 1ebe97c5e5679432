"""Benchmark: a diagnosis against its dependency bound, cold and warm, at added latencies.

The *dependency bound* is the longest chain of OpenStack requests that each needed an
earlier answer (token → server → its migration records → the hosts' resource providers
→ their inventories …), summed over the requests' own durations: no diagnosis can be
faster. Each diagnosis records its request graph (``Diagnosis.timing``); the bound is its
critical path and the *API span* is the first OpenStack request's start to the last
one's end. Targets in bench/README.md (span ≤ 1.25 × bound at 50 ms).

The region runs in its own process (``migrate-diag sim up --latency MS``), so its event
loop never competes with the one being measured.

- cold: ``migrate-diag diagnose VM --format json`` as a fresh process (imports and
  version discovery included) reusing the Keystone token of the run before
  (``openstack.token_cache``, on by default); "cold-auth" is the same with the cache off,
  so every run authenticates. Wall time and the span/bound from the JSON ``timing``.
- warm: one engine in this process, as the serving bot keeps it (the first diagnosis
  warms the token and discovery and is not counted).

    .venv/bin/python bench/bench_bound.py [--scenario NAME] [--latency 0 50 200]
                                          [--cold-runs 3] [--warm-runs 5]

``--span-only`` measures the API span with a plain response hook and no request graph,
so the same script can time a checkout that predates the graph (the "before" numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import BotSettings
from diagnostics.model import MigrationRef
from diagnostics.service import open_engine
from diagnostics.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
READY = "migrate-diag     --config"


def _cli() -> list[str]:
    """`migrate-diag` of this interpreter and import path (PYTHONPATH picks the checkout).

    What the console script runs (``bot.cli:entry``: leave without interpreter teardown
    once the output is flushed); a checkout from before ``entry`` runs ``main``.
    """
    return [
        sys.executable,
        "-c",
        "import sys, bot.cli as c; sys.exit(getattr(c, 'entry', c.main)())",
    ]


def checkout() -> Path:
    """The checkout whose ``bot`` this benchmark imports (PYTHONPATH, else the install).

    Children run with it as their working directory: ``python -c`` puts the working
    directory first on ``sys.path``, so a child started elsewhere could import another
    copy of the code than the one named.
    """
    import bot

    return Path(bot.__file__).resolve().parents[1]


def compile_checkout(root: Path | None = None) -> Path:
    """Byte-compile the checkout the benchmark runs, as ``pip install`` does at install.

    An editable install leaves the project's own modules without ``.pyc`` files, and with
    ``PYTHONDONTWRITEBYTECODE`` set (as on the shared machine) every cold process would
    compile ~75 modules from source, a cost no installed copy pays (the ``openstack`` CLI's
    modules, in site-packages, were compiled by pip). Returns the checkout.
    """
    import compileall

    root = root or checkout()
    for package in ("bot", "diagnostics", "sim"):
        compileall.compile_dir(str(root / package), quiet=1)
    return root


def child_cpu_ms() -> float:
    """User + system CPU of the waited-for children so far (ms)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def scenario_vm(name: str) -> str:
    """The VM a bundled scenario expects to be diagnosed (its ``expect.vm``)."""
    for path in ROOT.glob(f"sim/**/{name}.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(data["expect"]["vm"])
    raise SystemExit(f"no scenario {name!r} under sim/")


@contextlib.contextmanager
def region(scenario: str, latency_ms: int, state: Path) -> Iterator[Path]:
    """`migrate-diag sim up` in its own process; yields the config it wrote."""
    proc = subprocess.Popen(
        [
            *_cli(),
            "sim",
            "up",
            "--scenario",
            scenario,
            "--state-dir",
            str(state),
            "--latency",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        cwd=checkout(),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if READY in line:
                break
        else:
            raise SystemExit("the simulated region did not start")
        yield state / "migrate-diag.yaml"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@dataclass
class Sample:
    wall_ms: float
    span_ms: float
    bound_ms: float | None
    cpu_ms: float | None = None  # user + system of the cold process

    @property
    def ratio(self) -> float | None:
        return self.span_ms / self.bound_ms if self.bound_ms else None


def _from_timing(data: dict[str, Any]) -> tuple[float, float | None]:
    return float(data["api_span_ms"]), float(data["dependency_bound_ms"])


def cold(config: Path, vm: str, runs: int, code: Path | None = None) -> list[Sample]:
    """``runs`` fresh ``diagnose`` processes; ``code``: another checkout's (PYTHONPATH)."""
    root = code or checkout()
    env = {**os.environ, "PYTHONPATH": str(root)} if code else None
    samples = []
    for _ in range(runs):
        cpu0 = child_cpu_ms()
        t0 = time.perf_counter()
        done = subprocess.run(
            [*_cli(), "diagnose", vm, "--config", str(config), "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
            cwd=root,
            env=env,
        )
        wall = (time.perf_counter() - t0) * 1000
        cpu = child_cpu_ms() - cpu0
        timing = json.loads(done.stdout).get("timing") if done.stdout else None
        span, bound = _from_timing(timing) if timing else (float("nan"), None)
        samples.append(Sample(wall, span, bound, cpu))
    return samples


class _SpanHook:
    """A ``requests`` response hook: first request start to last response, per run."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> None:
        end = time.perf_counter()
        self.marks.append((end - response.elapsed.total_seconds(), end))

    def take(self) -> float:
        marks, self.marks = self.marks, []
        if not marks:
            return float("nan")
        return (max(e for _, e in marks) - min(s for s, _ in marks)) * 1000


async def warm(config: Path, vm: str, runs: int, span_only: bool) -> list[Sample]:
    settings = load_settings(config, BotSettings)
    hook = _SpanHook()
    samples = []
    async with open_engine(settings) as engine:
        engine.clients.openstack.conn.session.session.hooks["response"].append(hook)
        await engine.diagnose(MigrationRef(server=vm))  # token, discovery: not counted
        hook.take()
        for _ in range(runs):
            t0 = time.perf_counter()
            diagnosis = await engine.diagnose(MigrationRef(server=vm))
            wall = (time.perf_counter() - t0) * 1000
            span = hook.take()
            timing = getattr(diagnosis, "timing", None)
            if span_only or timing is None:
                samples.append(Sample(wall, span, None))
            else:
                samples.append(Sample(wall, timing.span_ms(), timing.bound_ms()))
    return samples


def _median(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None and v == v]
    return statistics.median(real) if real else None


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.0f}{unit}" if unit else f"{value:.2f}"


def report(kind: str, latency: int, samples: list[Sample]) -> str:
    wall = _median([s.wall_ms for s in samples])
    span = _median([s.span_ms for s in samples])
    bound = _median([s.bound_ms for s in samples])
    ratio = _median([s.ratio for s in samples])
    cpu = _median([s.cpu_ms for s in samples])
    cpu_part = f"  cpu {_fmt(cpu, ' ms'):>8}" if cpu is not None else ""
    return (
        f"{kind:<9} {latency:>4} ms  wall {_fmt(wall, ' ms'):>8}  span {_fmt(span, ' ms'):>8}"
        f"  bound {_fmt(bound, ' ms'):>8}  span/bound {_fmt(ratio):>5}{cpu_part}"
        f"  (median of {len(samples)})"
    )


def _variant(config: Path, name: str, **openstack: object) -> Path:
    """The region's config with some ``openstack`` settings changed."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data.setdefault("openstack", {}).update(openstack)
    path = config.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="libvirt-tls-expired-cert")
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 50, 200])
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=5)
    parser.add_argument("--span-only", action="store_true")
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="leave the checkout's modules as they are (no .pyc written first)",
    )
    args = parser.parse_args()
    if not args.no_compile:
        compile_checkout()
    vm = scenario_vm(args.scenario)
    lines = []
    for latency in args.latency:
        with (
            tempfile.TemporaryDirectory() as tmp,
            region(args.scenario, latency, Path(tmp) / "state") as config,
        ):
            if args.span_only:  # a checkout from before the token cache setting
                no_cache = cached = config
            else:
                no_cache = _variant(config, "no-token-cache", token_cache=False)
                cached = _variant(config, "token-cache", token_cache_dir=f"{tmp}/t")
            auth_samples = cold(no_cache, vm, args.cold_runs)
            cold(cached, vm, 1)  # leaves a cached token for the cold runs
            cold_samples = cold(cached, vm, args.cold_runs)
            warm_samples = asyncio.run(
                warm(no_cache, vm, args.warm_runs, args.span_only)
            )
        for line in (
            report("cold-auth", latency, auth_samples),
            report("cold", latency, cold_samples),
            report("warm", latency, warm_samples),
        ):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            lines.append(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

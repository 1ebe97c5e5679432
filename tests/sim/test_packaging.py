"""`pip install migrate-diag` is the product without the simulator; `[sim]` adds it.

The wheel is built once (offline, from a copy of the sources) and inspected: asyncssh is
required only by the ``sim`` extra, and the scenarios and Nova samples the sim reads at
run time are inside it. Then the product's code from that wheel runs in a child
interpreter where ``sim`` and ``asyncssh`` cannot be imported (a meta-path finder
refuses them and records every attempt): every ``bot`` and ``diagnostics`` module
imports, and ``migrate-diag diagnose`` diagnoses a real (simulated) region end to end.
"""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from sim.region.notify import SAMPLES_DIR
from sim.scenario.load import list_scenarios
from sim.testing import start_region

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIM_ONLY = ("sim", "asyncssh")

# Runs in the child: refuse the sim and asyncssh, record who asked, then run the payload.
_BLOCKER = """
import importlib.abc, json, sys
refused = []

class SimBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            refused.append(name)
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, SimBlocker())
sys.path.insert(0, {wheel_dir!r})
"""

_IMPORT_ALL = """
import importlib, pkgutil
imported = []
for top in ("bot", "diagnostics"):
    package = importlib.import_module(top)
    assert package.__file__.startswith({wheel_dir!r}), package.__file__
    imported.append(top)
    for module in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(module.name)
        imported.append(module.name)
try:
    import sim.wiring  # the blocker must bite, or this test proves nothing
    control = "imported"
except ModuleNotFoundError:
    control = "refused"
print(json.dumps({{"imported": imported, "refused": refused, "control": control,
                  "loaded": [m for m in sys.modules if m.split(".")[0] in {blocked!r}]}}))
"""

_DEMO = """
import contextlib, io
from bot.cli import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    code = main(["demo", "--html", {html!r}])
print(json.dumps({{"code": code, "err": err.getvalue(), "refused": refused}}))
"""

_DIAGNOSE = """
from bot.cli import main
code = main(["diagnose", {vm!r}, "--format", "json", "--config", {config!r}])
print()
print(json.dumps({{"code": code, "refused": refused,
                  "loaded": [m for m in sys.modules if m.split(".")[0] in {blocked!r}]}}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built offline from a copy (no build/ in the tree)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "diagnostics", "sim"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", "-w", str(out), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("migrate_diag-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _metadata(wheel: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(name).decode())
    return [(key, value) for key, value in message.items()]


def _child(
    unpacked: Path, payload: str, blocked: tuple[str, ...] = SIM_ONLY, **values: str
) -> dict[str, object]:
    blocker = _BLOCKER.format(blocked=blocked, wheel_dir=str(unpacked))
    code = payload.format(blocked=blocked, wheel_dir=str(unpacked), **values)
    done = subprocess.run(
        [sys.executable, "-c", blocker + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=unpacked,
    )
    *printed, last = done.stdout.splitlines()
    result: dict[str, object] = json.loads(last)
    result["out"] = "\n".join(printed)  # what the payload itself printed
    return result


def test_asyncssh_is_only_in_the_sim_extra(wheel: Path) -> None:
    """Requires-Dist names asyncssh only under ``extra == "sim"``; the extra is declared."""
    metadata = _metadata(wheel)
    requires = [v for k, v in metadata if k == "Requires-Dist"]
    asyncssh = [r for r in requires if r.lower().startswith("asyncssh")]
    assert asyncssh, requires
    assert all('extra == "sim"' in r for r in asyncssh), asyncssh
    assert ("Provides-Extra", "sim") in metadata
    # the product's own runtime needs stay unconditional
    assert any(r.startswith("openstacksdk") and "extra" not in r for r in requires)


def test_wheel_carries_the_sim_data_files(wheel: Path) -> None:
    """Every bundled scenario and Nova notification sample is packaged where the sim reads it."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for scenario in list_scenarios():
        assert f"sim/scenario/bundled/{scenario}.yaml" in names
    samples = sorted(SAMPLES_DIR.rglob("*.json"))
    assert samples
    for sample in samples:
        assert f"sim/region/{sample.relative_to(SAMPLES_DIR.parents[1])}" in names
    assert not any(n.startswith("tests/") for n in names)


def test_product_modules_import_without_the_sim(unpacked: Path) -> None:
    """Every bot and diagnostics module imports while sim and asyncssh are unavailable."""
    result = _child(unpacked, _IMPORT_ALL)
    assert result["control"] == "refused"
    assert result["refused"] == ["sim"]  # only the control asked for it
    assert result["loaded"] == []
    imported = result["imported"]
    assert isinstance(imported, list)
    assert {
        "bot.serve",
        "bot.cli",
        "diagnostics.service",
        "diagnostics.cli_diagnose",
    } <= set(imported)


def test_no_product_module_imports_the_sim_lazily() -> None:
    """Outside bot/cli.py's demo and sim subcommands, no import of sim or asyncssh at all."""
    offenders = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("diagnostics/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in SIM_ONLY:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert all(o.startswith("bot/cli.py:") for o in offenders), offenders
    assert {o.split()[-1] for o in offenders} == {
        "sim.demo.demo",
        "sim.demo.fix",
        "sim.demo.watch",
        "sim.region.faults",
        "sim.scenario.load",
        "sim.run",
    }


async def test_diagnose_runs_without_the_sim(unpacked: Path, tmp_path: Path) -> None:
    """`migrate-diag diagnose` from the wheel finds the root cause; sim is never imported."""
    async with start_region("libvirt-tls-expired-cert", tmp_path) as region:
        config = str(region.paths["config"])  # type: ignore[attr-defined]
        vm = region.scenario.expect.vm if region.scenario.expect else ""
        # the child blocks on its own process; the region answers from this event loop
        result = await asyncio.to_thread(
            _child, unpacked, _DIAGNOSE, vm=vm, config=config
        )
    assert result["refused"] == []
    assert result["loaded"] == []
    assert result["code"] == 4, result["out"]  # exit status: a root cause was found
    report = json.loads(str(result["out"]))
    assert report["root_cause"]["id"] == "libvirt_tls"


def test_demo_without_the_sim_extra_says_how_to_install_it(
    unpacked: Path, tmp_path: Path
) -> None:
    """The sim's code is in the wheel but asyncssh is not: one line names the extra."""
    html = str(tmp_path / "thread.html")
    result = _child(unpacked, _DEMO, blocked=("asyncssh",), html=html)
    assert result["refused"] == ["asyncssh"]
    assert result["code"] == 2
    assert result["err"] == (
        "migrate-diag: demo needs the simulated region, which is not installed: "
        "pip install 'migrate-diag[sim]'\n"
    )
    assert not Path(html).exists()

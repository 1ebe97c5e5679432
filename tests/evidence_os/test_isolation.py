"""One hung service cannot starve another, and the CLI exits once its result is out.

A hung service here is one that accepts the connection and never answers, as a stuck
API server or a black-holed load balancer does. Both tests bound only how long the
diagnosis may take relative to its configured timeout, generously: the point is that
nothing waits out the hung library's own timeouts (tens of seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnostics.evidence import openstack_collectors as oc
from diagnostics.evidence.types import (
    Aggregates,
    ComputeServices,
    Hypervisors,
    MigrationRecords,
    Ports,
    Unavailable,
)
from diagnostics.model import MigrationRef
from sim.testing import start_region
from tests.evidence_os.test_openstack_api import connected, context

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings(
        "ignore::openstack.warnings.OpenStackDeprecationWarning"
    ),
]
BIN = Path(sys.executable).parent
COLLECTOR_TIMEOUT_S = 3.0
# Generous: a cold process (imports, token, SSH handshakes) on a loaded machine, plus the
# collector timeout. The hung Kubernetes client alone would hold its threads for 20 s
# read timeout x 2 attempts, which a process joining its workers would wait out.
EXIT_BOUND_S = COLLECTOR_TIMEOUT_S + 15.0


@contextmanager
def hung_server() -> Iterator[int]:
    """A TCP port that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


async def test_hung_kubernetes_api_leaves_other_steps_whole_and_the_cli_exits(
    tmp_path: Path,
) -> None:
    """Step 4 times out; services, capacity and the TLS verdict still come through; the
    process ends within its bound."""
    with hung_server() as port:
        async with start_region("libvirt-tls-expired-cert", tmp_path) as region:
            paths: dict[str, Path] = region.paths  # type: ignore[attr-defined]
            kube = yaml.safe_load(paths["kubeconfig"].read_text())
            kube["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
            hung_kubeconfig = tmp_path / "hung-kubeconfig"
            hung_kubeconfig.write_text(yaml.safe_dump(kube))
            config: dict[str, Any] = yaml.safe_load(paths["config"].read_text())
            config["management_plane"]["kubeconfig"] = str(hung_kubeconfig)
            config["engine"] = {"collector_timeout_s": COLLECTOR_TIMEOUT_S}
            config_path = tmp_path / "hung-k8s.yaml"
            config_path.write_text(yaml.safe_dump(config))
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                BIN / "migrate-diag", "diagnose", "web-02", "--config", str(config_path),
                "--format", "json",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )  # fmt: skip
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 120)
            finally:
                if proc.returncode is None:
                    proc.kill()
            elapsed = time.monotonic() - started
    assert proc.returncode not in (2, 3), err.decode()
    report = json.loads(out)
    steps = {s["number"]: s for s in report["steps"]}
    assert steps[4]["status"] == "error"
    assert "timed out" in steps[4]["summary"]
    for number in (1, 2, 5, 6, 7):
        assert steps[number]["status"] != "error", steps[number]
    assert report["root_cause"]["id"] == "libvirt_tls"
    assert elapsed < EXIT_BOUND_S, f"exited after {elapsed:.1f}s"


async def test_hung_placement_does_not_starve_nova_or_neutron(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every Placement call hangs: Placement becomes Unavailable (timed out) while Nova's
    and Neutron's collectors, running at the same time, all deliver."""
    release = threading.Event()
    monkeypatch.setattr(oc, "_placement_get", lambda *a, **k: release.wait(60))
    try:
        async with connected(tmp_path) as (_, api):
            api.timeout_s = COLLECTOR_TIMEOUT_S
            server = await api.resolve_server(MigrationRef(server="web-01"))
            records = await api.migration_records(server)
            assert isinstance(records, MigrationRecords)
            ctx = context(api, server, records)
            # several diagnoses' worth of Placement calls, all stuck at once
            results = await asyncio.gather(
                *(oc.collect_placement(ctx) for _ in range(3)),
                oc.collect_compute_services(ctx),
                oc.collect_hypervisors(ctx),
                oc.collect_aggregates(ctx),
                oc.collect_ports(ctx),
            )
    finally:
        release.set()
    placements, others = results[:3], results[3:]
    for placement in placements:
        assert isinstance(placement, Unavailable)
        assert "timed out" in placement.reason
    assert [type(r) for r in others] == [
        ComputeServices,
        Hypervisors,
        Aggregates,
        Ports,
    ]

"""The management plane's two GETs go through ``ApiClient`` itself, not ``CoreV1Api``.

They must be the requests ``CoreV1Api`` sends (path, query, headers, credentials), and the
API's refusals must still become the collector's reasons. Both are checked against one
real HTTP server that records what arrives.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.typedefs import Handler
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.mgmt_plane import ManagementPlaneApi
from diagnostics.settings import ManagementPlaneSettings

pytestmark = pytest.mark.integration

TOKEN = "recorder-token"
FORBIDDEN_NS = "locked"
MISSING_POD = "gone-0"
LOG_TEXT = "2026-12-01 10:00:00.000 1 INFO nova.api one line\n"


def _status(code: int, reason: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    return web.json_response({**body, "reason": reason, "message": reason}, status=code)


class Recorder:
    """What each request carried: method, path and query, Accept, Authorization."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None, str | None]] = []

    def app(self) -> web.Application:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.seen.append(
                (
                    request.method,
                    request.path_qs,
                    request.headers.get("Accept"),
                    request.headers.get("Authorization"),
                )
            )
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return _status(401, "Unauthorized")
            response: web.StreamResponse = await handler(request)
            return response

        async def pods(request: web.Request) -> web.Response:
            if request.match_info["ns"] == FORBIDDEN_NS:
                return _status(403, "Forbidden")
            pod = {
                "metadata": {"name": "nova-api-osapi-5d9c7b6f4-abcde"},
                "spec": {"containers": [{"name": "nova-api"}]},
                "status": {"phase": "Running"},
            }
            return web.json_response({"kind": "PodList", "items": [pod]})

        async def log(request: web.Request) -> web.Response:
            if request.match_info["pod"] == MISSING_POD:
                return _status(404, "NotFound")
            return web.Response(text=LOG_TEXT)

        app = web.Application(middlewares=[record])
        app.router.add_get("/api/v1/namespaces/{ns}/pods", pods)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{pod}/log", log)
        return app


def _kubeconfig(path: Path, port: int, token: str = TOKEN) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "r", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "r", "user": {"token": token}}],
        "contexts": [{"name": "r", "context": {"cluster": "r", "user": "r"}}],
        "current-context": "r",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[Recorder, int]]:
    rec = Recorder()
    runner = web.AppRunner(rec.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield rec, runner.addresses[0][1]
    await runner.cleanup()


@pytest.fixture
def recorder(server: tuple[Recorder, int], tmp_path: Path) -> tuple[Recorder, Path]:
    rec, port = server
    return rec, _kubeconfig(tmp_path / "kubeconfig", port)


def _api(kubeconfig: Path) -> ManagementPlaneApi:
    return ManagementPlaneApi.from_settings(
        ManagementPlaneSettings(kubeconfig=kubeconfig, namespace="pcd-region-one")
    )


async def test_requests_are_the_ones_core_v1_api_sends(
    recorder: tuple[Recorder, Path],
) -> None:
    """Pods and a log (with and without a container): same path, query, Accept, token."""
    rec, kubeconfig = recorder
    api = _api(kubeconfig)
    try:
        pods = await api.pods()
        text = await api.logs(pods[0].name, 100, 3600, container="nova-api")
        await api.logs(pods[0].name, 50, 600)
    finally:
        api.close()
    ours, rec.seen = rec.seen, []
    assert [p.name for p in pods] == ["nova-api-osapi-5d9c7b6f4-abcde"]
    assert text == LOG_TEXT

    def theirs() -> None:
        core = k8s_client.CoreV1Api(
            k8s_config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        )
        core.list_namespaced_pod("pcd-region-one", _preload_content=False)
        name = "nova-api-osapi-5d9c7b6f4-abcde"
        for container, tail, since in (("nova-api", 100, 3600), (None, 50, 600)):
            core.read_namespaced_pod_log(
                name,
                "pcd-region-one",
                container=container,
                tail_lines=tail,
                since_seconds=since,
                _preload_content=False,
            )

    await asyncio.to_thread(theirs)
    assert ours == rec.seen
    assert len(ours) == 3
    assert all(auth == f"Bearer {TOKEN}" for _, _, _, auth in ours)


async def test_refusals_become_the_collector_reasons(
    server: tuple[Recorder, int], tmp_path: Path
) -> None:
    """403 names the RBAC it needs, 404 what was not found, 401 the credentials."""
    _, port = server
    api = _api(_kubeconfig(tmp_path / "kubeconfig", port))
    try:
        with pytest.raises(CollectorError) as forbidden:
            await api.pods(FORBIDDEN_NS)
        with pytest.raises(CollectorError) as missing:
            await api.logs(MISSING_POD, 10, 60)
    finally:
        api.close()
    assert (
        forbidden.value.reason
        == f"needs Kubernetes RBAC to list pods in {FORBIDDEN_NS}"
    )
    assert missing.value.reason == (
        f"not found: read the log of pod {MISSING_POD} in pcd-region-one"
    )
    wrong = _api(_kubeconfig(tmp_path / "wrong", port, token="not-it"))
    try:
        with pytest.raises(CollectorError) as rejected:
            await wrong.pods()
    finally:
        wrong.close()
    assert rejected.value.reason == "Kubernetes credentials rejected"


_PROBE = """
import asyncio, json, sys
from pathlib import Path
from diagnostics.evidence.mgmt_plane import ManagementPlaneApi
from diagnostics.settings import ManagementPlaneSettings

before = "kubernetes" in sys.modules
api = ManagementPlaneApi.from_settings(
    ManagementPlaneSettings(kubeconfig=Path(sys.argv[1]), namespace="pcd-region-one")
)
pods = asyncio.run(api.pods())
api.close()
print(json.dumps({"before": before, "pods": len(pods), "modules": sorted(sys.modules)}))
"""


async def test_pods_never_load_the_generated_api_or_its_models(
    recorder: tuple[Recorder, Path],
) -> None:
    """A process that lists pods loads neither CoreV1Api nor a model class; nor does it
    import the client before the management plane is asked for."""
    _, kubeconfig = recorder
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PROBE,
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    result = json.loads(out.decode().splitlines()[-1])
    assert result["before"] is False
    assert result["pods"] == 1
    modules = result["modules"]
    assert "kubernetes.client.api_client" in modules  # the probe sees the client
    assert "kubernetes.client.api.core_v1_api" not in modules
    assert not [m for m in modules if m.startswith("kubernetes.client.models.")]

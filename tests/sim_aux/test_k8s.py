"""The official Kubernetes client reads pods and logs of the management plane."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestServer
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from sim.api.k8s import build_app, pod_name
from sim.region.identity import K8S_TOKEN
from tests.sim_aux import region_state

pytestmark = pytest.mark.integration


def _kubeconfig(path: Path, port: int, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "sim",
        "clusters": [
            {"name": "sim", "cluster": {"server": f"http://127.0.0.1:{port}"}}
        ],
        "users": [{"name": "sim", "user": {"token": token}}],
        "contexts": [
            {
                "name": "sim",
                "context": {"cluster": "sim", "user": "sim", "namespace": "pcd-test"},
            }
        ],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
async def server() -> AsyncIterator[tuple[object, int]]:
    # log times are recent so sinceSeconds (measured against the wall clock) keeps them
    state = region_state(now=datetime.now(UTC))
    test_server = TestServer(build_app(state), host="127.0.0.1", port=0)
    await test_server.start_server()
    yield state, test_server.port
    await test_server.close()


def _core(kubeconfig: Path) -> k8s_client.CoreV1Api:
    return k8s_client.CoreV1Api(
        k8s_config.new_client_from_config(config_file=str(kubeconfig))
    )


async def test_client_lists_pods_by_label_and_reads_status(
    server, tmp_path: Path
) -> None:
    """list_namespaced_pod with app=<deployment> returns the pod with its container status."""
    state, port = server
    api = _core(_kubeconfig(tmp_path / "kubeconfig", port, K8S_TOKEN))
    pods = await asyncio.to_thread(
        api.list_namespaced_pod, "pcd-test", label_selector="app=cinder-scheduler"
    )
    every = await asyncio.to_thread(api.list_namespaced_pod, "pcd-test")
    (pod,) = pods.items
    status = pod.status.container_statuses[0]
    assert pod.metadata.name == pod_name(state, "cinder-scheduler")
    assert pod.metadata.name.startswith("cinder-scheduler-")
    assert (pod.status.phase, status.ready, status.restart_count) == (
        "Running",
        False,
        7,
    )
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert len(every.items) == 2


async def test_client_reads_logs_with_tail_and_since(server, tmp_path: Path) -> None:
    """read_namespaced_pod_log honours tail_lines and since_seconds."""
    state, port = server
    api = _core(_kubeconfig(tmp_path / "kubeconfig", port, K8S_TOKEN))
    name = pod_name(state, "nova-conductor")
    tail = await asyncio.to_thread(
        api.read_namespaced_pod_log, name, "pcd-test", tail_lines=2
    )
    recent = await asyncio.to_thread(
        api.read_namespaced_pod_log, name, "pcd-test", since_seconds=150
    )
    assert [line.rsplit(" ", 1)[-1] for line in tail.splitlines()] == [
        "second",
        "third",
    ]
    assert [line.rsplit(" ", 1)[-1] for line in recent.splitlines()] == [
        "second",
        "third",
    ]


async def test_bad_token_and_unknown_pod(server, tmp_path: Path) -> None:
    """A wrong token gets 401; an unknown pod a 404 Status naming it."""
    _, port = server
    wrong = _core(_kubeconfig(tmp_path / "bad", port, "nope"))
    good = _core(_kubeconfig(tmp_path / "good", port, K8S_TOKEN))
    with pytest.raises(ApiException) as unauthorized:
        await asyncio.to_thread(wrong.list_namespaced_pod, "pcd-test")
    with pytest.raises(ApiException) as missing:
        await asyncio.to_thread(good.read_namespaced_pod, "nova-api-x", "pcd-test")
    assert unauthorized.value.status == 401
    assert missing.value.status == 404
    assert (
        'pods \\"nova-api-x\\" not found' in missing.value.body
        or 'pods "nova-api-x" not found' in missing.value.body
    )

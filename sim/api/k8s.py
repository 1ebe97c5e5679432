"""The management plane's Kubernetes API (self-hosted PCD), enough for the official client.

Pods come from ``scenario.pods``: one pod per deployment, named like a Deployment's pod
(``<deployment>-<template hash>-<suffix>``, stable per scenario), labelled
``app=<deployment>``, in the scenario's namespace. Logs are ``state.pod_logs[deployment]``.
Every path but ``/version`` and the health checks needs ``Authorization: Bearer <token>``
(``sim.region.identity.K8S_TOKEN``, the token the region writes into its kubeconfig).

As a real API server does, listing pods in a namespace that does not exist answers an
empty list; reading a pod that does not exist answers a 404 ``Status``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sim.api import faults
from sim.region.identity import K8S_TOKEN
from sim.region.state import RegionState, RenderedLogLine, stable_uuid
from sim.scenario.model import Pod

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s rand.SafeEncodeString alphabet
_PUBLIC = ("/version", "/healthz", "/livez", "/readyz")
_STATE_KEY = web.AppKey("sim_state", RegionState)


def build_app(state: RegionState, token: str = K8S_TOKEN) -> web.Application:
    """An aiohttp app serving the Kubernetes API paths the diagnostics use."""
    app = web.Application(middlewares=[_fault(state), _auth(token)])
    app[_STATE_KEY] = state
    app[faults.RELEASE] = faults.Release()
    app.router.add_get("/version", _version)
    app.router.add_get("/healthz", _ok)
    app.router.add_get("/livez", _ok)
    app.router.add_get("/readyz", _ok)
    app.router.add_get("/api", _api)
    app.router.add_get("/apis", _apis)
    app.router.add_get("/api/v1", _api_v1)
    app.router.add_get("/api/v1/namespaces", _list_namespaces)
    app.router.add_get("/api/v1/namespaces/{ns}", _show_namespace)
    app.router.add_get("/api/v1/namespaces/{ns}/pods", _list_pods)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", _show_pod)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", _pod_log)
    return app


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    """A ``Status`` object response, as the API server sends for errors."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


def _fault(state: RegionState) -> Middleware:
    """An injected outage (``state.faults["kubernetes"]``): a ``Status`` 500 as the API
    server sends when etcd does not answer, HAProxy's 503, or a hang."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = state.faults.get("kubernetes")
        if fault is None or not fault.applies(request.path):
            return await handler(request)
        if fault.mode == "hang":
            return await faults.hang(request.app)
        if fault.mode == "503":
            return faults.unavailable()
        return status(500, "InternalError", faults.K8S_500)

    return middleware


def _auth(token: str) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        authorized = request.headers.get("Authorization", "") == f"Bearer {token}"
        if request.path not in _PUBLIC and not authorized:
            return status(401, "Unauthorized", "Unauthorized")
        return await handler(request)

    return middleware


def _safe(digest: bytes, length: int) -> str:
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def pod_name(state: RegionState, deployment: str) -> str:
    """``<deployment>-<10 char template hash>-<5 char suffix>``, stable per scenario."""
    digest = hashlib.sha256(f"{state.scenario.name}/{deployment}".encode()).digest()
    return f"{deployment}-{_safe(digest, 10)}-{_safe(digest[10:], 5)}"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container_status(pod: Pod, started: datetime) -> dict[str, Any]:
    image = f"quay.io/platform9/{pod.deployment}:2025.10"
    crashing = pod.phase == "CrashLoopBackOff"
    state: dict[str, dict[str, Any]]
    if pod.phase == "Pending":
        state = {"waiting": {"reason": "ContainerCreating"}}
    elif pod.phase == "Failed":
        state = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": _stamp(started),
                "finishedAt": _stamp(started + timedelta(minutes=1)),
            }
        }
    elif crashing:
        message = f"back-off 5m0s restarting failed container={pod.deployment}"
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    else:
        state = {"running": {"startedAt": _stamp(started)}}
    body: dict[str, Any] = {
        "name": pod.deployment,
        "image": image,
        "imageID": f"{image}@sha256:" + hashlib.sha256(image.encode()).hexdigest(),
        "containerID": "containerd://"
        + hashlib.sha256(pod.deployment.encode()).hexdigest(),
        "ready": pod.ready and pod.phase == "Running",
        "restartCount": pod.restarts,
        "started": pod.phase == "Running",
        "state": state,
        "lastState": {},
    }
    if pod.restarts:
        body["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": _stamp(started - timedelta(minutes=6)),
                "finishedAt": _stamp(started),
            }
        }
    return body


def pod_body(state: RegionState, pod: Pod) -> dict[str, Any]:
    """The ``v1.Pod`` of a scenario pod."""
    name = pod_name(state, pod.deployment)
    template_hash = name.split("-")[-2]
    created = state.now - timedelta(days=2)
    started = created + timedelta(seconds=20)
    phase = "Running" if pod.phase == "CrashLoopBackOff" else pod.phase
    ready = "True" if pod.ready and pod.phase == "Running" else "False"
    replica_set = f"{pod.deployment}-{template_hash}"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "generateName": f"{replica_set}-",
            "namespace": state.scenario.namespace,
            "uid": stable_uuid(state.scenario.name, "pod", pod.deployment),
            "resourceVersion": str(1000 + pod.restarts),
            "creationTimestamp": _stamp(created),
            "labels": {"app": pod.deployment, "pod-template-hash": template_hash},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": replica_set,
                    "uid": stable_uuid(state.scenario.name, "rs", pod.deployment),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": pod.deployment,
                    "image": f"quay.io/platform9/{pod.deployment}:2025.10",
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {},
                }
            ],
            "nodeName": "mgmt-node-01",
            "restartPolicy": "Always",
            "serviceAccountName": pod.deployment,
        },
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": t,
                    "status": ready if t in ("Ready", "ContainersReady") else "True",
                    "lastTransitionTime": _stamp(started),
                }
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "10.20.0.21",
            "podIP": "172.16."
            + str(int(template_hash.encode().hex()[:4], 16) % 250)
            + ".10",
            "startTime": _stamp(created),
            "qosClass": "BestEffort",
            "containerStatuses": [_container_status(pod, started)],
        },
    }


def _selected(pod: Pod, selector: str) -> bool:
    labels = {"app": pod.deployment}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _version(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "major": "1",
            "minor": "30",
            "gitVersion": "v1.30.4",
            "gitCommit": "a51b3b711150f57ffc1f526a640ec058514ed596",
            "gitTreeState": "clean",
            "buildDate": "2024-08-14T18:57:42Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
    )


async def _api(request: web.Request) -> web.Response:
    address = {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}
    return web.json_response(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [address],
        }
    )


async def _apis(request: web.Request) -> web.Response:
    apps = {"groupVersion": "apps/v1", "version": "v1"}
    group = {"name": "apps", "versions": [apps], "preferredVersion": apps}
    return web.json_response(
        {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}
    )


async def _api_v1(request: web.Request) -> web.Response:
    def resource(
        name: str, kind: str, namespaced: bool, verbs: list[str]
    ) -> dict[str, Any]:
        return {
            "name": name,
            "singularName": "",
            "namespaced": namespaced,
            "kind": kind,
            "verbs": verbs,
        }

    resources = [
        resource("namespaces", "Namespace", False, ["get", "list"]),
        resource("pods", "Pod", True, ["get", "list"]),
        resource("pods/log", "Pod", True, ["get"]),
    ]
    return web.json_response(
        {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources}
    )


def _namespace(state: RegionState) -> dict[str, Any]:
    ns = state.scenario.namespace
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": ns,
            "uid": stable_uuid(state.scenario.name, "ns", ns),
            "resourceVersion": "100",
            "labels": {"kubernetes.io/metadata.name": ns},
            "creationTimestamp": _stamp(state.now - timedelta(days=30)),
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


async def _list_namespaces(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    return web.json_response(
        {
            "kind": "NamespaceList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "100"},
            "items": [_namespace(state)],
        }
    )


async def _show_namespace(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    name = request.match_info["ns"]
    if name != state.scenario.namespace:
        return status(
            404,
            "NotFound",
            f'namespaces "{name}" not found',
            {"name": name, "kind": "namespaces"},
        )
    return web.json_response(_namespace(state))


async def _list_pods(request: web.Request) -> web.Response:
    state = request.app[_STATE_KEY]
    items = []
    if request.match_info["ns"] == state.scenario.namespace:
        selector = request.query.get("labelSelector", "")
        items = [
            pod_body(state, p) for p in state.scenario.pods if _selected(p, selector)
        ]
        field = request.query.get("fieldSelector", "")
        if field.startswith("metadata.name="):
            items = [
                i for i in items if i["metadata"]["name"] == field.partition("=")[2]
            ]
    return web.json_response(
        {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "1000"},
            "items": items,
        }
    )


def _find_pod(request: web.Request) -> Pod | web.Response:
    state = request.app[_STATE_KEY]
    name = request.match_info["name"]
    if request.match_info["ns"] == state.scenario.namespace:
        for pod in state.scenario.pods:
            if pod_name(state, pod.deployment) == name:
                return pod
    return status(
        404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}
    )


async def _show_pod(request: web.Request) -> web.Response:
    pod = _find_pod(request)
    if isinstance(pod, web.Response):
        return pod
    return web.json_response(pod_body(request.app[_STATE_KEY], pod))


def _int_param(request: web.Request, key: str) -> int | web.Response | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        return status(
            400, "BadRequest", f'{key}: Invalid value: "{raw}": must be an integer'
        )
    return int(raw)


async def _pod_log(request: web.Request) -> web.Response:
    pod = _find_pod(request)
    if isinstance(pod, web.Response):
        return pod
    state = request.app[_STATE_KEY]
    name = pod_name(state, pod.deployment)
    container = request.query.get("container", pod.deployment)
    if container != pod.deployment:
        return status(
            400, "BadRequest", f"container {container} is not valid for pod {name}"
        )
    if pod.phase == "Pending":
        message = f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        return status(400, "BadRequest", message)
    if request.query.get("previous") == "true" and not pod.restarts:
        message = (
            f'previous terminated container "{container}" in pod "{name}" not found'
        )
        return status(400, "BadRequest", message)
    tail, since = _int_param(request, "tailLines"), _int_param(request, "sinceSeconds")
    for value in (tail, since):
        if isinstance(value, web.Response):
            return value
    lines: list[RenderedLogLine] = list(state.pod_logs.get(pod.deployment, []))
    if isinstance(since, int):
        cutoff = datetime.now(UTC) - timedelta(seconds=since)
        lines = [line for line in lines if line.at >= cutoff]
    if isinstance(tail, int):
        lines = lines[-tail:] if tail > 0 else []
    stamps = request.query.get("timestamps") == "true"
    text = "".join(
        (
            line.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z ")
            if stamps
            else ""
        )
        + line.text
        + "\n"
        for line in lines
    )
    limit = _int_param(request, "limitBytes")
    if isinstance(limit, web.Response):
        return limit
    if isinstance(limit, int) and limit > 0:
        text = text.encode()[:limit].decode("utf-8", "ignore")
    return web.Response(text=text, content_type="text/plain")

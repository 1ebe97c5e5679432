"""The self-hosted management plane through the Kubernetes API (runbook step 4).

Built on the official ``kubernetes`` client with its own ``ApiClient`` (never the
module-global configuration, so two regions can be diagnosed in one process). The client
is blocking; every call runs on the Kubernetes family's own bounded pool of daemon
threads, so a hung API server holds only those workers (never Nova's or Placement's) and
never delays the CLI's exit. Needs RBAC ``get``/``list`` on ``pods``
and ``get`` on ``pods/log`` in the region namespace.

The two requests go through ``ApiClient`` itself (kubeconfig, auth, TLS, timeouts and
``ApiException`` exactly as ``CoreV1Api`` would use them), not through ``CoreV1Api``:
that module defines ~270 pydantic models at import, 1-2 s of CPU on the first call of a
process, to build the path and the query of two GETs whose JSON we read raw. The
``kubernetes`` package itself (~0.3 s) is imported only in a self-hosted region, in the
background as soon as the API object exists (``from_settings``).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urllib3.exceptions import HTTPError

from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.executors import Family, FamilyPools
from diagnostics.request_graph import timed
from diagnostics.settings import ManagementPlaneSettings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger(__name__)

_PODS_PATH = "/api/v1/namespaces/{namespace}/pods"
_LOG_PATH = "/api/v1/namespaces/{namespace}/pods/{name}/log"
# what CoreV1Api sends for both calls (its select_header_accept prefers JSON)
_ACCEPT = "application/json"

REQUEST_TIMEOUT = (5.0, 20.0)  # (connect, read) seconds for every API call
WORKERS = 4  # Kubernetes calls in flight at once (pods list, then one log per pod)
LOG_BYTE_CAP = (
    16 * 1024 * 1024
)  # a pod log beyond this is cut (tail_lines bounds it first)
_HTTP_UNAUTHORIZED = 401
_HTTP_FORBIDDEN = 403
_HTTP_NOT_FOUND = 404
_GENERATED_PARTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class PodStatus:
    name: str
    deployment: str
    phase: str  # Running / Pending / Failed / Succeeded, or a waiting reason (CrashLoopBackOff)
    ready: bool
    restarts: int
    container: str | None  # the first container: the one whose log is read


def _deployment_of(name: str, labels: dict[str, str], known: tuple[str, ...]) -> str:
    for deployment in sorted(known, key=len, reverse=True):
        if name.startswith(f"{deployment}-"):
            return deployment
    for key in ("app.kubernetes.io/name", "app", "component"):
        if labels.get(key):
            return labels[key]
    # <deployment>-<replicaset hash>-<pod hash>
    parts = name.rsplit("-", 2)
    return parts[0] if len(parts) == _GENERATED_PARTS else name


def _pod_status(pod: dict[str, Any], known: tuple[str, ...]) -> PodStatus:
    """One item of the API's ``PodList`` JSON (``metadata``, ``spec``, ``status``)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    statuses = list(status.get("containerStatuses") or [])
    phase = str(status.get("phase") or "Unknown")
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            phase = str(waiting["reason"])
            break
    containers = list(spec.get("containers") or [])
    name = str(meta.get("name") or "")
    return PodStatus(
        name=name,
        deployment=_deployment_of(name, dict(meta.get("labels") or {}), known),
        phase=phase,
        ready=bool(statuses) and all(bool(cs.get("ready")) for cs in statuses),
        restarts=sum(int(cs.get("restartCount") or 0) for cs in statuses),
        container=str(containers[0].get("name")) if containers else None,
    )


def _build_client(settings: ManagementPlaneSettings) -> ApiClient:
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    configuration = k8s.Configuration()
    configuration.retries = 1  # fail fast: the engine's timeout bounds the whole step
    try:
        if settings.kubeconfig is None:
            try:
                k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=configuration
                )
                return k8s.ApiClient(configuration=configuration)
            except ConfigException:
                log.debug("not in a cluster; trying the default kubeconfig")
        config_file = (
            str(Path(settings.kubeconfig).expanduser()) if settings.kubeconfig else None
        )
        client: ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=config_file,
            context=settings.context,
            persist_config=False,
            client_configuration=configuration,
        )
    except (ConfigException, OSError) as exc:
        raise CollectorError(
            "no Kubernetes configuration for the management plane", str(exc)
        ) from exc
    return client


def _get(client: ApiClient, path: str, params: dict[str, str], query: list[Any]) -> Any:
    """GET ``path`` as ``CoreV1Api`` sends it; the raw urllib3 response, unread.

    Raises ``ApiException`` for a status outside 2xx, as the generated methods do with
    ``_preload_content=False``.
    """
    from kubernetes.client.exceptions import ApiException

    method, url, headers, body, post = client.param_serialize(
        method="GET",
        resource_path=path,
        path_params=params,
        query_params=query,
        header_params={"Accept": _ACCEPT},
        auth_settings=["BearerToken"],
    )
    response: Any = client.call_api(
        method,
        url,
        header_params=headers,
        body=body,
        post_params=post,
        _request_timeout=REQUEST_TIMEOUT,
    )
    if not 200 <= response.status < 300:  # as the generated methods check
        response.read()
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return response.response


def _preload() -> None:
    """Import the client now, on a side thread, while the bootstrap waits on Nova."""
    try:
        for module in ("kubernetes.client", "kubernetes.config"):
            importlib.import_module(module)
    except ImportError:  # surfaces as the collector's error on first use
        log.debug("kubernetes preload failed", exc_info=True)


class ManagementPlaneApi:
    """Pods and their logs in the region namespace.

    The Kubernetes client is built on first use, so constructing this never fails or
    touches the network; a missing kubeconfig surfaces as the collector's reason.
    """

    def __init__(
        self,
        settings: ManagementPlaneSettings,
        api_client: ApiClient | None = None,
    ) -> None:
        self.settings = settings
        self._api_client = api_client
        self._lock = threading.Lock()
        self._pools = FamilyPools({Family.KUBERNETES: WORKERS})

    @classmethod
    def from_settings(cls, settings: ManagementPlaneSettings) -> ManagementPlaneApi:
        # Importing the client costs a few hundred ms of CPU; start it now, beside the
        # OpenStack bootstrap (which waits on the network), not on step 4's path. The
        # client itself (kubeconfig, credentials) is still built on first use.
        threading.Thread(
            target=_preload, name="kubernetes-preload", daemon=True
        ).start()
        return cls(settings)

    def _client(self) -> ApiClient:
        """kubeconfig (+ context) when set; else in-cluster; else ~/.kube/config."""
        with self._lock:
            if self._api_client is None:
                self._api_client = _build_client(self.settings)
            return self._api_client

    async def pods(self, namespace: str | None = None) -> list[PodStatus]:
        """The pods of ``namespace`` (default: the region namespace)."""
        ns = namespace or self.settings.namespace
        result = await self._pools.run(
            Family.KUBERNETES,
            timed(
                "kubernetes",
                f"GET pods in {ns}",
                partial(self._call, f"list pods in {ns}", self._list_pods, ns),
            ),
        )
        items = (result.get("items") or []) if isinstance(result, dict) else []
        return [_pod_status(pod, self.settings.deployments) for pod in items]

    async def logs(
        self,
        pod: str,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        *,
        container: str | None = None,
        namespace: str | None = None,
    ) -> str:
        """The last ``tail_lines`` lines of the pod's log within ``since_seconds``."""
        ns = namespace or self.settings.namespace
        text: str = await self._pools.run(
            Family.KUBERNETES,
            timed(
                "kubernetes",
                f"GET pods/{pod}/log",
                partial(
                    self._call,
                    f"read the log of pod {pod} in {ns}",
                    self._read_log,
                    ns,
                    pod,
                    container,
                    tail_lines or self.settings.tail_lines,
                    since_seconds or self.settings.since_seconds,
                ),
            ),
        )
        return text

    def close(self) -> None:
        self._pools.close()
        with self._lock:
            client, self._api_client = self._api_client, None
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]

    def _list_pods(self, namespace: str) -> Any:
        # The JSON as sent, not the client's models: six fields are read.
        response = _get(self._client(), _PODS_PATH, {"namespace": namespace}, [])
        try:
            return json.loads(response.data)
        except ValueError as exc:
            raise CollectorError(
                f"Kubernetes API sent no pod list for {namespace}", str(exc)[:200]
            ) from exc
        finally:
            response.release_conn()

    def _read_log(
        self, namespace: str, pod: str, container: str | None, tail: int, since: int
    ) -> str:
        # undecoded, so a stray non-UTF-8 byte cannot fail the whole read
        query: list[tuple[str, Any]] = []
        if container is not None:
            query.append(("container", container))
        query += [("sinceSeconds", since), ("tailLines", tail)]  # CoreV1Api's order
        response = _get(
            self._client(), _LOG_PATH, {"namespace": namespace, "name": pod}, query
        )
        try:
            data: bytes = response.read(LOG_BYTE_CAP)
        finally:
            response.release_conn()
        return data.decode("utf-8", errors="replace")

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return fn(*args)
        except ApiException as exc:
            if exc.status == _HTTP_FORBIDDEN:
                raise CollectorError(
                    f"needs Kubernetes RBAC to {what}", str(exc.reason)
                ) from exc
            if exc.status == _HTTP_UNAUTHORIZED:
                raise CollectorError(
                    "Kubernetes credentials rejected", str(exc.reason)
                ) from exc
            if exc.status == _HTTP_NOT_FOUND:
                raise CollectorError(f"not found: {what}", str(exc.reason)) from exc
            raise CollectorError(
                f"Kubernetes API error {exc.status} ({what})", str(exc.reason)
            ) from exc
        except (HTTPError, OSError) as exc:
            host = self._api_client.configuration.host if self._api_client else "?"
            raise CollectorError(
                f"Kubernetes API not reachable at {host}", str(exc)
            ) from exc

"""Request ids and error translation for openstacksdk calls.

openstacksdk does not keep the response on the resources it returns, so the request id
Nova/Neutron/Cinder/Placement put in ``x-openstack-request-id`` is captured with a
``requests`` response hook on the connection's HTTP session. The hook writes into a
thread-local list that is opened and closed around one blocking call in one worker
thread, so concurrent collectors never see each other's responses. The same hook puts
every request (authentication and version discovery included: they are round trips on
the critical path too) into the diagnosis' request graph.

Library exceptions become ``CollectorError`` (→ ``Unavailable``) with the short reasons
the renderers show: "needs admin role (…)", "not found", "timed out after Ns calling …",
"cannot reach <url>: <why>".
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as sdk_exceptions

from diagnostics.evidence.base import CollectorError
from diagnostics.request_graph import Origin

_REQUEST_ID_HEADERS = ("x-openstack-request-id", "x-compute-request-id")
# "/compute/v2.1/servers/…", "/v2.0/ports", "/v3/<project>/volumes": the endpoint's path
# up to the version (and Cinder's project) is noise in a citation; the API path after it
# is what people recognise (Placement has no version segment and keeps its prefix).
_VERSION_PREFIX = re.compile(r"^.*?/v\d+(?:\.\d+)?(?:/[0-9a-f]{32})?(?=/)")
_ERRNO_WHY = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")
_URL = re.compile(r"https?://[^\s'\"]+?(?=:? |'|\"|$)")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One HTTP exchange, as cited in provenance."""

    method: str
    path: str
    status: int
    request_id: str | None
    microversion: str | None = None
    # the request's id in the diagnosis' request graph (None when none is recording)
    node: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        text = f"{self.method} {self.path}"
        if self.microversion:
            text += f" ({self.microversion})"
        if self.request_id:
            text += f" [{self.request_id}]"
        return text


def provenance(calls: tuple[ApiCall, ...], fallback: str) -> str:
    """The calls joined for an evidence item's ``provenance``; ``fallback`` when none."""
    distinct = dict.fromkeys(str(c) for c in calls)
    return "; ".join(distinct) or fallback


class _CallLog(threading.local):
    calls: list[ApiCall] | None = None
    origin: Origin | None = None
    family: str = "nova"
    last: int | None = (
        None  # the previous request of this call: the next one waited on it
    )


_LOG = _CallLog()


def _is_plumbing(response: Any, path: str, query: str) -> bool:
    """Authentication and version discovery (GET of an endpoint root): not evidence."""
    if path.rstrip("/").endswith("/auth/tokens"):
        return True
    if response.request.method != "GET" or query:
        return False
    if _VERSION_PREFIX.sub("", path).strip("/") == "":
        return True
    if len([p for p in path.split("/") if p]) > 2:
        return False
    if "json" not in response.headers.get("content-type", ""):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict) and bool(body) and set(body) <= {"version", "versions"}
    )


def record_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """``requests`` response hook: note the call if this thread is recording."""
    calls = _LOG.calls
    if calls is None:
        return
    end = time.perf_counter()
    request = response.request
    parts = urlsplit(str(request.url))
    path = _VERSION_PREFIX.sub("", parts.path) or "/"
    if parts.query:
        path += "?" + unquote(parts.query)
    node = _graph_node(response, path, end)
    if _is_plumbing(response, parts.path, parts.query):
        return
    headers = response.headers
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    microversion = request.headers.get("OpenStack-API-Version")
    calls.append(
        ApiCall(
            method=str(request.method),
            path=path,
            status=int(response.status_code),
            request_id=request_id,
            microversion=str(microversion) if microversion else None,
            node=node,
        )
    )


def _graph_node(response: Any, path: str, end: float) -> int | None:
    """Record the request in the graph: it waited on the previous request of this call,
    or (the first one) on what the call's origin needs."""
    origin = _LOG.origin
    if origin is None:
        return None
    family = "keystone" if path.rstrip("/").endswith("/auth/tokens") else _LOG.family
    elapsed = getattr(response, "elapsed", None)
    start = end - elapsed.total_seconds() if elapsed is not None else end
    node = origin.record(
        family=family,
        what=f"{response.request.method} {path}",
        start=start,
        end=end,
        depends_on=None if _LOG.last is None else (_LOG.last,),
        status=int(response.status_code),
    )
    if node is not None:
        _LOG.last = node
    return node


def start_recording(origin: Origin | None = None, family: str = "nova") -> None:
    _LOG.calls = []
    _LOG.origin = origin
    _LOG.family = family
    _LOG.last = None


def stop_recording() -> tuple[ApiCall, ...]:
    calls = tuple(_LOG.calls or ())
    _LOG.calls = None
    _LOG.origin = None
    _LOG.last = None
    return calls


class EndpointUnreachable(CollectorError):
    """Keystone or a service endpoint could not be reached (or refused our credentials)."""


def connect_failure(exc: BaseException) -> tuple[str, str]:
    """(url, why) out of keystoneauth's "Unable to establish connection to <url>: …"."""
    text = str(exc)
    url_match = _URL.search(text)
    url = url_match.group(0).rstrip(":") if url_match else "the endpoint"
    why_match = _ERRNO_WHY.search(text)
    if why_match:
        why = why_match.group(1).strip().lower()
    elif "timed out" in text.lower():
        why = "connection timed out"
    else:
        why = text.split(": ")[-1][:200] or "connection failed"
    return url, why


def _with_request_id(message: str, request_id: str | None) -> str:
    return f"{message} [{request_id}]" if request_id else message


def translate(exc: BaseException, what: str, timeout_s: float) -> CollectorError:
    """A library exception → CollectorError with a reason people can act on."""
    if isinstance(exc, sdk_exceptions.ForbiddenException):
        return CollectorError(
            f"needs admin role ({what} is admin-only by default policy)",
            _with_request_id(f"HTTP 403: {exc.details or exc.message}", exc.request_id),
        )
    if isinstance(exc, sdk_exceptions.NotFoundException):
        return CollectorError(
            "not found", _with_request_id(f"{what}: HTTP 404", exc.request_id)
        )
    if isinstance(exc, sdk_exceptions.HttpException):
        status = exc.status_code or "error"
        return CollectorError(
            f"{what} failed with HTTP {status}",
            _with_request_id(str(exc.details or exc.message), exc.request_id),
        )
    if isinstance(exc, ks_exceptions.ConnectTimeout | ks_exceptions.ConnectFailure):
        if isinstance(exc, ks_exceptions.ConnectTimeout):
            url, _ = connect_failure(exc)
            return EndpointUnreachable(
                f"timed out after {timeout_s:g}s calling {url}", str(exc)
            )
        url, why = connect_failure(exc)
        return EndpointUnreachable(f"cannot reach {url}: {why}", str(exc))
    if isinstance(exc, ks_exceptions.RequestTimeout | TimeoutError):
        return CollectorError(
            f"timed out after {timeout_s:g}s calling {what}", str(exc)
        )
    if isinstance(exc, ks_exceptions.EndpointNotFound):
        return EndpointUnreachable(
            f"no endpoint for {what} in the service catalog", str(exc)
        )
    if isinstance(exc, ks_exceptions.Unauthorized):
        at = f" at {exc.url}" if getattr(exc, "url", None) else ""
        return EndpointUnreachable(
            f"Keystone refused the credentials (HTTP 401){at}", str(exc)
        )
    if isinstance(exc, ks_exceptions.DiscoveryFailure):
        # keystoneauth reports an unreachable Keystone as a discovery failure whose
        # context is the connection error.
        if isinstance(exc.__context__, ks_exceptions.ConnectFailure) or (
            "Unable to establish connection" in str(exc)
        ):
            url, why = connect_failure(exc)
            return EndpointUnreachable(f"cannot reach {url}: {why}", str(exc))
        answer = exc.__context__
        if isinstance(answer, ks_exceptions.HttpError) and answer.http_status:
            # Keystone answered, with an error of its own (500, a proxy's 503)
            where = f" at {answer.url}" if answer.url else ""
            return EndpointUnreachable(
                f"Keystone version discovery failed with HTTP {answer.http_status}"
                f"{where}",
                str(exc),
            )
        url, _ = connect_failure(exc)
        return EndpointUnreachable(f"version discovery failed at {url}", str(exc))
    if isinstance(exc, ks_exceptions.ClientException | sdk_exceptions.SDKException):
        return CollectorError(f"{what} failed: {exc}", type(exc).__name__)
    return CollectorError(f"{what} failed: {type(exc).__name__}: {exc}")

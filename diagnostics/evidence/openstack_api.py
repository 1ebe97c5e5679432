"""The OpenStack side of a diagnosis: one openstacksdk connection, used off the event loop.

``OpenStackApi`` owns the connection, negotiates one explicit compute microversion, runs
every blocking SDK call in a worker thread bounded by the configured timeout, and
implements the engine's ``Bootstrap`` (find the VM, its migration records, the instance
action of the migration). The per-type collectors live in ``openstack_collectors``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Any, TypeVar

import openstack.connection
from keystoneauth1 import discover
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1.session import TCPKeepAliveAdapter
from openstack import exceptions as sdk_exceptions
from openstack.config import OpenStackConfig
from openstack.config import exceptions as config_exceptions

from diagnostics.evidence import openstack_convert as convert
from diagnostics.evidence.base import CollectorError
from diagnostics.evidence.executors import DaemonPool, Family, FamilyPools
from diagnostics.evidence.migration_context import match_action
from diagnostics.evidence.openstack_calls import (
    ApiCall,
    EndpointUnreachable,
    provenance,
    record_response,
    start_recording,
    stop_recording,
    translate,
)
from diagnostics.evidence.token_cache import TokenCache
from diagnostics.evidence.types import (
    InstanceActions,
    MigrationRecords,
    Server,
    Unavailable,
)
from diagnostics.evidence.urls import segment
from diagnostics.model import (
    AmbiguousVm,
    CloudUnreachable,
    ConfigError,
    MigrationRef,
    MigrationSummary,
    VmNotFound,
)
from diagnostics.request_graph import (
    ACTION,
    ACTIONS,
    DISCOVERY,
    MIGRATIONS,
    origin,
    stage,
)
from diagnostics.settings import OpenStackSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# The newest compute microversion whose changes we have read: 2.96 adds
# pinned_availability_zone, 2.98 embeds image properties in the server, 2.100 adds
# scheduler_hints; nothing we parse was removed in between.
MAX_COMPUTE_MICROVERSION = "2.100"
# 2.84 adds the failed event's exception message (``details``); below it we still work.
PREFERRED_MIN_COMPUTE_MICROVERSION = "2.84"

OPENSTACK_POOLS = (Family.NOVA, Family.PLACEMENT, Family.NEUTRON, Family.CINDER)
# The services whose version documents the collectors need; read once per process.
_DISCOVERED = (
    ("placement", Family.PLACEMENT),
    ("network", Family.NEUTRON),
    ("block_storage", Family.CINDER),
)

_UUID = re.compile(
    r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I
)


Version = str | tuple[int, ...]


def choose_microversion(
    server_min: Version | None, server_max: Version | None
) -> str | None:
    """The highest microversion both sides understand; None when the cloud has none.

    The result is >= 2.84 whenever the cloud offers 2.84, because our maximum is above it.
    """
    if not server_max:
        return None
    ours = discover.normalize_version_number(MAX_COMPUTE_MICROVERSION)
    best = min(ours, discover.normalize_version_number(server_max))
    if server_min and best < discover.normalize_version_number(server_min):
        return None
    chosen = discover.version_to_string(best)
    if best < discover.normalize_version_number(PREFERRED_MIN_COMPUTE_MICROVERSION):
        log.warning(
            "compute API offers only %s: failed events will lack their details", chosen
        )
    return chosen


def _refused_token(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    return status == HTTPStatus.UNAUTHORIZED


class OpenStackApi:
    """An openstacksdk connection plus the calls a diagnosis makes (``Bootstrap``)."""

    def __init__(
        self,
        conn: Any,
        settings: OpenStackSettings,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.conn = conn
        self.token_cache = token_cache
        self.settings = settings
        self.timeout_s = settings.api_timeout_s
        self._negotiated = False
        self._negotiate_lock = threading.Lock()
        self.compute_microversion: str | None = settings.compute_microversion
        # one bounded pool per service: a hung Placement cannot starve Nova's calls, and
        # no service gets more than this many requests at once from this process
        limit = settings.max_concurrent_requests
        self.pools = FamilyPools(dict.fromkeys(OPENSTACK_POOLS, limit))
        # Every response of this connection passes the hook; only calls made inside
        # ``call`` (in a worker thread that is recording) are kept.
        conn.session.session.hooks.setdefault("response", []).append(record_response)
        # One HTTP session (and token) for the whole process, with room to keep a
        # connection per worker: requests' default of 10 per host would make the pools
        # open and drop connections when all services sit behind one address.
        keepalive = TCPKeepAliveAdapter(pool_maxsize=limit * len(OPENSTACK_POOLS) + 1)
        for scheme in ("https://", "http://"):
            conn.session.session.mount(scheme, keepalive)
        self._discovery: set[asyncio.Task[None]] = set()
        # The serving bot's intake pollers share this connection (one token per process)
        # on a worker of their own: a poll never takes a diagnosis' worker, and a storm
        # of diagnoses never delays a poll.
        self._intake_pool = DaemonPool(1, "openstack-intake")
        self._discovered: set[str] = set()

    @classmethod
    def from_settings(cls, settings: OpenStackSettings) -> OpenStackApi:
        """Connect as ``settings`` say (clouds.yaml cloud, or the OS_* environment).

        No request is made here: authentication (unless a cached token is still good,
        see ``token_cache``) and microversion negotiation happen on the first call, off
        the event loop.
        """
        try:
            if settings.clouds_file is not None:
                config = OpenStackConfig(
                    config_files=[str(settings.clouds_file.expanduser())]
                )
            else:
                config = OpenStackConfig()
            options: dict[str, Any] = {"api_timeout": settings.api_timeout_s}
            if not settings.verify_tls:
                options["verify"] = False
            region = config.get_one(
                cloud=settings.cloud, region_name=settings.region_name, **options
            )
        except config_exceptions.OpenStackConfigException as exc:
            where = settings.clouds_file or "clouds.yaml"
            raise ConfigError(
                f"{where}: openstack.cloud {settings.cloud!r}: {exc}"
            ) from exc
        conn = openstack.connection.Connection(config=region)
        cache = None
        if settings.token_cache:
            cache = TokenCache(settings.token_cache_path(), conn.session.auth)
            cache.load()
        return cls(conn, settings, cache)

    async def run_intake(self, fn: Callable[[], T]) -> T:
        """Run a blocking call of the intake (a poll of /os-migrations over ``conn``) on
        the intake's own worker, with the caller's context variables."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._intake_pool, context.run, fn)

    def close(self) -> None:
        self.pools.close()
        self._intake_pool.shutdown(wait=False, cancel_futures=True)
        if self.token_cache is not None:
            self.token_cache.save()
        self.conn.close()

    # ---- calling the SDK ----------------------------------------------------------------------

    def _negotiate(self) -> None:
        """Fix the compute microversion once; the SDK then sends it on every compute call."""
        with self._negotiate_lock:
            if self._negotiated:
                return
            if self.compute_microversion is None:
                data = self.conn.compute.get_endpoint_data()
                self.compute_microversion = choose_microversion(
                    data.min_microversion, data.max_microversion
                )
            # Resource._get_microversion prefers the session default over its own maximum.
            self.conn.compute.default_microversion = self.compute_microversion
            self._negotiated = True
            log.info(
                "compute microversion %s",
                self.compute_microversion or "2.1 (none offered)",
            )

    async def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        family: Family = Family.NOVA,
        after: Iterable[ApiCall] = (),
    ) -> tuple[T, tuple[ApiCall, ...]]:
        """Run one blocking SDK call on ``family``'s pool, bounded by the timeout.

        Returns the result and the HTTP calls it made. ``after`` names the earlier calls
        whose answers this one needed (for the request graph); without it the call needs
        what its stage needs. On timeout the call is abandoned (its worker finishes or
        fails on its own). Raises CollectorError (EndpointUnreachable when the cloud
        cannot be reached).
        """
        here = origin(c.node for c in after)

        def work() -> tuple[T, tuple[ApiCall, ...]]:
            start_recording(here, family.value)
            try:
                if family is Family.NOVA:
                    self._negotiate()
                try:
                    return fn(), stop_recording()
                except (
                    sdk_exceptions.HttpException,
                    ks_exceptions.Unauthorized,
                ) as exc:
                    if not _refused_token(exc):
                        raise
                    # A refused token (revoked, or the cloud restarted): keystoneauth
                    # renews it only in the thread that invalidated it first; a call
                    # that met the same 401 at the same time asks once more, with the
                    # token that thread got. Every call here is a read, safe to repeat.
                    return fn(), stop_recording()
            finally:
                stop_recording()

        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.pools.run(family, work)
        except CollectorError:
            raise
        except Exception as exc:
            log.debug("%s failed", what, exc_info=True)
            raise translate(exc, what, self.timeout_s) from exc

    # ---- Bootstrap --------------------------------------------------------------------------

    def discover_services(self) -> None:
        """Read Placement's, Neutron's and Cinder's version documents in the background.

        They need only the token, and the collectors need them later: asked now, they
        come in while the server is being looked up instead of on the collectors'
        critical path. Cached for the process (a warm process asks nothing).
        """

        def endpoint_data(proxy_name: str) -> None:
            getattr(self.conn, proxy_name).get_endpoint_data()

        for proxy_name, family in _DISCOVERED:
            if proxy_name in self._discovered:
                continue
            with stage(DISCOVERY):
                task = asyncio.create_task(
                    self._discover(proxy_name, family, endpoint_data)
                )
            self._discovery.add(task)
            task.add_done_callback(self._discovery.discard)

    async def _discover(
        self, proxy_name: str, family: Family, fetch: Callable[[str], None]
    ) -> None:
        try:
            await self.call(
                f"{proxy_name} version discovery",
                lambda: fetch(proxy_name),
                family=family,
            )
            self._discovered.add(proxy_name)
        except CollectorError:
            # the collector that needs this service will meet the same error and say so
            log.debug("%s version discovery failed", proxy_name, exc_info=True)

    async def resolve_server(self, ref: MigrationRef) -> Server:
        """Find the VM by uuid or exact name (all projects when allowed).

        A name costs one round trip, not two: ``GET /servers/detail`` returns each
        server in the same view as ``GET /servers/{id}`` (Nova builds both with the
        show view, faults included), so the match is used as it is.
        """
        text = ref.server.strip()
        self.discover_services()
        if _UUID.match(text):
            server = await self._fetch_server(text, missing_ok=True)
            if server is not None:
                return server
        return await self._server_by_name(text)

    async def _fetch_server(
        self, server_id: str, *, missing_ok: bool = False
    ) -> Server | None:
        """GET /servers/{id}; None when absent and ``missing_ok`` (a name may look like a uuid)."""
        try:
            found, calls = await self.call(
                "GET /servers/{id}", lambda: self.conn.compute.get_server(server_id)
            )
        except CollectorError as exc:
            if missing_ok and exc.reason == "not found":
                return None
            raise self._bootstrap_error(exc, server_id) from exc
        return convert.server_from_sdk(
            found, provenance=provenance(calls, f"GET /servers/{server_id}")
        )

    def _servers_named(self, name: str) -> tuple[list[Any], bool]:
        # Nova's name filter is a regular expression: anchor and escape it, then compare
        # exactly, because "web-1" would otherwise also match "web-10".
        pattern = f"^{re.escape(name)}$"
        try:
            found = list(
                self.conn.compute.servers(details=True, all_projects=True, name=pattern)
            )
            everywhere = True
        except sdk_exceptions.ForbiddenException:
            found = list(self.conn.compute.servers(details=True, name=pattern))
            everywhere = False
        return [s for s in found if s.name == name], everywhere

    async def _server_by_name(self, name: str) -> Server:
        try:
            (matches, everywhere), calls = await self.call(
                "GET /servers/detail", lambda: self._servers_named(name)
            )
        except CollectorError as exc:
            raise self._bootstrap_error(exc, name) from exc
        if not matches:
            scope = (
                "in any project"
                if everywhere
                else "in the projects this account can see"
            )
            raise VmNotFound(f"no server named or with id {name!r} {scope}")
        if len(matches) > 1:
            raise AmbiguousVm(
                name,
                [
                    (str(s.id), str(s.name), str(s.status), s.compute_host or None)
                    for s in matches
                ],
            )
        cited = provenance(calls[-1:], f"GET /servers/detail?name={name}")
        return convert.server_from_sdk(matches[0], provenance=cited)

    @staticmethod
    def _bootstrap_error(exc: CollectorError, server: str) -> Exception:
        if exc.reason == "not found":
            return VmNotFound(f"no server with id {server!r}")
        if isinstance(exc, EndpointUnreachable):
            return CloudUnreachable(exc.reason)
        detail = f" ({exc.detail})" if exc.detail else ""
        return CloudUnreachable(f"{exc.reason}{detail}")

    async def migration_records(self, server: Server) -> MigrationRecords | Unavailable:
        """GET /os-migrations?instance_uuid=… (admin), newest first."""
        try:
            found, calls = await self.call(
                "GET /os-migrations",
                lambda: list(self.conn.compute.migrations(server_id=server.id)),
            )
        except CollectorError as exc:
            return Unavailable(reason=exc.reason, detail=exc.detail)
        records = convert.newest_first(
            convert.migration_record_from_sdk(m) for m in found
        )
        return MigrationRecords(
            provenance=provenance(
                calls, f"GET /os-migrations?instance_uuid={server.id}"
            ),
            records=records,
        )

    async def instance_actions(
        self,
        server: Server,
        migration: MigrationSummary | Awaitable[MigrationSummary | None] | None,
    ) -> InstanceActions | Unavailable:
        """The server's actions; the one matching ``migration`` fetched with its events.

        ``migration`` may still be on its way (an awaitable): the list needs only the
        server's id, so it is fetched while the migration records are, and only the
        matched action's detail waits for both.
        """
        try:
            listed, calls = await self.call(
                "GET /servers/{id}/os-instance-actions",
                lambda: list(self.conn.compute.server_actions(server.id)),
            )
            actions = tuple(convert.instance_action_from_sdk(a) for a in listed)
            if inspect.isawaitable(migration):
                migration = await migration
            matched = match_action(actions, migration)
            detailed = None
            if matched is not None:
                request_id = matched.request_id
                with stage(ACTION, after=(ACTIONS, MIGRATIONS)):
                    shown, more = await self.call(
                        "GET /servers/{id}/os-instance-actions/{request_id}",
                        lambda: self.conn.compute.get_server_action(
                            segment(request_id), segment(server.id)
                        ),
                    )
                detailed = convert.instance_action_from_sdk(shown)
                calls += more
        except CollectorError as exc:
            return Unavailable(reason=exc.reason, detail=exc.detail)
        return InstanceActions(
            provenance=provenance(
                calls, f"GET /servers/{server.id}/os-instance-actions"
            ),
            actions=actions,
            migration_action=detailed,
        )

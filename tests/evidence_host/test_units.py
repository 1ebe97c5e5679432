"""Pure pieces: host addressing and reading pod status."""

from __future__ import annotations

from types import SimpleNamespace as NS

from diagnostics.evidence.mgmt_plane import _deployment_of, _pod_status
from diagnostics.evidence.ssh import HostShell
from diagnostics.settings import HostAddress, SshSettings

DEPLOYMENTS = ("nova-api-osapi", "nova-conductor", "nova-scheduler")


def test_resolve_prefers_map_then_pattern_then_host_ip_then_name():
    """Static map wins, then the pattern, then the hypervisor's host_ip, then the name."""
    mapped = SshSettings(hosts={"cmp-a-01": HostAddress(address="10.9.9.9", port=2222)})
    shell = HostShell(mapped)
    assert shell.resolve("cmp-a-01", host_ip="10.0.0.1") == ("10.9.9.9", 2222)
    assert shell.resolve("cmp-b-01", host_ip="10.0.0.2") == ("10.0.0.2", 22)
    shell.hint_host_ip("cmp-c-01", "10.0.0.3")
    assert shell.resolve("cmp-c-01") == ("10.0.0.3", 22)
    assert shell.resolve("cmp-d-01") == ("cmp-d-01", 22)
    patterned = HostShell(SshSettings(host_pattern="{host}.mgmt.example", port=2200))
    assert patterned.resolve("cmp-b-01", host_ip="10.0.0.2") == (
        "cmp-b-01.mgmt.example",
        2200,
    )
    no_ip = HostShell(SshSettings(use_hypervisor_host_ip=False))
    assert no_ip.resolve("cmp-b-01", host_ip="10.0.0.2") == ("cmp-b-01", 22)


def _pod(name, *, phase="Running", statuses=(), labels=None, containers=("main",)):
    """A pod as the API's PodList JSON carries it."""
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": c} for c in containers]},
        "status": {"phase": phase, "containerStatuses": list(statuses)},
    }


def _cs(ready=True, restarts=0, waiting=None):
    return {
        "ready": ready,
        "restartCount": restarts,
        "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
    }


def test_pod_status_reports_crashloop_restarts_and_readiness():
    """A waiting reason (CrashLoopBackOff) shows instead of the phase, as kubectl does."""
    pod = _pod(
        "nova-conductor-7d9c5b8f6-x2x4q",
        statuses=[_cs(ready=False, restarts=7, waiting="CrashLoopBackOff"), _cs()],
    )
    status = _pod_status(pod, DEPLOYMENTS)
    assert status.deployment == "nova-conductor"
    assert status.phase == "CrashLoopBackOff"
    assert not status.ready
    assert status.restarts == 7
    assert status.container == "main"
    pending = _pod_status(_pod("x-1-2", phase="Pending"), DEPLOYMENTS)
    assert pending.phase == "Pending"
    assert not pending.ready  # no container statuses yet


def test_deployment_name_from_prefix_labels_or_generated_suffix():
    """Configured names match as prefixes first; then app labels; then the pod-name shape."""
    assert (
        _deployment_of("nova-api-osapi-5f7-abcde", {}, DEPLOYMENTS) == "nova-api-osapi"
    )
    assert (
        _deployment_of("weird", {"app": "placement-api"}, DEPLOYMENTS)
        == "placement-api"
    )
    assert _deployment_of("cinder-api-6c4f-zzzzz", {}, DEPLOYMENTS) == "cinder-api"
    assert _deployment_of("standalone", {}, DEPLOYMENTS) == "standalone"


class _FakeOpenStack:
    """Stands in for OpenStackApi: `call` runs the listing, `conn` lists hypervisors."""

    def __init__(self, hypervisors: list[NS]) -> None:
        self.calls = 0
        self.conn = NS(compute=NS(hypervisors=lambda details: iter(hypervisors)))

    async def call(self, what, fn):
        self.calls += 1
        return fn(), ()


async def test_host_ip_hints_are_learnt_from_hypervisors_once():
    """Without map or pattern, the hypervisor's host_ip addresses the host (one API call)."""
    from diagnostics.evidence.host_common import guarded
    from tests.evidence_host.fakes import make_ctx

    api = _FakeOpenStack(
        [
            NS(
                id="1",
                name="cmp-b-01.local",
                service_details={"host": "cmp-b-01"},
                host_ip="10.0.0.12",
            )
        ]
    )
    shell = HostShell(SshSettings())
    ctx = make_ctx(NS(hosts=shell, openstack=api))

    async def where_to(sh: HostShell, host: str) -> tuple[str, int]:
        return sh.resolve(host)

    assert await guarded(ctx, "cmp-b-01", "destination", where_to) == ("10.0.0.12", 22)
    assert await guarded(ctx, "cmp-x-09", "destination", where_to) == ("cmp-x-09", 22)
    assert api.calls == 1

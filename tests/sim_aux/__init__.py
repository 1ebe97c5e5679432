"""Tests of the simulated region's Placement, Neutron, Cinder, SSH hosts and Kubernetes API.

``region_state()`` builds a small region by hand: cmp-1 (source, logs, iSCSI), cmp-2
(expired libvirt server certificate, a stale inactive binding), cmp-3 (TCP 16514 dropped
from cmp-1), cmp-4 (powered off), cmp-5 (storage role, cinder-volume unit failed, compute
disabled).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sim.region.build import build_state
from sim.region.state import RegionState
from sim.scenario.model import Scenario

NOW = datetime(2026, 11, 25, 19, 20, tzinfo=UTC)
REQ = "req-3a38b5ee-968d-4331-87b3-a5674f296371"

SCENARIO = {
    "name": "sim-aux",
    "description": "hand-built region for the aux service tests",
    "namespace": "pcd-test",
    "hosts": {
        "cmp-1": {
            "host_ip": "10.0.0.11",
            "iscsi_sessions": [
                "tcp: [1] 10.0.0.50:3260,1 iqn.2010-10.org.openstack:volume-x (non-flash)"
            ],
            "ssh_to": {"cmp-3": "Host key verification failed."},
            "instance_dirs": ["stale-dir"],
            "cpu": {"traits": ["HW_CPU_X86_AVX512F"]},
            "logs": {
                "/var/log/pf9/ostackhost.log": [
                    {"at": "-10m", "text": f"Live Migration failure: boom {REQ}"},
                    {"at": "-9m", "level": "INFO", "text": "unrelated line"},
                ]
            },
        },
        "cmp-2": {
            "host_ip": "10.0.0.12",
            "tls": {
                "server_cert": {
                    "subject_cn": "cmp-2",
                    "sans": ["cmp-2", "IP:10.0.0.12"],
                    "not_before": "-367d",
                    "not_after": "-2d",
                }
            },
            "resources": {"vcpus": 4, "memory_mb": 8192, "used_vcpus": 15},
        },
        "cmp-3": {"host_ip": "10.0.0.13", "tls": {"blocked_from": ["cmp-1"]}},
        "cmp-4": {"host_ip": "10.0.0.14", "reachable": False},
        "cmp-5": {
            "host_ip": "10.0.0.15",
            "cinder_volume": True,
            "compute": {"status": "disabled", "disabled_reason": "maintenance"},
            "network_agent_alive": False,
            "units": {"pf9-cindervolume-base": "failed", "libvirtd": "active"},
        },
    },
    "aggregates": [
        {"name": "agg-a", "availability_zone": "az-a", "hosts": ["cmp-1", "cmp-2"]}
    ],
    "flavors": [{"name": "m1", "vcpus": 2, "ram": 4096, "disk": 40}],
    "servers": [
        {
            "name": "vm-1",
            "flavor": "m1",
            "host": "cmp-1",
            "volumes": [{"name": "data-1", "backend_host": "cmp-5@lvm#LVM"}],
            "ports": [{"ip": "192.168.10.5", "inactive_binding_hosts": ["cmp-2"]}],
        }
    ],
    "pods": [
        {
            "deployment": "nova-conductor",
            "logs": [
                {"at": "-3m", "text": "first"},
                {"at": "-2m", "text": "second"},
                {"at": "-1m", "text": "third"},
            ],
        },
        {
            "deployment": "cinder-scheduler",
            "phase": "CrashLoopBackOff",
            "ready": False,
            "restarts": 7,
        },
    ],
}


def region_state(now: datetime = NOW, **overrides: object) -> RegionState:
    """The hand-built region, materialized by the region's own builder."""
    data = dict(SCENARIO)
    data.update(overrides)
    return build_state(Scenario.model_validate(data), now=now)

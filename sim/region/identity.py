"""Who is who in the region: users, projects, passwords, tokens, stable ids of providers.

Keystone answers from these, the state dir writes them into clouds.yaml and kubeconfig,
and every service names a project, user or resource provider by the same ids.
"""

from __future__ import annotations

from sim.region.state import stable_uuid
from sim.scenario.model import Scenario

ADMIN_USER = "admin"
ADMIN_PASSWORD = "sim-admin-password"
ADMIN_PROJECT = "admin"
MEMBER_USER = "demo"
MEMBER_PASSWORD = "sim-demo-password"
MEMBER_PROJECT = "demo"
# the service user Nova talks to Neutron as: admin plus the "service" role that current
# Neutron policies require for port-binding writes (delete_port_binding is SERVICE-only)
SERVICE_USER = "nova"
SERVICE_PASSWORD = "sim-nova-password"
SERVICE_PROJECT = "service"
CONDUCTOR_HOST = "ctl-01"  # where nova-conductor records its instance-action events
K8S_TOKEN = "sim-kubernetes-token"  # the bearer token of the Kubernetes API


def project_id(scenario: Scenario, project: str) -> str:
    """Keystone-style 32-hex project id for a project name."""
    return stable_uuid(scenario.name, "project", project).replace("-", "")


def user_id(scenario: Scenario, user: str) -> str:
    """Keystone-style 32-hex user id for a user name."""
    return stable_uuid(scenario.name, "user", user).replace("-", "")


def provider_uuid(scenario: Scenario, host: str) -> str:
    """The compute-node resource provider uuid of a host (also the hypervisor uuid)."""
    return stable_uuid(scenario.name, "rp", host)

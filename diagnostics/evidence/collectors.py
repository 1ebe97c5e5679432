"""Importing this module registers every bundled collector."""

from diagnostics.evidence import (  # noqa: F401 - registration side effects
    host_collectors,
    mgmt_collectors,
    openstack_collectors,
    storage_collectors,
)

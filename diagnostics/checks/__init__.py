"""The bundled checks: importing this package registers every one (one module each).

Modules starting with an underscore are helpers shared by checks, not checks.
"""

from __future__ import annotations

from diagnostics.checks import (
    aggregate_extra_specs,
    az_mismatch,
    cert_expiring,
    cold_migration_ssh,
    compute_service_down,
    cpu_incompatible,
    evacuation_source_up,
    insufficient_resources,
    invalid_vm_state,
    leftovers_on_dest,
    live_migration_timeout,
    no_valid_host,
    port_binding,
    stale_leftovers,
    storage_mode_mismatch,
    tls_connect,
    unsupported_device,
    volume_connection,
)

__all__ = [
    "aggregate_extra_specs",
    "az_mismatch",
    "cert_expiring",
    "cold_migration_ssh",
    "compute_service_down",
    "cpu_incompatible",
    "evacuation_source_up",
    "insufficient_resources",
    "invalid_vm_state",
    "leftovers_on_dest",
    "live_migration_timeout",
    "no_valid_host",
    "port_binding",
    "stale_leftovers",
    "storage_mode_mismatch",
    "tls_connect",
    "unsupported_device",
    "volume_connection",
]

"""The composition root of the bundled plugins: the one module that imports them all.

Checks register with ``@check`` (``diagnostics.registry``) and collectors with
``@collector`` (``diagnostics.evidence.base``) when their modules are imported. The
registries never import their plugins, since every plugin imports its registry; this
module does, so the dependency runs one way: plugins -> checks/collectors -> registries.
"""

from __future__ import annotations

import diagnostics.checks
import diagnostics.evidence.collectors
from diagnostics.evidence.base import Collector, registered_collectors
from diagnostics.evidence.types import Evidence
from diagnostics.registry import CheckSpec, registered_checks

# the packages whose import registers the bundled plugins
BUNDLED = (diagnostics.checks, diagnostics.evidence.collectors)


def bundled_checks() -> tuple[CheckSpec, ...]:
    """Every bundled check, highest priority first."""
    return registered_checks()


def bundled_check(check_id: str) -> CheckSpec:
    """One bundled check by id (KeyError when there is none)."""
    return {c.id: c for c in bundled_checks()}[check_id]


def bundled_collectors() -> dict[type[Evidence], Collector]:
    """The bundled collectors (OpenStack API, hypervisors over SSH, management plane)."""
    return registered_collectors()

"""The check registry: ``@check`` declares one check; its signature names its evidence.

A non-Optional parameter is required evidence: if it is missing or unavailable the engine
does not call the check and records ``Skipped``. ``X | None`` is optional. Type hints are
resolved at import time, so an unknown evidence type fails at once, not at 3 a.m.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from diagnostics.evidence.types import EVIDENCE_TYPES, Evidence
from diagnostics.model import CheckOutcome, MigrationKind, RootCauseId, Severity
from diagnostics.remedies import RemedyTemplate, validate_order
from diagnostics.step_facts import Step

CheckFn = Callable[..., CheckOutcome]

STEP_TITLES: dict[int, str] = {int(s): s.title for s in Step}  # for renderers and tests


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceParam:
    name: str
    type: type[Evidence]
    required: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    """A declared check: metadata plus the function and its evidence parameters."""

    id: str
    title: str
    applies_to: frozenset[MigrationKind]
    root_cause: RootCauseId
    severity: Severity
    priority: int
    step: Step
    summary: str
    remediation: tuple[RemedyTemplate, ...]
    references: tuple[str, ...]
    fn: CheckFn
    params: tuple[EvidenceParam, ...]
    # the check says nothing unless at least one of these was collected: the engine
    # records Skipped ("needs one of …") instead of calling it
    needs_any: tuple[type[Evidence], ...] = ()

    @property
    def needs(self) -> frozenset[type[Evidence]]:
        return frozenset(p.type for p in self.params)

    @property
    def requires(self) -> frozenset[type[Evidence]]:
        return frozenset(p.type for p in self.params if p.required)


_REGISTRY: dict[str, CheckSpec] = {}


class RegistryError(Exception):
    """A check declaration is wrong (unknown evidence type, duplicate id, bad metadata)."""


def _evidence_params(fn: CheckFn) -> tuple[EvidenceParam, ...]:
    hints = typing.get_type_hints(fn)
    params: list[EvidenceParam] = []
    for name in inspect.signature(fn).parameters:
        hint = hints.get(name)
        required = True
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if len(args) != 1 or len(typing.get_args(hint)) != 2:
                raise RegistryError(
                    f"{fn.__name__}({name}): only `Evidence | None` unions"
                )
            hint, required = args[0], False
        if not (isinstance(hint, type) and hint in EVIDENCE_TYPES):
            raise RegistryError(
                f"{fn.__name__}({name}): {hint!r} is not an evidence type"
            )
        params.append(EvidenceParam(name=name, type=hint, required=required))
    if not params:
        raise RegistryError(
            f"{fn.__name__}: a check needs at least one evidence parameter"
        )
    return tuple(params)


def declare(
    fn: CheckFn,
    *,
    id: str,
    title: str,
    applies_to: Iterable[MigrationKind],
    root_cause: RootCauseId,
    priority: int,
    step: int,
    summary: str,
    remediation: Iterable[RemedyTemplate],
    references: Iterable[str] = (),
    severity: Severity = Severity.ERROR,
    needs_any: Iterable[type[Evidence]] = (),
) -> CheckSpec:
    """Validate a check's metadata and signature; returns the spec without registering it."""
    if step not in STEP_TITLES:
        raise RegistryError(f"{id}: step {step} is not one of the runbook's steps 1-8")
    if not fn.__doc__:
        raise RegistryError(f"{id}: a check needs a docstring (its long explanation)")
    remedies = tuple(remediation)
    disorder = validate_order(remedies)
    if disorder is not None:
        raise RegistryError(f"{id}: remediation order: {disorder}")
    params = _evidence_params(fn)
    any_of = tuple(needs_any)
    optional = {p.type for p in params if not p.required}
    if stray := [t.__name__ for t in any_of if t not in optional]:
        raise RegistryError(f"{id}: needs_any names {stray}, not optional parameters")
    return CheckSpec(
        id=id,
        title=title,
        applies_to=frozenset(applies_to),
        root_cause=root_cause,
        severity=severity,
        priority=priority,
        step=Step(step),
        summary=summary,
        remediation=remedies,
        references=tuple(references),
        fn=fn,
        params=params,
        needs_any=any_of,
    )


def check(**meta: Any) -> Callable[[CheckFn], CheckFn]:
    """Declare and register a check. See STYLE.md §2 and CONTRIBUTING.md for the recipe.

    Keyword arguments are those of ``declare``: id, title, applies_to, root_cause,
    priority, step, summary, remediation, references, severity, needs_any.
    """

    def register(fn: CheckFn) -> CheckFn:
        spec = declare(fn, **meta)
        if spec.id in _REGISTRY:
            raise RegistryError(f"duplicate check id {spec.id!r}")
        _REGISTRY[spec.id] = spec
        return fn

    return register


def registered_checks() -> tuple[CheckSpec, ...]:
    """Every check registered so far, highest priority first.

    The registry never imports its plugins (they import it): the composition root,
    ``diagnostics.plugins``, imports the bundled checks and asks here.
    """
    return tuple(sorted(_REGISTRY.values(), key=lambda c: (-c.priority, c.id)))

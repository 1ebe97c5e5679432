"""Response fields declared once with the microversion that adds them, for the services
whose versions are ``(major, minor)`` pairs (Cinder ``3.x``, Placement ``1.x``).

The same rule as Nova's ``sim/api/nova/fields.py`` (openstacksdk's ``Body`` fields)::

    FIELDS = (
        Field("group_id", lambda v: None, since=(3, 13)),
        Field("os-vol-host-attr:host", _backend, admin=MIN),  # admins only
        Field("allocations", _as_list, until=(1, 12)),  # replaced by the next one
        Field("allocations", _as_dict, since=(1, 12)),
    )
    body = render(FIELDS, view, served, is_admin=...)

A field is shown to everyone from ``since`` (default: always, unless ``admin``), to
admins from ``admin`` (a field with only ``admin`` is admin-only), and up to but not
including ``until``. Fields keep their declared order, which is the order of the keys in
the body. A value function returns :data:`OMIT` for a resource that has no such field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

Version = tuple[int, int]
Context = TypeVar("Context")


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()  # a value function's "this resource has no such field"


@dataclass(frozen=True, slots=True)
class Field(Generic[Context]):
    """One key of a response body and the microversions that show it."""

    key: str
    value: Callable[[Context], Any]
    since: Version | None = None  # everyone sees it from here (None: always)
    admin: Version | None = None  # admins see it from here (default: ``since``)
    until: Version | None = None  # not shown from here on (a newer field replaces it)

    def shown(self, served: Version, is_admin: bool) -> bool:
        if self.until is not None and served >= self.until:
            return False
        if self.since is None and self.admin is None:
            return True
        if self.since is not None and served >= self.since:
            return True
        return is_admin and self.admin is not None and served >= self.admin


def render(
    fields: Iterable[Field[Context]],
    context: Context,
    served: Version,
    *,
    is_admin: bool = False,
) -> dict[str, Any]:
    """The body of one resource: every field shown at ``served`` for this role."""
    body: dict[str, Any] = {}
    for field in fields:
        if field.shown(served, is_admin):
            value = field.value(context)
            if value is not OMIT:
                body[field.key] = value
    return body


def in_effect(served: Version, version: Version | None) -> bool:
    """Is a request parameter or behaviour declared ``since=version`` in effect?"""
    return version is None or served >= version

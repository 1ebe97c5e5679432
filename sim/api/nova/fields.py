"""Response fields declared once, with the microversion that adds them (and the one that
replaces them), as openstacksdk declares a resource's ``Body`` fields.

    FIELDS = (
        Field("locked", lambda v: v.server["locked"], since="2.9"),
        Field("host_status", _host_status, admin="2.16"),  # admins only, from 2.16
        Field("OS-EXT-SRV-ATTR:hostname", _name, admin="2.3", since="2.90"),
    )
    view = render(FIELDS, context, request)

A field is shown to everyone from ``since``, to admins from ``admin`` (default: ``since``;
a field with only ``admin`` is admin-only), and up to but not including ``until`` (where
a later declaration of the same key takes over). Fields keep their declared order, so a
view's keys come out in the order Nova's view builder writes them. A value function may
return :data:`OMIT` when the field is absent for this resource (e.g. ``fault`` of a
server that is not in ERROR).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from aiohttp import web

from sim.api.microversion import Microversion
from sim.api.nova.common import admin, version

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
    since: str | None = (
        None  # everyone sees it from here (default 2.1 unless ``admin``)
    )
    admin: str | None = None  # admins see it from here (default: ``since``)
    until: str | None = (
        None  # not shown from this version on (a newer field replaces it)
    )

    def shown(self, served: Microversion, is_admin: bool) -> bool:
        if self.until is not None and served.at_least(self.until):
            return False
        everyone = self.since or (None if self.admin else "2.1")
        if everyone is not None and served.at_least(everyone):
            return True
        for_admin = self.admin or everyone
        return is_admin and for_admin is not None and served.at_least(for_admin)


def render(
    fields: Iterable[Field[Context]], context: Context, request: web.Request
) -> dict[str, Any]:
    """The body of one resource: every field shown at the request's version and role."""
    served = version(request)
    is_admin = admin(request)
    body: dict[str, Any] = {}
    for field in fields:
        if field.shown(served, is_admin):
            value = field.value(context)
            if value is not OMIT:
                body[field.key] = value
    return body

"""Ids put into API paths: one path segment each, percent-encoded.

openstacksdk joins a resource id into the URL as given (``utils.urljoin``), and our own
``get`` calls build paths with f-strings, so an id holding ``?``, ``#``, ``/`` or ``..``
would end the path, start a query or reach another resource. Every id that goes into a
path passes through :func:`segment` first; the service decodes it back.
"""

from __future__ import annotations

from urllib.parse import quote


def segment(value: object) -> str:
    """``value`` as one percent-encoded path segment (``req-1?x`` -> ``req-1%3Fx``)."""
    return quote(str(value), safe="")

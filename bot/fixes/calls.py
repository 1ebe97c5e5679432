"""The one OpenStack call a fix button makes, how its confirm dialog names it, and sending it.

Shared by every safe fix (Retry to H, Abort, Force complete, Remove the stale binding):
the call is data (service, method, path, body, microversion), so the confirm dialog shows
exactly what will be sent, and ``send`` sends exactly that with the fix's own credentials
(``actions.cloud``), never the diagnosis' read-only ones. Nothing here imports the
posting side, so the root-cause card can build the buttons.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from bot.settings import BotSettings
from diagnostics.evidence.openstack_api import OpenStackApi
from diagnostics.evidence.urls import segment

Service = Literal["compute", "network"]
_BASE = {"compute": "/compute/v2.1", "network": "/network/v2.0"}
_NAME = {"compute": "Nova", "network": "Neutron"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudCall:
    """One request: ``path`` is relative to the service's versioned endpoint."""

    service: Service
    method: Literal["GET", "POST", "DELETE"]
    path: str
    body: dict[str, Any] | None = None
    microversion: str | None = None
    accepted: int = (
        202  # the status that means the service took it (Neutron's delete: 204)
    )

    def exact(self) -> str:
        """``POST /compute/v2.1/servers/…/action (compute 2.30) {…}``, as the dialog says."""
        version = f" ({self.service} {self.microversion})" if self.microversion else ""
        body = f" {json.dumps(self.body)}" if self.body is not None else ""
        return f"{self.method} {_BASE[self.service]}{self.path}{version}{body}"

    @property
    def answered_by(self) -> str:
        return _NAME[self.service]


def path_of(template: str, *parts: str) -> str:
    """A path with each id percent-encoded (an id holding ``/`` or ``?`` stays one id)."""
    return template.format(*(segment(p) for p in parts))


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the service said: HTTP status (0: no answer), its request id, its words."""

    status: int
    request_id: str | None
    said: str
    body: Any = None


def connect(settings: BotSettings) -> OpenStackApi:
    """A connection with the fixes' credentials (``actions.cloud``); blocking."""
    cloud = settings.openstack.model_copy(
        update={"cloud": settings.actions.cloud, "token_cache": False}
    )
    return OpenStackApi.from_settings(cloud)


def request(api: OpenStackApi, call: CloudCall) -> Answer:
    """Send ``call`` on an open connection; blocking. Never raises for an HTTP error."""
    adapter = getattr(api.conn, call.service)
    kwargs: dict[str, Any] = {"raise_exc": False}
    if call.microversion:
        kwargs["microversion"] = call.microversion
    if call.body is not None:
        kwargs["json"] = call.body
    response = adapter.request(call.path, call.method, **kwargs)
    headers = response.headers
    request_id = headers.get("x-openstack-request-id") or headers.get(
        "x-compute-request-id"
    )
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    said = (
        response.text[:500]
        if response.status_code >= 400
        else ("accepted" if response.status_code == call.accepted else "")
    )
    return Answer(
        status=response.status_code, request_id=request_id, said=said, body=body
    )


def send(settings: BotSettings, call: CloudCall) -> Answer:
    """Open a connection with the fixes' credentials, send ``call``, close; blocking."""
    api = connect(settings)
    try:
        return request(api, call)
    finally:
        api.close()


CONFIRM_MAX = 300  # Slack's limit on a confirm dialog's text


def confirm_text(call: CloudCall, consequence: str) -> str | None:
    """The dialog's text: the exact call, whole, then what it does and cannot undo.

    Shorter forms when Slack's limit is near; None when even the bare call does not fit,
    so the button is not offered (a dialog never shows a cut call).
    """
    for text in (
        f"Calls {call.exact()} with the actions credentials. {consequence}",
        f"Calls {call.exact()}. {consequence}",
        f"Calls {call.exact()}. Cannot be undone.",
    ):
        if len(text) <= CONFIRM_MAX:
            return text
    return None


def fix_button(
    *,
    label: str,
    action_id: str,
    value: dict[str, str],
    title: str,
    call: CloudCall,
    consequence: str,
    confirm: str,
    style: Literal["primary", "danger"] = "danger",
) -> ButtonElement | None:
    """A button with its confirm dialog and a one-time token (a double click runs once);
    None when the exact call would not fit in the dialog."""
    text = confirm_text(call, consequence)
    if text is None:
        return None
    return ButtonElement(
        text=label[:75],
        action_id=action_id,
        value=json.dumps(value | {"token": uuid.uuid4().hex}),
        style=style,
        confirm=ConfirmObject(
            title=title[:100], text=text, confirm=confirm[:30], deny="Cancel"
        ),
    )

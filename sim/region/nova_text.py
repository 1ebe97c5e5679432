"""Where Nova cuts the text it stores about a failure, and how.

``nova.compute.utils.exception_to_dict`` cuts the message with ``nova.utils.safe_truncate``
to 255 bytes because the database columns are ``String(255)``: that message becomes the
server fault's ``message`` (``add_instance_fault_from_exc``) and a failed event's
``details`` (``InstanceActionEvent.pack_action_event_finish``). The event's ``traceback``
and the fault's ``details`` (the formatted traceback) are ``Text`` and stay whole, as do
the API's own error messages and notification payloads.

The sim keeps its own copy rather than importing ``diagnostics.signatures.safe_truncate``:
a stand-in that shared the product's code would hide a bug in it (the conformance test
compares the two).
"""

from __future__ import annotations

# nova.db.main.models: InstanceFault.message, InstanceActionEvent.details are String(255)
NOVA_MESSAGE_MAX = 255


def nova_message(value: str, length: int = NOVA_MESSAGE_MAX) -> str:
    """``value`` as Nova stores it: at most ``length`` UTF-8 bytes, no character split.

    As ``nova.utils.safe_truncate``: encode, cut the bytes, then drop bytes from the end
    until the rest decodes.
    """
    data = value.encode("utf-8")[:length]
    while True:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            data = data[:-1]

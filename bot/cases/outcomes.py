"""What a failed post means for its case: try again later, or end it with the reason.

A case must never loop: a VM that no longer exists, a channel the bot cannot post in and
a cloud that refuses the bot's credentials will not pass by retrying, so the case ends
(status ``failed``) with the reason, said once. Anything else is retried with backoff up
to ``intake.max_attempts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from diagnostics.model import AmbiguousVm, CloudUnreachable, ConfigError, VmNotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class Terminal:
    reason: str
    tell_channel: bool  # False when the channel is what refused us


def terminal(exc: BaseException) -> Terminal | None:
    """The terminal outcome of ``exc``, or None when a later try may pass."""
    if isinstance(exc, VmNotFound):
        return Terminal(
            reason=f"the VM no longer exists ({exc}); nothing to diagnose",
            tell_channel=True,
        )
    if isinstance(exc, AmbiguousVm | ConfigError):
        return Terminal(reason=str(exc), tell_channel=True)
    if isinstance(exc, CloudUnreachable) and "refused the credentials" in str(exc):
        return Terminal(reason=f"the cloud refused the bot: {exc}", tell_channel=True)
    # bot.posting.writer.DeliveryFailed (cases never import posting): Slack's answer is
    # one no retry can change (channel_not_found, not_in_channel, is_archived, ...)
    if getattr(exc, "permanent", False) is True:
        why = getattr(exc, "reason", str(exc))
        return Terminal(reason=f"Slack refused the post ({why})", tell_channel=False)
    return None


def retry_delay(attempt: int, *, base_s: float, max_s: float) -> timedelta:
    """Exponential backoff: ``base_s`` after the first failure, doubling, at most ``max_s``."""
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, attempt - 1)))


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

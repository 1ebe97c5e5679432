"""Strict Block Kit validation, stricter than slack_sdk's (slack.md §1.3 A, §1.4 item 8)."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50


def _normalise(node: Any) -> Any:
    # slack_sdk drops None-valued keys on output; compare like with like
    if isinstance(node, dict):
        return {k: _normalise(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_normalise(v) for v in node]
    return node


def text_size(node: Any) -> int:
    """Sum of every ``text`` string (Slack's cumulative msg_blocks_too_long measure)."""
    if isinstance(node, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else text_size(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return sum(text_size(v) for v in node)
    return 0


def validate_blocks(blocks: Any, *, text_cap: int) -> str | None:
    """None if Slack would accept the blocks; else the error code it would answer."""
    if not isinstance(blocks, list):
        return "invalid_blocks_format"
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    block_ids = set()
    for raw in blocks:
        if not isinstance(raw, dict):
            return "invalid_blocks"
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                return "invalid_blocks"  # unknown type
            round_trip = parsed.to_dict()
        except (SlackObjectFormationError, TypeError, KeyError, ValueError):
            return "invalid_blocks"
        if round_trip != _normalise(raw):
            return "invalid_blocks"  # an unknown or misspelled key was dropped
        if "block_id" in raw:
            if raw["block_id"] in block_ids:
                return "invalid_blocks"
            block_ids.add(raw["block_id"])
    if text_size(blocks) > text_cap:
        return "msg_blocks_too_long"
    return None

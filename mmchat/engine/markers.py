"""Chat-template control tokens in untrusted text are made plain text before templating.

The prompt is templated and then tokenized with the tokenizer's added tokens recognised, so a
document, an earlier message or a file name holding `<|im_start|>system` would become real
control tokens and open a turn of its own. Every added/special token string is broken with a
zero-width joiner after its first character: it still reads the same, but no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from mmchat.engine.base import ChatMessage

JOINER = "\u200d"


def marker_strings(tokenizer: Any) -> list[str]:
    """The text of every token the tokenizer matches before splitting words, longest first."""
    found: set[str] = set(getattr(tokenizer, "all_special_tokens", None) or ())
    added = getattr(tokenizer, "added_tokens_encoder", None) or {}
    found.update(added)
    return sorted((t for t in found if isinstance(t, str) and len(t) > 1), key=len, reverse=True)


def defuse(text: str, markers: Iterable[str]) -> str:
    """`text` with each marker broken by a zero-width joiner; repeated until none is left."""
    markers = tuple(markers)
    for _ in range(8):  # a break cannot form a new marker; the loop is only a safety net
        before = text
        for marker in markers:
            if marker in text:
                text = text.replace(marker, marker[0] + JOINER + marker[1:])
        if text == before:
            break
    return text


def defuse_messages(messages: Sequence[ChatMessage], markers: list[str]) -> list[ChatMessage]:
    """Every message's text as plain text: the template adds the only control tokens."""
    if not markers:
        return list(messages)
    return [replace(m, content=defuse(m.content, markers)) for m in messages]

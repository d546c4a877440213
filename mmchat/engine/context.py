"""Fit a conversation into a model's context window.

The system prompt and the newest message always stay; the oldest turns go first, and the caller
is told how many went so the person sees it. Tokens are counted by the caller's function (the
model's own tokenizer over the rendered chat template), so this module needs no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mmchat.engine.base import ChatMessage, EngineError

TokenCounter = Callable[[Sequence[ChatMessage]], int]


def fit_messages(
    messages: Sequence[ChatMessage], count_tokens: TokenCounter, budget: int
) -> tuple[list[ChatMessage], int]:
    """Return (messages that fit in `budget` tokens, number of messages dropped)."""
    if not messages:
        raise EngineError("nothing to answer: the request has no messages")
    system = [m for m in messages if m.role == "system"]
    history = [m for m in messages if m.role != "system"]
    # The question and, within a turn that calls tools, its calls and results after it.
    start = max((i for i, m in enumerate(history) if m.role == "user"), default=len(history) - 1)
    newest, older = history[start:], history[:start]
    if count_tokens(system + newest) > budget:
        raise EngineError(
            f"the message is too long for the model's context window ({budget} tokens "
            "left after the answer's room); shorten it or raise the model's context size"
        )
    # Binary search on how many of the oldest messages to drop: token counts are monotonic
    # in the number kept, and each count renders the whole template.
    low, high = 0, len(older)
    while low < high:
        mid = (low + high) // 2
        if count_tokens(system + older[mid:] + newest) <= budget:
            high = mid
        else:
            low = mid + 1
    dropped = low
    kept = older[dropped:]
    # Never start the kept history with an assistant reply to a question that was dropped.
    while kept and kept[0].role in ("assistant", "tool"):
        kept = kept[1:]
        dropped += 1
    return system + kept + newest, dropped

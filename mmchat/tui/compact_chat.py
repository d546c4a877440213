"""Compact the open chat: the model sums up its earlier messages (mmchat/compaction.py), the
note is stored as a marked summary, and later turns send it instead of those messages.

The model is asked in a thread (the engine is another process: the thread waits on its pipe);
the store is written on the UI thread afterwards, through the app's own connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmchat.compaction import (
    SUMMARY_TOKENS,
    UNDONE,
    summary_meta,
    summary_request,
    to_compact,
)
from mmchat.engine.base import Delta, Engine, Failed, Finished, GenerationRequest
from mmchat.store import Message, Store
from mmchat.text import strip_control

CHARS_PER_TOKEN = 3  # a cautious guess: the transcript to sum up must fit the window
TEMPLATE_TOKENS = 32  # the chat template's marks around a new message, generously


@dataclass
class Summary:
    text: str = ""
    error: str | None = None
    cancelled: bool = False


@dataclass
class Plan:
    """What compacting would do: the messages to sum up and the model's request."""

    messages: list[Message]
    request: GenerationRequest


def plan(store: Store, conversation_id: int, context_window: int) -> Plan | None:
    """None when there is nothing to compact (fewer messages than the last exchange)."""
    history = store.messages(conversation_id)
    messages = to_compact(history)
    if not messages:
        return None
    budget = max(1000, (context_window - SUMMARY_TOKENS - 200) * CHARS_PER_TOKEN)
    return Plan(messages, summary_request(history, messages, budget))


def would_overflow(
    last_prompt: int, last_answer: int, draft: str, window: int, answer_room: int
) -> bool:
    """Whether the next prompt (the last one, its answer and the draft) would likely leave
    messages out: then they are summed up before it is sent."""
    estimate = last_prompt + last_answer + len(draft) // CHARS_PER_TOKEN + TEMPLATE_TOKENS
    return estimate > window - answer_room


def ask(engine: Engine, request: GenerationRequest) -> Summary:
    """Blocking: run the request and gather the summary (in a thread worker)."""
    result = Summary()
    parts: list[str] = []
    for event in engine.stream(request):
        if isinstance(event, Delta):
            parts.append(event.text)
        elif isinstance(event, Failed):
            result.error = event.message
        elif isinstance(event, Finished):
            result.cancelled = event.reason == "cancelled"
    result.text = strip_control("".join(parts)).strip()
    return result


def save(store: Store, conversation_id: int, plan: Plan, text: str, model: str) -> Message:
    return store.add_message(
        conversation_id, "system", text, model=model, meta=summary_meta(plan.messages)
    )


def undo(store: Store, summary: Message) -> None:
    """Mark the summary undone: kept in the store, no longer sent nor shown."""
    current = store.message(summary.id)
    store.finish(
        current.id,
        content=current.content,
        status=current.status,
        error=current.error,
        meta={**current.meta, UNDONE: True},
    )

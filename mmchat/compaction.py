"""Compacting a long chat: the model sums up its earlier messages into one short note.

The note is stored as a system message marked in its meta (SUMMARY: the id of the newest
message it covers). Later turns send the note, in the system prompt, instead of the messages it
covers; those stay in the store and on screen. Undoing marks the note undone: the messages are
sent again (as far as the window holds them). Nothing here runs a model or imports Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmchat.engine.base import ChatMessage, GenerationRequest
from mmchat.store import Message

SUMMARY = "summary_of"  # meta of a summary: {"through": newest id covered, "count": messages}
UNDONE = "undone"  # meta of a summary the person undid: kept, no longer sent or shown
KEEP_RECENT = 2  # the last exchange stays word for word
MESSAGE_CHARS = 1500  # one long message is cut to this much in the text to sum up
SUMMARY_TOKENS = 160

SUMMARY_RULE = (
    "You write short summaries of conversations. Keep the facts, names, numbers, decisions "
    "and open questions that a later reply would need. Write only the summary, in a few "
    "sentences, with no preamble."
)
SUMMARY_HEADING = "Summary of the earlier conversation (its messages are no longer shown to you):"


def is_summary(message: Message) -> bool:
    return message.role == "system" and isinstance(message.meta.get(SUMMARY), dict)


def active_summary(history: Sequence[Message]) -> Message | None:
    """The newest summary not undone: the one later turns send."""
    for message in reversed(history):
        if is_summary(message) and not message.meta.get(UNDONE):
            return message
    return None


def covered_through(summary: Message | None) -> int:
    """The id of the newest message the summary covers (0: none)."""
    if summary is None:
        return 0
    through = summary.meta[SUMMARY].get("through")
    return through if isinstance(through, int) else 0


def is_covered(message: Message, summary: Message | None) -> bool:
    """True for a person's or model's message the active summary stands in for."""
    return message.role != "system" and message.id <= covered_through(summary)


def to_compact(history: Sequence[Message]) -> list[Message]:
    """The messages a new summary would cover: those after the active summary, but the last
    exchange (failed answers and empty ones are left out; they were never sent either)."""
    summary = active_summary(history)
    talk = [
        m
        for m in history
        if m.role != "system"
        and not is_covered(m, summary)
        and m.status != "failed"
        and (m.role == "user" or m.content.strip())
    ]
    return talk[:-KEEP_RECENT] if len(talk) > KEEP_RECENT else []


def summary_request(
    history: Sequence[Message], messages: Sequence[Message], budget_chars: int
) -> GenerationRequest:
    """Ask the model to sum up `messages`, folding in the summary they follow, if any."""
    lines = []
    if (previous := active_summary(history)) is not None:
        lines.append(f"Earlier summary: {previous.content.strip()}")
    for message in messages:
        who = "User" if message.role == "user" else "Assistant"
        text = " ".join(message.content.split())
        if len(text) > MESSAGE_CHARS:
            text = text[:MESSAGE_CHARS] + " …"
        lines.append(f"{who}: {text}")
    # The newest lines matter most when the whole does not fit: the oldest go first.
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > budget_chars:
        lines.pop(0)
    transcript = "\n".join(lines)
    # The instruction after the transcript: small models follow what they read last.
    prompt = (
        f"Conversation:\n\n{transcript}\n\n"
        "Summarise the conversation above in two or three short sentences."
    )
    return GenerationRequest(
        messages=[ChatMessage("system", SUMMARY_RULE), ChatMessage("user", prompt)],
        max_new_tokens=SUMMARY_TOKENS,
        temperature=0.0,
        repeat_penalty=1.2,  # greedy small models otherwise repeat the transcript's lines
    )


def summary_meta(messages: Sequence[Message]) -> dict[str, Any]:
    return {SUMMARY: {"through": messages[-1].id, "count": len(messages)}}


def summary_count(message: Message) -> int:
    count = message.meta.get(SUMMARY, {}).get("count")
    return count if isinstance(count, int) else 0


def system_note(summary: Message | None) -> str:
    """What the system prompt carries for the active summary ("" without one)."""
    if summary is None or not summary.content.strip():
        return ""
    return f"{SUMMARY_HEADING}\n{summary.content.strip()}"

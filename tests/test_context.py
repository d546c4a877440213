from __future__ import annotations

from collections.abc import Sequence

import pytest

from mmchat.engine.base import ChatMessage, EngineError
from mmchat.engine.context import fit_messages


def words(messages: Sequence[ChatMessage]) -> int:
    """A stand-in token count: one token a word plus a few for each message's template."""
    return sum(len(m.content.split()) + 3 for m in messages)


def conversation(turns: int) -> list[ChatMessage]:
    messages = [ChatMessage("system", "be brief")]
    for i in range(turns):
        messages.append(ChatMessage("user", f"question {i} " + "word " * 10))
        messages.append(ChatMessage("assistant", f"answer {i} " + "word " * 10))
    messages.append(ChatMessage("user", "the newest question"))
    return messages


def test_everything_fits_nothing_dropped() -> None:
    messages = conversation(2)
    kept, dropped = fit_messages(messages, words, budget=10_000)
    assert kept == messages and dropped == 0


def test_oldest_turns_go_first_system_and_newest_stay() -> None:
    messages = conversation(10)
    kept, dropped = fit_messages(messages, words, budget=80)
    assert kept[0].content == "be brief"
    assert kept[-1].content == "the newest question"
    assert words(kept) <= 80
    assert dropped > 0 and len(kept) == len(messages) - dropped
    assert kept[1].role == "user"  # never starts with an orphaned answer
    # the kept history is the newest contiguous part
    assert kept[1:] == messages[len(messages) - len(kept) + 1 :]


def test_newest_message_too_long_is_an_error_not_a_truncation() -> None:
    messages = [ChatMessage("system", "s"), ChatMessage("user", "word " * 500)]
    with pytest.raises(EngineError, match="too long"):
        fit_messages(messages, words, budget=100)

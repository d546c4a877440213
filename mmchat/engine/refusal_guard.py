"""An answer about a picture that opens by refusing is replaced by what the picture says.

Given a picture's text in its note, the 135M decoder sometimes answers a question it cannot
place as a chatbot without eyes would: "I'm sorry for any confusion", "as a text-based AI
assistant, I don't have the ability...". With the recognised text at hand, that is never the
right answer: the person gets the text instead, said to be only that. The answer's first words
are held back until they show whether it opens so (~6 tokens, tens of milliseconds), then
stream as before.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from mmchat.engine.base import Delta, Event, Finished

# How an answer that refuses begins, in the decoder's words.
_REFUSAL = re.compile(
    r"^\W*(?:i'?m (?:so |very )?sorry|i am (?:so |very )?sorry|sorry,|unfortunately,? (?:as|i)"
    r"|as an? (?:[\w-]+ ){0,3}(?:ai|chatbot|assistant|language model|bot)\b"
    r"|i (?:can't|cannot|can not|am unable to|'m unable to|don't have the ability to"
    r"|do not have the ability to) (?:see|view|look at|access|open|read|process)\b)",
    re.IGNORECASE,
)
WINDOW = 40  # characters of the answer read before it is let through


def refuses(answer: str) -> bool:
    """Whether an answer opens by refusing ("I'm sorry, ...", "As an AI, ...")."""
    return bool(_REFUSAL.search(answer))


def guard(
    events: Iterator[Event], *, prefix: str, fallback: str, started: float
) -> Iterator[Event]:
    """The events, but an answer that opens by refusing (after the given `prefix`) is cut and
    `fallback` is said instead; the rest pass as they came."""
    held: list[Event] = []
    written = ""
    for event in events:  # hold the opening back, up to the window or the answer's end
        held.append(event)
        if isinstance(event, Delta):
            written += event.text
            if len(written.removeprefix(prefix).strip()) < WINDOW:
                continue
        break
    if refuses(written.removeprefix(prefix)):
        close = getattr(events, "close", None)
        if close is not None:
            close()  # stops the decoder
        yield Delta(fallback)
        yield Finished("stop", 0, time.perf_counter() - started, None)
        return
    yield from held
    yield from events  # decided: the rest as it comes

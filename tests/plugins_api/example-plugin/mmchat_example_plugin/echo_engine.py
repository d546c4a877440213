"""A model backend with no model: `--model example:echo` streams a reply built from the request.

Deterministic, so it shows the engine protocol plainly: load() says what the model is, stream()
yields Started, Delta pieces and Finished, cancel() stops the answer at the next word.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

from mmchat.hooks import (
    Delta,
    EngineError,
    EngineOptions,
    Event,
    Finished,
    GenerationRequest,
    ModelInfo,
    ProgressCallback,
    Started,
)

# The first passage mmchat quoted at the start of the person's turn, inside
# <documents> ... </documents>: [1] source: ...\n"""\ntext\n"""
FIRST_PASSAGE = re.compile(r'^\[1\] source: [^\n]*\n"""\n(.*?)\n"""', re.MULTILINE | re.DOTALL)
VOICES = {"echo": "Echo", "parrot": "Squawk"}


class EchoEngine:
    def __init__(self, voice: str) -> None:
        self.voice = voice
        self._stop = threading.Event()

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        return ModelInfo(f"example:{self.voice}", "cpu", "none", 4096, vision=False)

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        self._stop.clear()
        started = time.monotonic()
        words = reply(self.voice, request).split(" ")[: request.max_new_tokens]
        yield Started(prompt_tokens=sum(len(m.content.split()) for m in request.messages))
        for i, word in enumerate(words):
            if self._stop.is_set():
                yield Finished("cancelled", i, time.monotonic() - started)
                return
            yield Delta(word if i == 0 else f" {word}")
        yield Finished("stop", len(words), time.monotonic() - started)

    def cancel(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass


def reply(voice: str, request: GenerationRequest) -> str:
    """What the person said, and the first passage they were given, if any."""
    turn = request.messages[-1].content
    documents, _, question = turn.rpartition("</documents>\n\n")
    text = f"{VOICES[voice]}: {question.strip()}"
    if match := FIRST_PASSAGE.search(documents):
        text += f" From [1]: {match.group(1)}"
    return text


def make_engine(rest: str, options: EngineOptions) -> EchoEngine:
    """Repeats your message and its first passage (example:echo, example:parrot)."""
    rest = rest or "echo"  # "example:" alone, as the TUI model picker offers it
    if rest not in VOICES:
        known = ", ".join(f"example:{v}" for v in VOICES)
        raise EngineError(f"no example engine {rest!r}; use {known}")
    return EchoEngine(rest)

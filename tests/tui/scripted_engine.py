"""A scripted engine for UI tests: the Engine protocol with canned answers, no model."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from mmchat.engine.base import (
    Delta,
    EngineError,
    Event,
    Failed,
    Finished,
    GenerationRequest,
    ModelInfo,
    Progress,
    ProgressCallback,
    Started,
)


class ScriptedEngine:
    """Answers with `answers` in turn (the last one repeats), one word a token."""

    def __init__(
        self,
        name: str = "scripted",
        *,
        answers: list[str] | None = None,
        token_delay: float = 0.002,
        vision: bool = False,
        fail_load: str = "",
        load_gate: threading.Event | None = None,
        fail_stream: str = "",
        dropped: int = 0,
    ) -> None:
        self.name = name
        self.answers = answers or ["Hello there, I am a scripted answer."]
        self.token_delay = token_delay
        self.vision = vision
        self.fail_load = fail_load
        self.load_gate = load_gate
        self.fail_stream = fail_stream  # fail after the first word, like a crashed process
        self.dropped = dropped  # reported as left out of every prompt, like a full window
        self.requests: list[GenerationRequest] = []
        self.closed = False
        self._cancel = threading.Event()

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        if progress is not None:
            progress(Progress("loading weights", 0.5))
        if self.load_gate is not None:
            while not self.load_gate.wait(0.02):
                if self.closed:
                    raise EngineError("the model process stopped unexpectedly")
        if self.fail_load:
            raise EngineError(self.fail_load)
        return ModelInfo(self.name, "cpu", "int8", 2048, self.vision)

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        self._cancel.clear()
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        words = answer.split(" ")
        start = time.monotonic()
        # A word a token, like the answers: the prompt grows with the conversation.
        prompt = sum(len(m.content.split()) for m in request.messages)
        yield Started(prompt_tokens=prompt, dropped_messages=self.dropped)
        for count, word in enumerate(words):
            if self._cancel.is_set():
                yield Finished("cancelled", count, time.monotonic() - start)
                return
            if self.fail_stream and count == 1:
                yield Failed(self.fail_stream)
                return
            time.sleep(self.token_delay)
            yield Delta(word if count == 0 else " " + word)
        yield Finished("stop", len(words), time.monotonic() - start, 0.001)

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.closed = True

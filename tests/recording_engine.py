"""A scripted engine that keeps every request it is sent, to check what the model would see.

Importable from every test folder (tests/ is on sys.path through its conftest.py), like
picture_sources.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from mmchat.engine.base import (
    Delta,
    Event,
    Finished,
    GenerationRequest,
    ModelInfo,
    ProgressCallback,
    Started,
)


class RecordingEngine:
    """Answers 'Noted.' and keeps every request, as any engine (a plugin's too) receives it."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        return ModelInfo("recording", "cpu", "none", 2048, False)

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        self.requests.append(request)
        yield Started(prompt_tokens=1)
        yield Delta("Noted.")
        yield Finished("stop", 1, 0.01)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass

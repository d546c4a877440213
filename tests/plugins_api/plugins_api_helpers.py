"""Helpers for the plugin API tests (imported by name: conftest.py modules share one name)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mmchat.engine.base import (
    Delta,
    Finished,
    GenerationRequest,
    ModelInfo,
    ProgressCallback,
    Started,
)

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
FakeDist = Callable[..., Path]


def mmchat(
    *args: str, plugins: str | None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a person would; `plugins` is MMCHAT_PLUGINS (None: every plugin)."""
    env = dict(os.environ)
    env.pop("MMCHAT_PLUGINS", None)
    if plugins is not None:
        env["MMCHAT_PLUGINS"] = plugins
    return subprocess.run(
        [*MMCHAT, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


class RecordingEngine:
    """Answers 'Noted.' and keeps every request, to check what the model would see."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        return ModelInfo("recording", "cpu", "none", 2048, False)

    def stream(self, request: GenerationRequest) -> Iterator[Any]:
        self.requests.append(request)
        yield Started(prompt_tokens=1)
        yield Delta("Noted.")
        yield Finished("stop", 1, 0.01)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass

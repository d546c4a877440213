"""The model the TUI talks to: which one, its state, and its engine process.

Blocking calls (`load`, `close`) run in Textual thread workers; the state fields are read by the
UI thread. The engine itself lives in another process (ProcessEngine), so nothing here holds
the GIL for long.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from mmchat.engine.base import Engine, ModelInfo, ProgressCallback

EngineFactory = Callable[[str], Engine]
State = Literal["idle", "loading", "ready", "failed"]


@dataclass
class ModelHost:
    factory: EngineFactory
    name: str = ""
    state: State = "idle"
    info: ModelInfo | None = None
    error: str = ""
    engine: Engine | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0  # bumps on every load/cancel so a stale load cannot win

    def begin(self, name: str) -> tuple[int, Engine | None]:
        """Mark a new load as started; returns its ticket and the engine to close, if any."""
        with self._lock:
            self._generation += 1
            old, self.engine = self.engine, None
            self.name, self.state, self.info, self.error = name, "loading", None, ""
            return self._generation, old

    def load(self, ticket: int, progress: ProgressCallback) -> ModelInfo:
        """Blocking: create the engine and load it (run in a thread worker)."""
        engine = self.factory(self.name)
        with self._lock:
            if ticket != self._generation:
                engine.close()
                raise LoadCancelled()
            self.engine = engine
        info = engine.load(progress)
        with self._lock:
            if ticket != self._generation:
                raise LoadCancelled()
            self.info, self.state = info, "ready"
        return info

    def failed(self, ticket: int, error: str) -> bool:
        with self._lock:
            if ticket != self._generation:
                return False
            self.state, self.error = "failed", error
            return True

    def cancel(self) -> Engine | None:
        """Abandon the current load; returns the engine to close (killing its process)."""
        with self._lock:
            self._generation += 1
            engine, self.engine = self.engine, None
            if self.state == "loading":
                self.state, self.error = "failed", "loading was cancelled"
            return engine

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.engine is not None


class LoadCancelled(Exception):
    """A newer load or a cancel replaced this one."""

"""Batch token deltas into a few UI updates a second.

Textual's Markdown falls behind near 20 appends a second, and one `call_from_thread` per token
blocks the reader of the engine's pipe, so the worker hands the UI one chunk per interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# 10 updates a second, the low end of the 10-20/s band Markdown keeps up with: each update
# re-lays out and repaints the screen, and on 2 cores that CPU comes out of decode speed
# (bench/tui.py measures decode with the UI against without; docs/PERFORMANCE.md).
DEFAULT_INTERVAL = 1 / 10


class Coalescer:
    """Collects text; `add` returns a chunk when the interval has passed since the last one."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._parts: list[str] = []
        self._last = clock()

    def add(self, text: str) -> str | None:
        self._parts.append(text)
        now = self._clock()
        if now - self._last < self.interval:
            return None
        self._last = now
        return self.flush()

    def flush(self) -> str | None:
        if not self._parts:
            return None
        chunk = "".join(self._parts)
        self._parts.clear()
        return chunk

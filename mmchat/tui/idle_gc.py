"""Full garbage collections when the person is not typing, never in the middle of their keys.

A full collection walks every tracked object: with a long chat open that is ~130k objects and
28-36 ms with the event loop held (the reading thread's allocations set one off while a
2,000-message chat opened, and the key typed then waited for it). Python's automatic full
collections are turned off; the younger generations still run as before, and a full one runs
from a timer once input has been quiet for a while.
"""

from __future__ import annotations

import gc
import time

QUIET_SECONDS = 3.0  # no key, click or paste for this long: a pause the person will not feel
EVERY_SECONDS = 30.0  # how often a full collection is considered


class IdleCollector:
    def __init__(self, quiet: float = QUIET_SECONDS) -> None:
        self.quiet = quiet
        self._last_input = time.monotonic()
        self._young, self._middle, self._full = gc.get_threshold()

    def start(self) -> None:
        """Take what is alive now out of the collector's view (it lives as long as the app)
        and leave full collections to `tick`."""
        gc.collect()
        gc.freeze()
        # The third threshold counts middle-generation collections; none reaches this.
        gc.set_threshold(self._young, self._middle, 1_000_000_000)

    def stop(self) -> None:
        """Python's own thresholds again, and what `start` froze back in the collector's view."""
        gc.set_threshold(self._young, self._middle, self._full)
        gc.unfreeze()

    def input_seen(self) -> None:
        self._last_input = time.monotonic()

    def tick(self) -> bool:
        """Run a full collection if input has been quiet; whether it ran."""
        if time.monotonic() - self._last_input < self.quiet:
            return False
        gc.collect()
        return True

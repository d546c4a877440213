"""A turn's figures: measured as its events arrive, saved in the answer's meta, shown dim under it.

First-token time is taken here, where the answer's first text arrives (what the person waits
for, the prompt's preparation and the model's prefill included); after a tool call it counts
from the call's result. Tokens/s is the engine's own decode rate. The picture figure is the
time until the engine started answering (it reads the pictures before that) and is kept only
when the conversation holds a picture. Memory is the resident set of the engine's model
process (the `mmchat.engine.worker` child), not the UI's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmchat.chat import ToolFinished
from mmchat.engine.base import Delta, Engine, Event, Finished, Started

PERF = "perf"  # the answer's meta key for its figures
DROPPED = "dropped_messages"  # the answer's meta key: earlier messages left out of its prompt


@dataclass
class TurnClock:
    """Times one turn from the moment it is sent."""

    sent: float
    started: float | None = None
    first_token: float | None = None
    prompt_tokens: int | None = None
    dropped: int = 0
    tokens_per_second: float | None = None

    @classmethod
    def start(cls) -> TurnClock:
        return cls(time.monotonic())

    def see(self, event: Event | object) -> None:
        now = time.monotonic()
        if isinstance(event, Started):
            self.started = self.started or now
            self.prompt_tokens, self.dropped = event.prompt_tokens, event.dropped_messages
        elif isinstance(event, Delta) and event.text and self.first_token is None:
            self.first_token = now
        elif isinstance(event, Finished):
            self.tokens_per_second = event.tokens_per_second or None
        elif isinstance(event, ToolFinished) and self.first_token is None:
            # The answer comes from the pass after the tool: a tool's run and the person's
            # time in its confirm dialog are not the model's wait.
            self.sent = now

    def figures(
        self, *, picture: bool, context_window: int | None, engine_rss: int | None
    ) -> dict[str, Any]:
        """The figures for the answer's meta; a figure not measured is left out."""
        figures: dict[str, Any] = {}
        if self.first_token is not None:
            figures["first_token_s"] = round(self.first_token - self.sent, 3)
        if self.tokens_per_second:
            # Unrounded: the status line formats the same figure, and must show the same digits.
            figures["tokens_per_s"] = self.tokens_per_second
        if picture and self.started is not None:
            figures["picture_s"] = round(self.started - self.sent, 3)
        if engine_rss:
            figures["engine_rss"] = engine_rss
        if self.prompt_tokens is not None:
            figures["prompt_tokens"] = self.prompt_tokens
        if context_window:
            figures["context_window"] = context_window
        return figures


def engine_rss(engine: Engine | None) -> int | None:
    """Resident memory in bytes of the engine's model process; None for an in-process engine
    or where /proc is not there to read (the figure is then left out)."""
    proc = getattr(engine, "proc", None)
    pid = getattr(proc, "pid", None)
    if not isinstance(pid, int):
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024  # reported in kB
    return None


def short_count(n: int) -> str:
    """1234 -> "1.2k", 8192 -> "8.2k", 950 -> "950"."""
    if n < 1000:
        return str(n)
    value = n / 1000
    return f"{value:.1f}k" if value < 100 else f"{value:.0f}k"


def window_size(n: int) -> str:
    """A context window as models name it: 8192 -> "8k", 2048 -> "2k", 3000 -> "3.0k"."""
    return f"{n // 1024}k" if n >= 1024 and n % 1024 == 0 else short_count(n)


def context_fill(prompt_tokens: int, window: int) -> str:
    """ "ctx 1.2k/8k 15%": the last prompt's share of the model's context window."""
    share = round(100 * prompt_tokens / window) if window > 0 else 0
    return f"ctx {short_count(prompt_tokens)}/{window_size(window)} {share}%"


def perf_line(meta: dict[str, Any]) -> str:
    """The dim line under an answer: "first token 0.42 s · 18.3 tok/s · …"; "" without figures."""
    perf = meta.get(PERF)
    if not isinstance(perf, dict):
        return ""
    parts: list[str] = []
    if isinstance(first := perf.get("first_token_s"), int | float):
        parts.append(f"first token {first:.2f} s")
    if isinstance(rate := perf.get("tokens_per_s"), int | float):
        parts.append(f"{rate:.1f} tok/s")
    if isinstance(picture := perf.get("picture_s"), int | float):
        parts.append(f"picture read {picture:.2f} s")
    if isinstance(rss := perf.get("engine_rss"), int) and rss > 0:
        parts.append(f"engine {rss / 2**20:,.0f} MB")
    prompt, window = perf.get("prompt_tokens"), perf.get("context_window")
    if isinstance(prompt, int) and isinstance(window, int) and window > 0:
        parts.append(context_fill(prompt, window))
    return " · ".join(parts)


def dropped_note(meta: dict[str, Any]) -> str:
    """The transcript's line when earlier messages were left out of this answer's prompt."""
    dropped = meta.get(DROPPED)
    if not isinstance(dropped, int) or dropped <= 0:
        return ""
    which = "earlier message no longer fits" if dropped == 1 else "earlier messages no longer fit"
    return f"{dropped} {which} the model's window: left out of this answer's prompt"

"""TUI speed: launch to first interactive screen, and responsiveness while an answer streams.

Prints figures (not a test). Uses the real model "smollm2" through ProcessEngine, headless:

    MMCHAT_HOME=/tmp/bench-tui MMCHAT_CACHE_DIR=/tmp/mmchat-shared-cache \
        .venv/bin/python bench/tui.py

Figures (targets in docs/PERFORMANCE.md):
- startup: process start -> first interactive frame, model loading in the background (<= 1.5 s),
  and whether torch/transformers were imported by the TUI process (they must not be);
- while a long answer streams at full speed, with a key typed every 20 ms and a 10 ms timer:
  worst key latency and worst gap between handled keys (no stall > 50 ms), timer lag p95/p99
  (<= 100 / 250 ms), and decode tok/s with the UI vs the same request without it (>= 80%).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mmchat.tui.coalesce import DEFAULT_INTERVAL

PROMPT = "Write a long story about a dragon who learns to bake bread."
MAX_TOKENS = 256
KEY_EVERY = 0.020
ROUNDS = 3
# UI updates while streaming (seconds between them); BENCH_TUI_INTERVAL tries other values.
INTERVAL = float(os.environ.get("BENCH_TUI_INTERVAL", DEFAULT_INTERVAL))
TIMER_EVERY = 0.010

STARTUP_CHILD = r"""
import sys, time, json
from pathlib import Path
t0 = float(sys.argv[1])
from mmchat.tui.app import run_tui, MMChatApp
import mmchat.tui.app as appmod

class Probe(MMChatApp):
    CSS_PATH = str(Path(appmod.__file__).with_name("app.tcss"))

    def on_ready(self) -> None:
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
        print(json.dumps({"ready_s": time.time() - t0, "heavy": heavy}), flush=True)
        self.exit()

appmod.MMChatApp = Probe
from textual.app import App
_run = App.run
App.run = lambda self, **kw: _run(self, headless=True, **kw)
run_tui(model="smollm2", persona=None, db=None, plugins=True)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def bench_startup(runs: int = 3) -> None:
    times: list[float] = []
    heavy: list[str] = []
    # A file, not -c: Textual resolves CSS_PATH relative to the class's source file.
    child = Path(tempfile.mkdtemp()) / "startup_probe.py"
    child.write_text(STARTUP_CHILD, encoding="utf-8")
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, str(child), str(t0)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
        if line is None:
            print("startup: failed:", out.stderr[-500:])
            return
        data = json.loads(line)
        times.append(data["ready_s"])
        heavy = data["heavy"]
    print(
        f"startup to first interactive frame: median {statistics.median(times):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}; target <= 1.5 s); "
        f"heavy modules in the TUI process: {heavy or 'none'}"
    )


def baseline_decode(engine) -> float:  # type: ignore[no-untyped-def]
    from mmchat.engine.base import ChatMessage, Finished, GenerationRequest

    request = GenerationRequest([ChatMessage("user", PROMPT)], max_new_tokens=MAX_TOKENS)
    rate = 0.0
    for event in engine.stream(request):
        if isinstance(event, Finished):
            rate = event.tokens_per_second
    return rate


class Preloaded:
    """The already loaded engine, so the UI run does not pay for a second load."""

    def __init__(self, engine, info) -> None:  # type: ignore[no-untyped-def]
        self.engine, self.info = engine, info

    def load(self, progress=None):  # type: ignore[no-untyped-def]
        return self.info

    def stream(self, request):  # type: ignore[no-untyped-def]
        return self.engine.stream(request)

    def cancel(self) -> None:
        self.engine.cancel()

    def close(self) -> None:
        pass


async def ui_run(engine, info, typing: bool) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from textual import events

    from mmchat.session import open_session
    from mmchat.tui.app import MMChatApp
    from mmchat.tui.events import AnswerStats
    from mmchat.tui.widgets.composer import Composer

    session = open_session(plugins=False)
    session.settings = session.settings.__class__(max_tokens=MAX_TOKENS)
    sent: dict[int, float] = {}
    handled: dict[int, float] = {}
    rates: list[float] = []

    def hook(message) -> None:  # type: ignore[no-untyped-def]
        if isinstance(message, events.Key) and id(message) in sent:
            handled[id(message)] = time.perf_counter()
        elif isinstance(message, AnswerStats):
            rates.append(message.tokens_per_second)

    app = MMChatApp(
        session,
        model="smollm2",
        engine_factory=lambda n: Preloaded(engine, info),
        stream_interval=INTERVAL,
    )
    lags: list[float] = []
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        while not app.host.ready:
            await pilot.pause(0.05)
        chat = app.get_screen("chat")
        composer = chat.query_one(Composer)
        composer.text = PROMPT
        composer.focus()
        await pilot.press("enter")
        while chat.runner is None:
            await pilot.pause(0.01)
        stop = threading.Event()

        def typist() -> None:  # a person typing the next message while the answer streams
            keys: list[events.Key] = []
            while not stop.is_set():
                key = events.Key("x", "x")
                keys.append(key)
                sent[id(key)] = time.perf_counter()
                composer.post_message(key)
                time.sleep(KEY_EVERY)

        thread = threading.Thread(target=typist, daemon=True)
        if typing:
            thread.start()
        while chat.runner is not None:
            due = time.perf_counter() + TIMER_EVERY
            await asyncio.sleep(TIMER_EVERY)
            lags.append(max(0.0, time.perf_counter() - due))
        stop.set()
        if typing:
            thread.join()
        await pilot.pause(0.2)
    session.close()
    latencies = [handled[k] - sent[k] for k in handled]
    times = sorted(handled.values())
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    if os.environ.get("BENCH_DEBUG"):
        start = times[0] if times else 0.0
        print(
            "gaps > 50 ms at",
            [
                (round(a - start, 2), round((b - a) * 1000))
                for a, b in zip(times, times[1:], strict=False)
                if b - a > 0.05
            ],
        )
    return {
        "keys": len(latencies),
        "key_latency_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "key_latency_p95_ms": percentile(latencies, 0.95) * 1000,
        "key_latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "key_gap_max_ms": max(gaps) * 1000 if gaps else float("nan"),
        "timer_lag_p95_ms": percentile(lags, 0.95) * 1000,
        "timer_lag_p99_ms": percentile(lags, 0.99) * 1000,
        "tok_s_ui": rates[-1] if rates else 0.0,
    }


def bench_streaming() -> None:
    from mmchat.config import engine_threads, load_settings
    from mmchat.session import make_engine

    engine = make_engine("smollm2", quant="auto", threads=engine_threads(load_settings()))
    bases: list[float] = []
    quiets: list[dict[str, float]] = []
    try:
        info = engine.load()
        baseline_decode(engine)  # warm-up
        # Alternate with and without the UI: on a shared machine the load drifts between runs.
        for _ in range(ROUNDS):
            bases.append(baseline_decode(engine))
            quiets.append(asyncio.run(ui_run(engine, info, typing=False)))
        typed = asyncio.run(ui_run(engine, info, typing=True))
    finally:
        engine.close()
    ratios = [q["tok_s_ui"] / b for q, b in zip(quiets, bases, strict=True) if b]
    ratio = statistics.median(ratios) if ratios else float("nan")
    base = statistics.median(bases)
    quiet = {
        key: statistics.median(q[key] for q in quiets)
        for key in ("tok_s_ui", "timer_lag_p95_ms", "timer_lag_p99_ms")
    }
    print(
        f"streaming, UI idle: timer lag p95 {quiet['timer_lag_p95_ms']:.1f} ms, "
        f"p99 {quiet['timer_lag_p99_ms']:.1f} ms (targets <= 100 / 250 ms)"
    )
    print(
        f"decode (median of {ROUNDS} alternating rounds): {base:.1f} tok/s without the UI, "
        f"{quiet['tok_s_ui']:.1f} tok/s with it; ratio {ratio:.0%} "
        f"(rounds: {', '.join(f'{r:.0%}' for r in ratios)}; target >= 80%); "
        f"engine threads {engine_threads(load_settings())}, "
        f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"streaming while typing ({typed['keys']:.0f} keys, one every {KEY_EVERY * 1000:.0f} ms "
        f"from a thread): key latency p95 {typed['key_latency_p95_ms']:.1f} ms, "
        f"p99 {typed['key_latency_p99_ms']:.1f} ms, max {typed['key_latency_max_ms']:.1f} ms "
        f"(target: no stall > 50 ms); worst gap between handled keys "
        f"{typed['key_gap_max_ms']:.1f} ms; timer lag p95 {typed['timer_lag_p95_ms']:.1f} ms, "
        f"p99 {typed['timer_lag_p99_ms']:.1f} ms; decode {typed['tok_s_ui']:.1f} tok/s"
    )


if __name__ == "__main__":
    os.environ.setdefault("MMCHAT_HOME", str(Path("/tmp/mmchat-bench-tui")))
    if "--streaming-only" not in sys.argv:
        bench_startup()
    print(f"UI updates while streaming: {1 / INTERVAL:.0f} a second")
    bench_streaming()

"""TUI speed: launch to first interactive screen, and responsiveness while an answer streams
and while the UI loads something big.

Prints figures (not a test). The streaming part uses the real model "smollm2" through
ProcessEngine; the others an engine that answers at once (the figures are the UI's). Headless:

    MMCHAT_HOME=/tmp/bench-tui MMCHAT_CACHE_DIR=/tmp/mmchat-shared-cache \
        .venv/bin/python bench/tui.py [--only startup|streaming|kb|photo|long] [--quick]

Figures (targets in docs/PERFORMANCE.md):
- startup: process start -> first interactive frame, model loading in the background (<= 1.5 s),
  and whether torch/transformers were imported by the TUI process (they must not be);
- while a long answer streams at full speed, with a key typed every 20 ms and a 10 ms timer:
  worst key latency and worst gap between handled keys (no stall > 50 ms), timer lag p95/p99
  (<= 100 / 250 ms), and decode tok/s with the UI vs the same request without it (>= 80%);
- while the UI loads something, with a key typed every 50 ms (posted to the app from a thread,
  as a terminal's input is) and a 10 ms Textual timer: key latency (posted -> handled by the
  focused widget) p50/p95/max, a 10 ms Textual timer's lateness p50/p95/max (<= 100 ms at
  p95) and the longest stall of the event loop (<= 50 ms): the longest gap in a 10 ms
  heartbeat of the loop's own `call_later` (the Textual timer skips the ticks it missed and
  waits for the next multiple of 10 ms, so its longest gap, printed beside, rounds a stall up
  by up to 20 ms), with where the loop and the other threads were during
  it (sampled every 5 ms once a stall passes 50 ms), and the longest event-loop callback in
  CPU time (what the stall would be on an idle machine: a shared machine's load stretches
  wall time far more than CPU time). (0) idle, the machine's own noise;
  (a) a turn of a persona whose knowledge base has 100k chunks (synthetic text and vectors,
  built once through the plugin's store, kept in MMCHAT_HOME), cold then warm, and the cold
  `mmchat kb search`; (b) a 12-megapixel JPEG attached with /attach until its chip shows a
  preview, then sent until the transcript shows it; (c) a 2,000-message conversation (seeded
  once through the store) opened until the loop settles, then PageUp x6 / Ctrl+End repeated.
  `--quick`: 10k chunks, 400 messages, shorter runs (for development).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from mmchat.tui.app import MMChatApp
import mmchat.tui.app as appmod
import mmchat.tui.launch as launch

class Probe(MMChatApp):
    CSS_PATH = str(Path(appmod.__file__).with_name("app.tcss"))

    def on_ready(self) -> None:
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
        print(json.dumps({"ready_s": time.time() - t0, "heavy": heavy}), flush=True)
        self.exit()

launch.MMChatApp = Probe
from textual.app import App
_run = App.run
App.run = lambda self, **kw: _run(self, headless=True, **kw)
launch.run_tui(model="smollm2", persona=None, db=None, plugins=True)
"""


def intervals(times: list[float]) -> list[float]:
    """The gaps between consecutive times."""
    return [b - a for a, b in zip(times, times[1:], strict=False)]


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
    gaps = intervals(times)
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


# -- responsiveness while the UI loads something: a KB search, a big photo, a long chat -------

LOAD_KEY_EVERY = 0.050  # a key every 50 ms while the load runs
STALL_TARGET_MS, LAG_P95_TARGET_MS = 50.0, 100.0
KB_QUESTION = "How do I reset the router's admin password after a firmware update?"
WORDS = (
    "router firmware password admin reset network cable port signal modem account invoice "
    "refund delivery order parcel battery screen charger warranty repair update install "
    "printer driver scanner wireless bluetooth pairing speaker volume camera lens backup "
    "restore cloud sync folder permission license subscription renewal discount coupon"
).split()


class InstantEngine:
    """Answers at once: the figures are the UI's, not a model's."""

    def load(self, progress=None):  # type: ignore[no-untyped-def]
        from mmchat.engine.base import ModelInfo

        return ModelInfo("instant", "cpu", "none", 4096, True)

    def stream(self, request):  # type: ignore[no-untyped-def]
        from mmchat.engine.base import Delta, Finished, Started

        yield Started(prompt_tokens=10)
        yield Delta("Noted.")
        yield Finished("stop", 1, 0.001, 0.001)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


_cpu_probe: Probe | None = None  # the probe whose loop callbacks are timed in CPU time


class Probe:
    """Key latency, a 10 ms Textual timer's lateness, and the event loop's longest stall, with
    the loop thread's stack sampled by a watchdog once a stall passes 50 ms."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.handled: dict[int, float] = {}  # the last dispatch: the focused widget's handling
        self.ticks: list[float] = []  # the Textual timer's
        self.beats: list[float] = []  # the loop's own heartbeat (stalls, unrounded)
        # Stall start (the last heartbeat before it) -> the loop's stacks sampled during it.
        self.stacks: dict[float, list[list[str]]] = {}
        self.loop_thread = threading.get_ident()  # made on the event loop's thread
        self.measuring = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The watchdog's own waits past 50 ms, with the other threads' innermost frames when
        # it got the GIL back (the likely holder: an import, a C call that keeps the GIL).
        self.starved: list[tuple[float, list[str]]] = []

        # Each event-loop callback's CPU time on the loop's thread: what a stall would be on an
        # idle machine (a shared machine's load stretches wall time, much less CPU time).
        self.cpu: list[float] = []
        self._count_cpu()

    def reset(self) -> None:
        self.sent, self.handled, self.ticks, self.stacks, self.starved = {}, {}, [], {}, []
        self.cpu, self.beats = [], []

    def _count_cpu(self) -> None:
        global _cpu_probe
        from asyncio import events as aio

        if _cpu_probe is None:  # patched once; the newest probe counts
            run = aio.Handle._run

            def timed(handle: Any) -> None:
                probe = _cpu_probe
                if probe is None or not probe.measuring:
                    return run(handle)
                if threading.get_ident() != probe.loop_thread:
                    return run(handle)
                start = time.thread_time()
                try:
                    return run(handle)
                finally:
                    probe.cpu.append(time.thread_time() - start)

            aio.Handle._run = timed  # type: ignore[method-assign]
        _cpu_probe = self

    def hook(self, message) -> None:  # type: ignore[no-untyped-def]
        if id(message) in self.sent:
            self.handled[id(message)] = time.perf_counter()

    def tick(self) -> None:
        if self.measuring:
            self.ticks.append(time.perf_counter())

    def _beat(self) -> None:
        if not self.measuring:
            return
        self.beats.append(time.perf_counter())
        asyncio.get_running_loop().call_later(TIMER_EVERY, self._beat)

    def start(self, app, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
        """Type `keys` (cycled) into the app from a thread, as a terminal's input would; called
        on the app's event loop."""
        from textual import events

        self.measuring = True
        self._stop.clear()
        self._beat()
        keep: list[object] = []  # the keys stay alive, so their ids stay theirs

        def typist() -> None:
            n = 0
            while not self._stop.is_set():
                name = keys[n % len(keys)]
                key = events.Key(name, name if len(name) == 1 else None)
                keep.append(key)
                self.sent[id(key)] = time.perf_counter()
                app.post_message(key)
                n += 1
                time.sleep(LOAD_KEY_EVERY)

        def watchdog() -> None:  # samples the loop's stack every 5 ms while it is stalled
            woke = time.perf_counter()
            while not self._stop.is_set():
                time.sleep(0.005)
                before, woke = woke, time.perf_counter()
                if woke - before > 0.05:  # this thread was kept off the GIL too: by whom?
                    mine = {self.loop_thread, *(t.ident for t in self._threads)}
                    others = [
                        " < ".join(inner_frames(f, 4))
                        for ident, f in sys._current_frames().items()
                        if ident not in mine and not idle_frame(f)
                    ]
                    self.starved.append((woke - before, others))
                last = self.beats[-1] if self.beats else None
                if last is None or time.perf_counter() - last < 0.05:
                    continue
                frames = sys._current_frames()
                stack = short_stack(frames.get(self.loop_thread))[-12:]
                # A thread that holds the GIL stalls the loop too: where the others were.
                mine = {self.loop_thread, *(t.ident for t in self._threads)}
                others = [
                    " < ".join(reversed(short_stack(f)[-3:]))
                    for ident, f in frames.items()
                    if ident not in mine and not idle_frame(f)
                ]
                stack += [f"other thread: {o}" for o in others]
                self.stacks.setdefault(last, []).append(stack)

        self._threads = [threading.Thread(target=t, daemon=True) for t in (typist, watchdog)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.measuring = False  # first: joining the threads is the bench's, not the app's
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def figures(self) -> dict[str, float]:
        latencies = [self.handled[k] - self.sent[k] for k in self.handled]
        gaps = intervals(self.ticks)
        lags = [max(0.0, g - TIMER_EVERY) for g in gaps]
        beats = intervals(self.beats)
        return {
            "keys": len(latencies),
            "keys_sent": len(self.sent),
            "key_p50": percentile(latencies, 0.5) * 1000,
            "key_p95": percentile(latencies, 0.95) * 1000,
            "key_max": max(latencies, default=float("nan")) * 1000,
            "lag_p50": percentile(lags, 0.5) * 1000,
            "lag_p95": percentile(lags, 0.95) * 1000,
            "lag_max": max(lags, default=float("nan")) * 1000,
            "stall": max(beats, default=float("nan")) * 1000,
            "timer_gap": max(gaps, default=float("nan")) * 1000,
            "cpu_max": max(self.cpu, default=float("nan")) * 1000,
            "cpu_over": sum(1 for c in self.cpu if c * 1000 > STALL_TARGET_MS),
        }

    def settled(self, quiet: float = 0.5) -> bool:
        """The loop has kept time for `quiet` seconds (the layout after a mount is done)."""
        now = time.perf_counter()
        recent = [t for t in self.beats if t > now - quiet]
        if len(recent) < 2 or self.beats[0] > now - quiet:
            return False
        gaps = intervals(recent)
        return max(gaps) < STALL_TARGET_MS / 1000 and now - recent[-1] < STALL_TARGET_MS / 1000

    def stall_stack(self) -> list[str]:
        """Where the loop was during its longest stall (if it passed 50 ms): the innermost
        frames sampled most often, then the first sample's stack."""
        gaps = list(zip(intervals(self.beats), self.beats, strict=False))  # (gap, its start)
        if not gaps:
            return []
        samples = self.stacks.get(max(gaps)[1], [])
        held = [
            f"the watchdog itself waited {wait * 1000:.0f} ms for the GIL; then: {o}"
            for wait, others in sorted(self.starved, reverse=True)[:1]
            for o in others or ["no other thread busy"]
        ]
        if not samples:  # the watchdog never ran: a thread held the GIL all through the stall
            return ["no sample of the loop (another thread held the GIL throughout)", *held]
        loop = [[f for f in s if not f.startswith("other")] for s in samples]
        tops = Counter(" < ".join(reversed(s[-3:])) for s in loop).most_common(3)
        others = Counter(f for s in samples for f in s if f.startswith("other"))
        return [
            *(f"{count}/{len(samples)} samples: loop in {top}" for top, count in tops),
            *(f"{count}/{len(samples)} samples: {o}" for o, count in others.most_common(4)),
            *held,
            "first sample's stack of the loop:",
            *loop[0],
        ]


def for_seconds(seconds: float) -> tuple[Callable[[], object], Callable[[], bool]]:
    """An action that does nothing and a test that is done `seconds` after it."""
    start: list[float] = []
    return (
        lambda: start.append(time.perf_counter()),
        lambda: bool(start) and time.perf_counter() - start[0] > seconds,
    )


def short_stack(frame: Any) -> list[str]:
    return [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)]


def inner_frames(frame: Any, count: int) -> list[str]:
    """The innermost `count` frames, walked by hand (cheap enough for every 5 ms)."""
    out: list[str] = []
    while frame is not None and len(out) < count:
        where = f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}"
        spec = frame.f_locals.get("spec") if "importlib" in frame.f_code.co_filename else None
        out.append(where + (f" ({spec.name})" if hasattr(spec, "name") else ""))
        frame = frame.f_back
    return out


def idle_frame(frame: Any) -> bool:
    """A thread waiting (a lock, a queue, select): not the one keeping the loop off the GIL."""
    return frame is not None and frame.f_code.co_name in (
        "wait", "_wait_for_tstate_lock", "select", "get", "_worker", "acquire", "sleep", "poll"
    )  # fmt: skip


async def measured(
    app: Any,
    probe: Probe,
    keys: list[str],
    action: Callable[[], object],
    done: Callable[[], bool],
    limit: float,
) -> float:
    """Run `action` on the app while typing, until `done()`; the seconds it took."""
    await asyncio.sleep(0.5)  # what the start left to do settles first
    started = time.perf_counter()
    action()  # posted before the first typed key, as a person's Enter would be
    probe.start(app, keys)
    while not done() and time.perf_counter() - started < limit:
        await asyncio.sleep(0.02)
    took = time.perf_counter() - started
    await asyncio.sleep(0.3)
    probe.stop()
    return took


def report(label: str, f: dict[str, float], took: float, stack: list[str]) -> None:
    ok = "ok" if f["stall"] <= STALL_TARGET_MS and f["lag_p95"] <= LAG_P95_TARGET_MS else "MISS"
    print(
        f"{label}: {took:.2f} s; keys {f['keys']:.0f}/{f['keys_sent']:.0f} handled, latency "
        f"p50 {f['key_p50']:.0f} / p95 {f['key_p95']:.0f} / max {f['key_max']:.0f} ms; "
        f"timer lag p50 {f['lag_p50']:.0f} / p95 {f['lag_p95']:.0f} / max {f['lag_max']:.0f} ms "
        f"(target p95 <= {LAG_P95_TARGET_MS:.0f}); longest stall {f['stall']:.0f} ms "
        f"(target <= {STALL_TARGET_MS:.0f}) [{ok}], the timer's longest gap "
        f"{f['timer_gap']:.0f} ms; longest loop callback in CPU time "
        f"{f['cpu_max']:.0f} ms ({f['cpu_over']:.0f} over {STALL_TARGET_MS:.0f}); {load_note()}"
    )
    if stack and f["stall"] > STALL_TARGET_MS:
        print("  the loop during the longest stall (innermost last):")
        for line in stack:
            print("    " + line)


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def app_for(session, persona: str | None = None):  # type: ignore[no-untyped-def]
    from mmchat.tui.app import MMChatApp

    return MMChatApp(
        session, model="instant", persona=persona, engine_factory=lambda n: InstantEngine()
    )


async def ready_app(pilot, app, probe: Probe):  # type: ignore[no-untyped-def]
    while not app.host.ready:
        await pilot.pause(0.05)
    app.set_interval(TIMER_EVERY, probe.tick)
    chat = app.get_screen("chat")
    return chat


async def idle_run(seconds: float) -> None:
    """The same figures with nothing loading: what this machine's load alone costs."""
    from mmchat.session import open_session

    session = open_session(plugins=False)
    probe = Probe()
    app = app_for(session)
    async with app.run_test(size=(120, 40), message_hook=probe.hook) as pilot:
        await ready_app(pilot, app, probe)
        took = await measured(app, probe, ["x"], *for_seconds(seconds), seconds + 5)
        report("(0) idle, typing only (the baseline)", probe.figures(), took, probe.stall_stack())
    session.close()


# (a) a knowledge-base search on a big base


def kb_base(chunks: int):  # type: ignore[no-untyped-def]
    """A base of `chunks` synthetic chunks (random words, random unit vectors), built once with
    the plugin's own store and kept in MMCHAT_HOME for later runs."""
    import numpy as np
    from mmchat_kb.chunking import Chunk
    from mmchat_kb.store import KnowledgeBase

    name = f"tuibench-{chunks}"
    if name in KnowledgeBase.names():
        kb = KnowledgeBase.open(name)
        if kb.counts()[1] == chunks:
            return kb
        kb.delete()
    started = time.perf_counter()
    kb = KnowledgeBase.create(name, "all-MiniLM-L6-v2")
    rng = np.random.default_rng(0)
    per_doc = 500
    for start in range(0, chunks, per_doc):
        count = min(per_doc, chunks - start)
        words = rng.integers(0, len(WORDS), (count, 60))
        texts = [" ".join(WORDS[w] for w in row) for row in words]
        vectors = rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        doc = f"/synthetic/manual-{start // per_doc}.md"
        kb.write_document(
            doc, str(start), 0, f"Manual {start // per_doc}",
            [Chunk(t, f"Section {i}", f"Section {i}") for i, t in enumerate(texts)],
            vectors,
        )  # fmt: skip
    print(f"built knowledge base {name} ({chunks} chunks) in {time.perf_counter() - started:.0f} s")
    return kb


def cold_cli_search(name: str) -> None:
    """`mmchat kb search` in a fresh process: what a person waits for at the command line."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "mmchat", "kb", "search", name, KB_QUESTION, "-k", "5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    took = time.perf_counter() - started
    status = "ok" if out.returncode == 0 else f"failed: {out.stderr.strip()[-200:]}"
    print(f"cold `mmchat kb search` ({name}): {took:.2f} s ({status}); {load_note()}")


def message_count(session, chat) -> int:  # type: ignore[no-untyped-def]
    """Messages stored in the open chat (polled while measuring: only the chat's own few)."""
    conv_id = chat.chat.state.conversation_id
    return 0 if conv_id is None else len(session.store.messages(conv_id))


def press(app, key: str) -> None:  # type: ignore[no-untyped-def]
    from textual import events

    app.post_message(events.Key(key, key if len(key) == 1 else None))


async def kb_run(name: str) -> None:
    from mmchat.personas import Persona
    from mmchat.session import open_session
    from mmchat.tui.widgets.composer import Composer

    session = open_session(plugins=True)
    session.personas.add(Persona("tuibench-kb", knowledge_bases=(name,), source="bench"))
    probe = Probe()
    app = app_for(session, persona="tuibench-kb")
    async with app.run_test(size=(120, 40), message_hook=probe.hook) as pilot:
        chat = await ready_app(pilot, app, probe)
        composer = chat.query_one(Composer)
        for label in ("cold: the first search of the process", "warm"):
            probe.reset()
            composer.text = KB_QUESTION
            composer.focus()
            before = message_count(session, chat)
            took = await measured(
                app,
                probe,
                ["x"],
                lambda: press(app, "enter"),
                lambda: chat.runner is None and message_count(session, chat) >= before + 2,  # noqa: B023
                180,
            )
            report(f"(a) KB search in a turn, {label}", probe.figures(), took, probe.stall_stack())
    session.close()


# (b) a 12-megapixel photo attached and previewed


def photo_file(folder: Path) -> Path:
    """A 12-megapixel JPEG like a camera's: gradients under noise (made once, kept)."""
    from PIL import Image

    path = folder / "tuibench-photo-12mp.jpg"
    if not path.exists():
        size = (4000, 3000)
        gradient = Image.linear_gradient("L").resize(size)
        noise = Image.effect_noise(size, 30)
        across = gradient.rotate(90).resize(size)
        Image.merge("RGB", (gradient, Image.blend(gradient, noise, 0.5), across)).save(
            path, quality=90
        )
    return path


async def photo_run(path: Path) -> None:
    from mmchat.session import open_session
    from mmchat.tui.widgets.attachments import ChipRow
    from mmchat.tui.widgets.chat_log import ChatLog
    from mmchat.tui.widgets.composer import Composer

    session = open_session(plugins=False)
    probe = Probe()
    app = app_for(session)
    async with app.run_test(size=(120, 40), message_hook=probe.hook) as pilot:
        chat = await ready_app(pilot, app, probe)
        composer = chat.query_one(Composer)
        chips = chat.query_one(ChipRow)
        composer.text = f'/attach "{path}"'
        composer.focus()
        took = await measured(
            app,
            probe,
            ["x"],
            lambda: press(app, "enter"),
            lambda: bool(chips.query(".chip-preview")),
            60,
        )
        report("(b) 12 Mpx photo attached (/attach: read, check, preview)", probe.figures(), took,
               probe.stall_stack())  # fmt: skip
        probe.reset()
        composer.text = "What is in this photo?"
        log = chat.query_one(ChatLog)
        took = await measured(
            app,
            probe,
            ["x"],
            lambda: press(app, "enter"),
            lambda: bool(log.query(".preview.halfblock")),
            60,
        )
        report("(b) the photo sent: stored, previewed in the transcript", probe.figures(), took,
               probe.stall_stack())  # fmt: skip
    session.close()


# (c) a 2,000-message conversation opened and scrolled


def long_conversation(messages: int, photo: Path) -> int:
    """A conversation of `messages` messages (Markdown, code, a photo every 100), seeded once
    through the real store and found again by its title in later runs."""
    from PIL import Image

    from mmchat.images import check_image_bytes
    from mmchat.session import open_session

    title = f"tuibench long {messages}"
    session = open_session(plugins=False)
    try:
        store = session.store
        found = [c for c in store.conversations() if c.title == title]
        if found and len(store.messages(found[0].id)) == messages:
            return found[0].id
        small = photo.with_name("tuibench-photo-1mp.jpg")
        Image.open(photo).resize((1200, 900)).save(small, quality=85)
        picture = check_image_bytes(small.read_bytes(), small.name)
        conv = store.create_conversation(title=title, model="instant")
        started = time.perf_counter()
        for n in range(messages):
            if n % 2 == 0:
                store.add_message(
                    conv.id, "user", f"Question {n}: how do I sort a list of dicts by a key?",
                    images=[picture] if n % 100 == 0 else (),
                )  # fmt: skip
            else:
                store.add_message(
                    conv.id,
                    "assistant",
                    f"Answer {n}. Use **sorted** with a key:\n\n```python\n"
                    "rows = sorted(rows, key=lambda r: r['name'])\n```\n\n"
                    + "- it is stable\n- `reverse=True` for descending\n"
                    * (1 + n % 3),
                )
        print(f"seeded {messages} messages in {time.perf_counter() - started:.0f} s")
        return conv.id
    finally:
        session.close()


async def long_run(conv_id: int, seconds: float) -> None:
    from mmchat.session import open_session
    from mmchat.tui.widgets.chat_log import ChatLog
    from mmchat.tui.widgets.message_box import MessageBox
    from mmchat.tui.widgets.open_chat import OpenChat

    session = open_session(plugins=False)
    probe = Probe()
    app = app_for(session)
    async with app.run_test(size=(120, 40), message_hook=probe.hook) as pilot:
        chat = await ready_app(pilot, app, probe)
        log = chat.query_one(ChatLog)
        open_chat = chat.query_one(OpenChat)
        took = await measured(
            app,
            probe,
            ["x"],
            lambda: open_chat.call_later(open_chat.open, conv_id),
            lambda: len(log.query(MessageBox)) > 1 and probe.settled(),
            60,
        )
        label = f"(c) {len(open_chat.mm.store.messages(conv_id)):,}-message conversation opened"
        report(f"{label} (until the loop settles)", probe.figures(), took, probe.stall_stack())
        probe.reset()
        keys = ["pageup"] * 6 + ["ctrl+end"]
        took = await measured(app, probe, keys, *for_seconds(seconds), seconds + 5)
        report("(c) then scrolled: PageUp x6, Ctrl+End, repeated", probe.figures(), took,
               probe.stall_stack())  # fmt: skip
    session.close()


def bench_loads(only: str | None, quick: bool) -> None:
    cache = Path(os.environ.get("BENCH_TUI_CACHE", "/tmp/mmchat-bench-tui-cache"))
    cache.mkdir(parents=True, exist_ok=True)
    if only in (None, "kb"):
        from mmchat_kb.store import KnowledgeBase

        chunks = 10_000 if quick else 100_000
        kb = kb_base(chunks)
        name = kb.name
        kb.close()
        print(f"(a) knowledge base {name}: {chunks} chunks; {load_note()}")
        cold_cli_search(name)
        asyncio.run(kb_run(name))
        del KnowledgeBase
    asyncio.run(idle_run(2.0 if quick else 4.0))
    photo = photo_file(cache)
    if only in (None, "photo"):
        asyncio.run(photo_run(photo))
    if only in (None, "long"):
        messages = 400 if quick else 2000
        conv_id = long_conversation(messages, photo)
        asyncio.run(long_run(conv_id, 2.0 if quick else 5.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=("startup", "streaming", "kb", "photo", "long"),
        help="run one part alone",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (10k chunks, 400 messages), one start"
    )
    parser.add_argument(
        "--streaming-only", action="store_true", help="the same as --only streaming"
    )
    args = parser.parse_args()
    only = "streaming" if args.streaming_only else args.only
    os.environ.setdefault("MMCHAT_HOME", str(Path("/tmp/mmchat-bench-tui")))
    print(f"bench/tui.py; {load_note()}")
    if only in (None, "startup"):
        bench_startup(1 if args.quick else 3)
    if only in (None, "streaming"):
        print(f"UI updates while streaming: {1 / INTERVAL:.0f} a second")
        bench_streaming()
    if only in (None, "kb", "photo", "long"):
        bench_loads(only, args.quick)


if __name__ == "__main__":
    main()

"""Benchmark: what seeing a picture costs the default model, in time and memory, in one run.

    MMCHAT_CACHE_DIR=... .venv/bin/python bench/vision_speed.py [--pictures 24] [--repeats 7]

- perception per picture (classifier, colours, shapes, OCR): wall and CPU seconds, median and
  max per module, on real photos (bench/photos.py), pictures of text (bench/textpics.py: scans,
  screenshots, signs, documents) and one phone-sized photo (4032x3024 JPEG);
- a follow-up's first token against text-only, the two interleaved so machine load hits both
  alike: the same conversation (a picture turn, its answer, a new message) with and without
  the picture, for a message not about the picture and for one about it (whose prompt also
  holds the picture's note: more tokens to read);
- RSS after each loading step and the peak.

CPU seconds (this process, all threads) move less with other work on the machine than wall
seconds; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from mmchat.engine.base import ChatMessage, Finished, GenerationRequest, open_picture  # noqa: E402
from mmchat.engine.hf import HFEngine  # noqa: E402
from mmchat.engine.registry import resolve  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mark(step: str) -> None:
    print(f"  {step:34s} RSS {rss_mb():6.0f} MB   peak {peak_mb():6.0f} MB", flush=True)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def pictures(limit: int) -> list[tuple[str, bytes]]:
    """(name, encoded bytes): photos and pictures of text, interleaved, and a phone photo."""
    from photos import photos
    from PIL import Image
    from textpics import generate

    try:
        real = [(path.name, path.read_bytes()) for path, _ in photos()]
    except Exception as exc:  # the bench goes on with the text pictures, and says so
        print(f"real photos unavailable: {exc}")
        real = []
    with tempfile.TemporaryDirectory() as folder:
        text = [(path.name, path.read_bytes()) for path, _ in generate(Path(folder))]
    mixed = [p for pair in zip(real, text, strict=False) for p in pair]
    mixed += real[len(text) :] + text[len(real) :]
    chosen = mixed[: max(0, limit - 1)]
    if real:
        big = Image.open(io.BytesIO(real[0][1])).convert("RGB").resize((4032, 3024))
        buffer = io.BytesIO()
        big.save(buffer, "JPEG", quality=90)
        chosen.append((f"phone-{real[0][0]}", buffer.getvalue()))
    return chosen


def perception_times(engine: HFEngine, chosen: list[tuple[str, bytes]]) -> None:
    from mmchat.images import open_image_bytes

    perception = engine.image_turns.perception  # the engine's own: one set of models
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: list[float] = []
    slowest: list[tuple[float, str]] = []
    for i, (name, blob) in enumerate(chosen):
        started, cpu_started = time.perf_counter(), time.process_time()
        picture = open_image_bytes(blob)
        words = perception.words(f"speed-{i}-{name}", picture)
        total = time.perf_counter() - started
        cpu.append(time.process_time() - cpu_started)
        for module, seconds in words.seconds.items():
            wall[module].append(seconds)
        wall["open"].append(total - sum(words.seconds.values()))
        wall["all"].append(total)
        slowest.append((total, f"{name} {picture.width}x{picture.height}"))
    print(f"\nperception, {len(chosen)} pictures (wall s; load {load()}):")
    print(f"  {'module':8s} {'median':>7s} {'max':>7s}")
    for module, values in wall.items():
        print(f"  {module:8s} {statistics.median(values):7.3f} {max(values):7.3f}")
    over = sum(t > 1.5 for t in wall["all"])
    print(f"  CPU s per picture: median {statistics.median(cpu):.3f}, max {max(cpu):.3f}")
    print(f"  pictures over 1.5 s wall: {over}/{len(chosen)}")
    print("  slowest:", ", ".join(f"{name} {t:.2f} s" for t, name in sorted(slowest)[-3:]))
    if perception.problems:
        print(f"  modules left out: {perception.problems}")


def first_token(engine: HFEngine, messages: list[ChatMessage]) -> tuple[float, float, int]:
    """(wall s, CPU s, prompt tokens) to the first token of the answer."""
    from mmchat.engine.base import Started

    request = GenerationRequest(messages=messages, max_new_tokens=1)
    cpu_started = time.process_time()
    first, tokens = None, 0
    for event in engine.stream(request):
        if isinstance(event, Started):
            tokens = event.prompt_tokens
        elif isinstance(event, Finished):
            first = event.first_token_seconds
    return first or 0.0, time.process_time() - cpu_started, tokens


def follow_ups(engine: HFEngine, blob: bytes, repeats: int) -> None:
    question = "What is in this picture?"
    answer = "".join(
        getattr(e, "text", "")
        for e in engine.stream(
            GenerationRequest(messages=[ChatMessage("user", question, [blob])], max_new_tokens=24)
        )
    )
    for message in ("Write a haiku about the sea.", "And what colour is it?"):
        shapes: dict[str, list[ChatMessage]] = {
            "follow-up": [
                ChatMessage("user", question, [blob]),
                ChatMessage("assistant", answer),
                ChatMessage("user", message),
            ],
            "text-only": [
                ChatMessage("user", question),
                ChatMessage("assistant", answer),
                ChatMessage("user", message),
            ],
        }
        times: dict[str, list[tuple[float, float, int]]] = {k: [] for k in shapes}
        for messages in shapes.values():  # once each, not counted: warm both paths
            first_token(engine, messages)
        way = "-"
        for _ in range(repeats):
            for name, messages in shapes.items():
                times[name].append(first_token(engine, messages))
                if name == "follow-up" and engine.last_plan is not None:
                    way = engine.last_plan.way
        (fw, fc, ft), (tw, tc, tt) = (
            tuple(statistics.median(x[i] for x in times[name]) for i in range(3))
            for name in ("follow-up", "text-only")
        )
        print(
            f"\n{message!r} after a picture turn (the turn's way: {way}), "
            f"{repeats} interleaved repeats, medians (load {load()}):"
        )
        print(f"  follow-up first token {fw:.3f} s wall, {fc:.3f} s CPU, {ft:.0f} prompt tokens")
        print(f"  text-only first token {tw:.3f} s wall, {tc:.3f} s CPU, {tt:.0f} prompt tokens")
        ratios = [f[0] / t[0] for f, t in zip(times["follow-up"], times["text-only"], strict=True)]
        print(
            f"  ratio follow-up / text-only: wall {fw / tw:.2f} (per pair median "
            f"{statistics.median(ratios):.2f}), CPU {fc / tc:.2f}"
        )


def stage_times(engine: HFEngine, blob: bytes, repeats: int) -> None:
    """Where a follow-up's extra time goes: each planning step, timed on its own."""
    import hashlib

    turns = engine.image_turns
    fusion = turns.fusion
    steps: dict[str, Callable[[], Any]] = {
        "relevance gate": lambda: fusion.relevance.probability(
            fusion.decoder, fusion.tokenizer, "Write a haiku about the sea.", turns.reader
        ),
        "sha256 of the blob": lambda: hashlib.sha256(blob).hexdigest(),
        "open the picture": lambda: open_picture(blob).load(),
        "whole plan (image message)": lambda: turns.plan(
            [ChatMessage("user", "And what colour is it?", [blob])]
        ),
    }
    print(f"\nplanning steps of a follow-up, {len(blob) / 1e6:.1f} MB picture (median wall s):")
    for name, step in steps.items():
        step()
        values = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            values.append(time.perf_counter() - started)
        print(f"  {name:28s} {statistics.median(values):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {load()} on {os.cpu_count()} CPUs")
    print("memory:")
    mark("start")
    engine = HFEngine(resolve("default"), threads=args.threads)
    started = time.perf_counter()
    engine.load()
    mark(f"default loaded ({time.perf_counter() - started:.1f} s)")
    first_token(engine, [ChatMessage("user", "Hello!")])
    mark("after a text turn")
    chosen = pictures(args.pictures)
    perception_times(engine, chosen)
    mark("after perception")
    phone = chosen[-1][1]
    stage_times(engine, phone, args.repeats)
    follow_ups(engine, phone, args.repeats)
    print()
    mark("end")


if __name__ == "__main__":
    main()

"""Benchmark: visual words through the fusion layers (memory tokens) vs in the prompt (a note).

    .venv/bin/python bench/word_memory.py [--photos 40] [--threads 2]

The same pictures, the same questions, both ways, through the engine (HFEngine, greedy) with
the way forced: "memory" (word_memory.py: labels, colours and text lines as tokens the cross
layers attend to, beside the patch tokens) and "words" (the same words as a note in the system
message). None of it was trained on: real photos (bench/photos.py), text pictures
(bench/textpics.py), and held-out prompts (bench/data/heldout_prompts.json) asked of the photos.
The table per question kind is what image_turn.MEMORY_KINDS is chosen by.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from keywords import passes  # noqa: E402
from seeing import Asker  # noqa: E402

from mmchat.engine.image_turn import question_kind  # noqa: E402

WAYS = ("memory", "words")
HELD_OUT_KINDS = ("object", "color", "describe")


class Tally:
    def __init__(self) -> None:
        self.right = {way: Counter[str]() for way in WAYS}
        self.total = Counter[str]()
        self.examples: list[str] = []

    def ask(self, asker: Asker, row: str, question: str, blob: bytes, grade: object) -> None:
        self.total[row] += 1
        answers = []
        for way in WAYS:
            answer, _ = asker.ask(question, blob, tokens=80, force=way)
            ok = bool(grade(answer))  # type: ignore[operator]
            self.right[way][row] += ok
            answers.append(f"{way}{'+' if ok else '-'} {answer[:70]!r}")
        if len(self.examples) < 14 and row.startswith(("name", "colour", "text")):
            self.examples.append(f"  {question!r}: " + " | ".join(answers))

    def print(self) -> None:
        print(f"\n{'question kind':34s} {'memory (fusion)':>16s} {'words (prompt)':>16s}   n")
        for row in self.total:
            n = self.total[row]
            cells = "".join(
                f" {self.right[w][row] / n:7.3f} ({self.right[w][row]:3d})" for w in WAYS
            )
            print(f"{row:34s}{cells}  {n:3d}")
        print("\nsome answers:", *self.examples, sep="\n")


def photo_rows(asker: Asker, tally: Tally, limit: int, held_out: dict[str, list[str]]) -> None:
    from photos import photos as fetch

    for n, (path, entry) in enumerate(fetch()[:limit]):
        blob = path.read_bytes()
        keywords = entry["keywords"]

        def named(answer: str, keywords: list[str] = keywords) -> bool:
            return passes(answer, keywords)

        tally.ask(asker, "name: What is in this picture?", "What is in this picture?", blob, named)
        if entry["kind"] in ("animal", "vehicle"):
            question = f"What {entry['kind']} is this?"
            tally.ask(asker, f"name: {question}", question, blob, named)
        if entry.get("colors"):
            colours = entry["colors"]
            question = f"What colour is the {entry['name']}?"
            tally.ask(
                asker,
                "colour: What colour is the <name>?",
                question,
                blob,
                lambda a, c=colours: passes(a, c),
            )
        tally.ask(
            asker,
            "describe: Describe this image.",
            "Describe this image.",
            blob,
            lambda a: named(a) and len(a.split()) >= 6,
        )
        for kind in HELD_OUT_KINDS:  # one held-out prompt of each kind per photo, in turn
            prompts = held_out[kind]
            question = prompts[n % len(prompts)]
            if kind == "color":
                if not entry.get("colors"):
                    continue
                grade = lambda a, c=entry["colors"]: passes(a, c)  # noqa: E731
            else:
                grade = named
            tally.ask(asker, f"held-out prompts: {kind}", question, blob, grade)


def text_rows(asker: Asker, tally: Tally) -> None:
    from textpics import generate

    with tempfile.TemporaryDirectory() as folder:
        for path, record in generate(Path(folder)):
            blob = path.read_bytes()
            for q in record["questions"]:
                if question_kind(q["q"]) != "text":
                    continue
                row = "text: What is the title?" if "title" in q["q"] else "text: what does it say"
                need = q.get("need", 1)
                tally.ask(
                    asker, row, q["q"], blob, lambda a, k=q["keywords"], m=need: passes(a, k, m)
                )


def held_out_prompts() -> dict[str, list[str]]:
    data = json.loads((Path(__file__).parent / "data" / "heldout_prompts.json").read_text())
    by_kind: dict[str, list[str]] = {k: [] for k in HELD_OUT_KINDS}
    for prompt in data["about_image"]:
        kind = question_kind(prompt)
        specific = any(w in prompt.lower() for w in ("dog", "car", "bird", "cat", "fox", "plant"))
        if kind in by_kind and not specific:  # prompts naming a thing fit only some photos
            by_kind[kind].append(prompt)
    return by_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="real photos")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--model", default="default", help="a fusion folder with a word projector (training's out)"
    )
    args = parser.parse_args()
    asker = Asker(args.threads, args.model)
    if asker.engine.fusion.words is None:
        raise SystemExit(f"{args.model} has no word projector (word_memory.safetensors)")
    tally = Tally()
    photo_rows(asker, tally, args.photos, held_out_prompts())
    text_rows(asker, tally)
    tally.print()


if __name__ == "__main__":
    main()

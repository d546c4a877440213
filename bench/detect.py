"""Benchmark: naming and counting on real photos, and the object detector's time.

    .venv/bin/python bench/detect.py [--photos 80] [--threads 2] [--no-engine]

- the detector alone (COCO-SSD, mmchat/engine/vision/detect.py) on every photo: seconds per
  photo, wall and CPU time (median and max, the first excluded; on a busy machine the CPU
  time says what a free core would take), and what it finds on darknet's photos;
- through the default model, as `mmchat ask` runs it: "What is in this picture?" graded by
  the photo's keywords (bench/photos.py's set), by source; the photos' own questions; and
  "How many <things> are there?" on the photos whose counts are known (COUNTS below).

Run it on an older checkout (PYTHONPATH=that/checkout, from outside this folder) for a
before/after comparison: without a detector, the detector section says so and the rest runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from keywords import passes  # noqa: E402
from photos import photos as fetch_photos  # noqa: E402

# (photo id, question, accepted answers): counted by a person looking at the photo.
COUNTS = (
    ("darknet/giraffe", "How many animals are there?", ["2", "two"]),
    ("darknet/giraffe", "How many giraffes are there?", ["1", "one", "a giraffe"]),
    ("darknet/giraffe", "How many zebras are there?", ["1", "one", "a zebra"]),
    ("darknet/horses", "How many horses are there?", ["5", "five"]),
    ("darknet/person", "How many people are there?", ["1", "one", "a person"]),
    ("darknet/person", "How many dogs are there?", ["1", "one", "a dog"]),
    ("darknet/person", "How many animals are there?", ["2", "two"]),
    ("darknet/dog", "How many dogs are there?", ["1", "one", "a dog"]),
    ("darknet/dog", "How many bicycles are there?", ["1", "one", "a bicycle"]),
    ("darknet/eagle", "How many birds are there?", ["1", "one", "a bird"]),
)
PRESENCE = (
    ("darknet/dog", "Is there a dog in the picture?", "yes"),
    ("darknet/dog", "Is there a bicycle in the picture?", "yes"),
    ("darknet/dog", "Is there a horse in the picture?", "no"),
    ("darknet/horses", "Are there any horses?", "yes"),
    ("darknet/horses", "Is there a person in the picture?", "no"),
    ("darknet/person", "Is there a horse in the picture?", "yes"),
    ("darknet/giraffe", "Is there a zebra?", "yes"),
    ("darknet/giraffe", "Is there a car?", "no"),
)


def detector_section(pairs: list[tuple[Path, dict]]) -> None:
    from PIL import Image

    try:
        from mmchat.engine.vision.detect import Detector

        detector = Detector()
        detector.load()
    except Exception as exc:  # an older checkout, or the model not installed
        print(f"detector: unavailable ({type(exc).__name__}: {exc})")
        return
    seconds: list[float] = []
    cpu: list[float] = []  # CPU time: what the wall time would be on a core of its own
    for path, entry in pairs:
        with Image.open(path) as picture:
            picture.load()
            started, used = time.perf_counter(), time.process_time()
            found = detector.detect(picture)
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
        if entry["source"] == "darknet":
            named = ", ".join(f"{d.name} {d.score:.2f}" for d in found if d.score >= 0.5)
            print(f"  {entry['id']:18s} {named or '(nothing at 0.5 or above)'}")
    rest, rest_cpu = seconds[1:] or seconds, cpu[1:] or cpu
    print(
        f"detector: {len(seconds)} photos, {statistics.median(rest):.3f} s median, "
        f"{max(rest):.3f} s max a photo (CPU time {statistics.median(rest_cpu):.3f} / "
        f"{max(rest_cpu):.3f} s)"
    )


def engine_section(pairs: list[tuple[Path, dict]], threads: int) -> None:
    from seeing import Asker

    asker = Asker(threads)
    by_id = {entry["id"]: path for path, entry in pairs}
    named, by_source = 0, defaultdict(lambda: [0, 0])
    own_right = own_total = 0
    misses: list[str] = []
    for path, entry in pairs:
        blob = path.read_bytes()
        answer, _ = asker.ask("What is in this picture?", blob)
        ok = passes(answer, entry["keywords"])
        named += ok
        by_source[entry["source"]][0] += ok
        by_source[entry["source"]][1] += 1
        if not ok and len(misses) < 12:
            misses.append(f"    {entry['id']}: {answer!r}")
        for extra in entry.get("questions", []):
            answer, _ = asker.ask(extra["q"], blob)
            own_total += 1
            own_right += passes(answer, extra["keywords"], extra.get("need", 1))
    n = len(pairs)
    print(f"\n'What is in this picture?' names the main thing: {named / n:.3f} ({named}/{n})")
    for source, (ok, count) in sorted(by_source.items()):
        print(f"  {source:10s} {ok}/{count}")
    print("  misses:", *misses, sep="\n")
    print(
        f"the photos' own questions: {own_right / max(own_total, 1):.3f} ({own_right}/{own_total})"
    )
    for title, rows in (("counting", COUNTS), ("is there ...?", PRESENCE)):
        right = total = 0
        for photo, question, expected in rows:
            if photo not in by_id:
                continue
            answer, _ = asker.ask(question, by_id[photo].read_bytes())
            accepted = expected if isinstance(expected, list) else [expected]
            ok = passes(answer, accepted)
            right += ok
            total += 1
            print(f"  {'ok ' if ok else 'BAD'} {photo:16s} {question!r} -> {answer!r}")
        print(f"{title}: {right}/{total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=80, help="real photos (bench/photos.py)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-engine", action="store_true", help="the detector only")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    pairs = fetch_photos()[: args.photos]
    detector_section(pairs)
    if not args.no_engine:
        engine_section(pairs, args.threads)


if __name__ == "__main__":
    main()

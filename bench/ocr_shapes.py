"""Benchmark: per-picture time of text reading and shape finding, and the memory OCR adds.

    .venv/bin/python bench/ocr_shapes.py [--repeat N] [--threads T] [--shapes N]

Text: the rendered page (A4 at 150 dpi), the same page as a noisy 300 dpi scan, a screenshot,
rotated and inverted text; best and median of N reads after one warm-up. Shapes: generated
test pictures (64-512 px) and easy-vqa's 64 px test images. Peak RSS is the process's high-water
mark, reset before the OCR models load, and after all reads (torch is imported only afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import time

from PIL import Image

from mmchat.engine.vision.ocr import THREADS, TextReader
from mmchat.engine.vision.shapes import find_shapes
from mmchat.training import shapes as generator
from mmchat.training.text_pictures import PICTURES


def peak_rss_mb(reset: bool = False) -> float:
    """The process's peak RSS (Linux VmHWM); `reset` first lowers the mark to the current RSS."""
    if reset:  # so the pictures rendered above (a 300 dpi scan) do not count
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def timed(action, repeat: int) -> tuple[float, float]:
    action()  # warm-up: first-run allocations are not the steady cost
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def bench_text(repeat: int, threads: int) -> None:
    pictures = {name: make() for name, make in PICTURES.items()}
    before = peak_rss_mb(reset=True)
    reader = TextReader(threads=threads)
    start = time.perf_counter()
    reader.load()
    print(f"OCR load (sha256 checks + 2 sessions): {time.perf_counter() - start:.2f} s")
    for name, (image, _) in pictures.items():
        best, median = timed(lambda image=image: reader.read(image), repeat)
        size = "x".join(map(str, image.size))
        print(f"  {name:<14} {size:>10}  best {best:.2f} s  median {median:.2f} s")
    after = peak_rss_mb()
    print(f"peak RSS {before:.0f} MB before OCR, {after:.0f} MB after (+{after - before:.0f})")


def bench_shapes(count: int) -> None:
    from mmchat.training.easy_vqa import image_path  # imports torch: after the OCR memory figure

    generated = [generator.render(seed)[0] for seed in generator.TEST_SEEDS[:count]]
    easy = [Image.open(image_path("test", n)).convert("RGB") for n in range(count)]
    for name, images in (("generated", generated), ("easy-vqa", easy)):
        start = time.perf_counter()
        for image in images:
            find_shapes(image)
        each = (time.perf_counter() - start) / len(images) * 1000
        print(f"shapes, {name:<9}: {each:.1f} ms per picture over {len(images)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=THREADS, help="intra-op threads per session")
    parser.add_argument("--shapes", type=int, default=200, help="pictures per shape source")
    args = parser.parse_args()
    bench_text(args.repeat, args.threads)
    bench_shapes(args.shapes)


if __name__ == "__main__":
    main()

"""Drawing helpers the held-out text-picture sets share: colours, text set in a face, and a
photographed look (a perspective warp onto four corners, uneven light, glare, grain, JPEG).

Each set's script (bench/textpics_heldout2.py, 3, 4) draws its own kinds and texts; these are
only the tools, moved here unchanged, so every set draws the same pixels as before.
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

Record = dict[str, Any]
RGB = tuple[int, int, int]
Point = tuple[float, float]
Font = ImageFont.FreeTypeFont


def colour(value: Sequence[int]) -> RGB:
    return (int(value[0]), int(value[1]), int(value[2]))


def rgba(value: Sequence[int], alpha: int = 255) -> tuple[int, int, int, int]:
    return (int(value[0]), int(value[1]), int(value[2]), alpha)


def shade(value: Sequence[int], factor: float) -> RGB:
    return colour([max(0, min(255, round(c * factor))) for c in value[:3]])


def mix(a: Sequence[int], b: Sequence[int], t: float) -> RGB:
    return colour([round(x + (y - x) * t) for x, y in zip(a[:3], b[:3], strict=True)])


def width_of(text: str, font: Font, spacing: float = 0.0) -> float:
    """Advance width of `text`, with `spacing` extra pixels between letters."""
    if not spacing:
        return font.getlength(text)
    return sum(font.getlength(c) for c in text) + spacing * max(0, len(text) - 1)


def put(
    draw: ImageDraw.ImageDraw,
    xy: Point,
    text: str,
    font: Font,
    fill: Any,
    spacing: float = 0.0,
    align: str = "left",
    stroke: int = 0,
) -> float:
    """Draw `text` on the baseline at y, starting at (left), centred on (centre) or ending at
    (right) x, letter-spaced by `spacing` pixels, its strokes `stroke` pixels bolder; returns
    its width."""
    x, y = xy
    wide = width_of(text, font, spacing)
    if align == "centre":
        x -= wide / 2
    elif align == "right":
        x -= wide
    if not spacing:
        draw.text((x, y), text, font=font, fill=fill, anchor="ls", stroke_width=stroke)
        return wide
    for char in text:
        draw.text((x, y), char, font=font, fill=fill, anchor="ls", stroke_width=stroke)
        x += font.getlength(char) + spacing
    return wide


def wrap(text: str, font: Font, width: float, indent: float = 0.0) -> list[str]:
    """Break `text` word by word into lines no wider than `width` (the first less `indent`)."""
    lines: list[str] = []
    current: list[str] = []
    room = width - indent
    for word in text.split():
        if current and font.getlength(" ".join([*current, word])) > room:
            lines.append(" ".join(current))
            current, room = [word], width
        else:
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def cells(line: str, gap: str = "  ") -> list[str]:
    """A line's fields, separated in the spec by two (or `gap`) spaces."""
    return [part.strip() for part in line.split(gap) if part.strip()]


def solve(matrix: list[list[float]], values: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting, for the 8x8 perspective system."""
    n = len(values)
    rows = [[*row, value] for row, value in zip(matrix, values, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda i: abs(rows[i][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for i in range(n):
            if i != col and rows[i][col]:
                factor = rows[i][col] / rows[col][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def perspective(size: tuple[int, int], corners: Sequence[Sequence[float]]) -> list[float]:
    """PERSPECTIVE coefficients taking a picture of `size` onto `corners` (TL, TR, BR, BL)."""
    w, h = size
    source = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    matrix: list[list[float]] = []
    values: list[float] = []
    for (x, y), (u, v) in zip(corners, source, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        values.append(u)
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.append(v)
    return solve(matrix, values)


def place(
    scene: Image.Image,
    layer: Image.Image,
    corners: Sequence[Sequence[float]],
    shadow: int = 0,
    darkness: int = 0,
) -> Image.Image:
    """Warp the RGBA `layer` onto `corners` of `scene`, with a soft shadow `shadow` px away."""
    coefficients = perspective(layer.size, corners)
    warped = (
        layer.convert("RGBa")
        .transform(
            scene.size,
            Image.Transform.PERSPECTIVE,
            coefficients,
            resample=Image.Resampling.BICUBIC,
        )
        .convert("RGBA")
    )
    base = scene.convert("RGBA")
    if shadow:
        alpha = warped.getchannel("A").filter(ImageFilter.GaussianBlur(shadow))
        dark = Image.new("RGBA", scene.size, (0, 0, 0, 0))
        dark.putalpha(alpha.point(lambda a: a * darkness // 255))
        base = Image.alpha_composite(base, ImageChops.offset(dark, shadow, shadow))
    return Image.alpha_composite(base, warped).convert("RGB")


def grain(picture: Image.Image, rng: random.Random, amount: int, cell: int = 1) -> Image.Image:
    """Add zero-mean grey noise of about +-`amount`, drawn at 1/`cell` resolution."""
    picture = picture.convert("RGB")
    small = (max(1, picture.width // cell), max(1, picture.height // cell))
    noise = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    if cell > 1:
        noise = noise.resize(picture.size, Image.Resampling.BILINEAR)
    noise = noise.point(lambda v: 128 + (v - 128) * amount // 128)
    return ImageChops.add(picture, Image.merge("RGB", (noise, noise, noise)), 1.0, -128)


def falloff(v: int) -> int:
    """Radial-gradient value (distance; 181 at the edge's middle) to a smooth 255..0 fall."""
    s = max(0.0, 1.0 - v / 181)
    return round(255 * s * s * (3 - 2 * s))


def spot(size: tuple[int, int], centre: Point, radius: float) -> Image.Image:
    """An L mask, 255 at `centre` falling smoothly to 0 at `radius` and beyond."""
    diameter = max(2, int(radius * 2))
    blob = Image.radial_gradient("L").resize((diameter, diameter), Image.Resampling.BILINEAR)
    blob = blob.point(falloff)  # the gradient is 181 at the square's edge, 255 in its corners
    mask = Image.new("L", size, 0)
    mask.paste(blob, (int(centre[0] - radius), int(centre[1] - radius)))
    return mask


def light(picture: Image.Image, centre: Point, radius: float, floor: float) -> Image.Image:
    """Uneven light: full brightness at `centre`, down to `floor` (0..1) at `radius`."""
    mask = spot(picture.size, centre, radius)
    level = mask.point(lambda v: int(255 * floor + v * (1 - floor)))
    return ImageChops.multiply(picture.convert("RGB"), Image.merge("RGB", (level,) * 3))


def finish(picture: Image.Image, rng: random.Random, record: Record, noise: int) -> Image.Image:
    """The camera: sensor grain, then the record's blur."""
    picture = grain(picture, rng, noise)
    return picture.filter(ImageFilter.GaussianBlur(record["render"]["blur"]))


def textured(size: tuple[int, int], base: RGB, rng: random.Random, amount: int) -> Image.Image:
    """A flat surface with soft mottling."""
    surface = Image.new("RGB", size, base)
    return grain(surface, rng, amount, cell=4).filter(ImageFilter.GaussianBlur(1.5))


def with_alpha(picture: Image.Image, alpha: Image.Image) -> Image.Image:
    """`picture`'s colours with the given alpha channel."""
    return Image.merge("RGBA", (*picture.convert("RGB").split(), alpha))


def wood(size: tuple[int, int], base: RGB, rng: random.Random, plank: int) -> Image.Image:
    """Planks of `plank` px running across, each its own tone, with wavy grain lines."""
    width, height = size
    surface = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(surface)
    for top in range(0, height, plank):
        tone = shade(base, rng.uniform(0.88, 1.1))
        draw.rectangle((0, top, width, top + plank), fill=tone)
        for _ in range(plank // 5):
            y = top + rng.uniform(4, plank - 4)
            phase, amp = rng.uniform(0, 6.3), rng.uniform(1, 4)
            points = [(x, y + amp * math.sin(x / 90 + phase)) for x in range(0, width + 30, 30)]
            draw.line(points, fill=shade(tone, rng.uniform(0.72, 0.9)), width=rng.choice((1, 2, 3)))
        draw.line((0, top, width, top), fill=shade(base, 0.55), width=3)
    return grain(surface, rng, 14, cell=2).filter(ImageFilter.GaussianBlur(1.2))


def draw_all(
    folder: Path,
    records: list[Record],
    draw: dict[str, Callable[[Record], Image.Image]],
    photo_like: set[str],
) -> Iterator[tuple[Path, Record]]:
    """Draw each record's picture into `folder`, yielding (path, record) in order: JPEG for
    the photographed kinds, PNG for screens and scans."""
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        kind = record["kind"]
        picture = draw[kind](record).convert("RGB")
        if kind in photo_like:
            path = folder / f"{record['id']}.jpg"
            picture.save(path, quality=record["render"].get("quality", 80))
        else:
            path = folder / f"{record['id']}.png"
            picture.save(path)
        yield path, record


def draw_from_command_line(
    doc: str | None, name: str, generate: Callable[[Path], Iterator[tuple[Path, Record]]]
) -> None:
    """A set script's main(): draw the set into --out and list what was drawn."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / name)
    args = parser.parse_args()
    for path, record in generate(args.out):
        with Image.open(path) as drawn:
            size = f"{drawn.width}x{drawn.height}"
        print(f"{record['kind']:14} {size:>9}  {path}  title: {record['title']!r}")

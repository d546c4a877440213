"""Pictures of drawn shapes from a renderer unlike easy-vqa's, with their truth and questions.

easy-vqa draws one shape in one exact colour on a pale background, 64 px. Here each colour name
spans a range of shades, backgrounds are white, grey, coloured, gradients or noise, shapes are
rotated, filled or outlined, from small to large, one to four per picture, 64-512 px, saved as
JPEG at quality 40-95. A seed fixes everything, so a picture can be rebuilt from its number;
TRAIN_SEEDS and TEST_SEEDS never overlap.
"""

from __future__ import annotations

import colorsys
import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from mmchat.engine.vision.words import Shape

TRAIN_SEEDS = range(0, 1_000_000)
TEST_SEEDS = range(1_000_000, 1_100_000)
SHAPES = ("circle", "rectangle", "triangle")
SUPERSAMPLE = 4  # draw large and shrink: anti-aliased edges, as real renderers give


@dataclass(frozen=True)
class Shade:
    """A colour name's range in HSV: hue in degrees (may wrap below 0), saturation, value."""

    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]


# Prototypical shades with gaps between names, so the truth is never in doubt.
SHADES: dict[str, Shade] = {
    "red": Shade((-8, 5), (0.75, 1.0), (0.78, 1.0)),
    "orange": Shade((20, 32), (0.8, 1.0), (0.92, 1.0)),
    "yellow": Shade((50, 60), (0.7, 1.0), (0.9, 1.0)),
    "green": Shade((95, 140), (0.55, 1.0), (0.45, 1.0)),
    "teal": Shade((172, 188), (0.65, 1.0), (0.45, 0.62)),
    "blue": Shade((212, 238), (0.6, 1.0), (0.6, 1.0)),
    "purple": Shade((268, 288), (0.5, 0.9), (0.45, 0.8)),
    "pink": Shade((322, 342), (0.3, 0.55), (0.95, 1.0)),
    "brown": Shade((10, 32), (0.55, 0.85), (0.3, 0.58)),
    "black": Shade((0, 360), (0.0, 0.3), (0.0, 0.14)),
    "gray": Shade((0, 360), (0.0, 0.06), (0.4, 0.65)),
    "white": Shade((0, 360), (0.0, 0.04), (0.96, 1.0)),
}
COLORS = tuple(SHADES)
BACKGROUNDS = ("white", "grey", "coloured", "gradient", "noise")


@dataclass(frozen=True)
class Picture:
    image: Image.Image
    shapes: list[Shape]  # the truth, boxes as fractions
    background: str


def shade(rng: np.random.Generator, name: str) -> tuple[int, int, int]:
    spec = SHADES[name]
    hue = (rng.uniform(*spec.hue) % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(*spec.sat), rng.uniform(*spec.val))
    return round(r * 255), round(g * 255), round(b * 255)


def _lab_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Rough perceptual distance (CIE76 on sRGB -> Lab), enough to keep shapes visible."""

    def lab(rgb: np.ndarray) -> np.ndarray:
        c = np.asarray(rgb, dtype=float) / 255
        c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
        xyz = c @ np.array(
            [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
        )
        xyz = xyz / np.array([0.9505, 1.0, 1.089])
        f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    return float(np.linalg.norm(lab(a) - lab(b)))


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> np.ndarray:
    """An h x w x 3 float array of the background, and nothing drawn on it yet."""
    if kind == "white":
        base = np.full(3, rng.uniform(245, 255))
        return np.broadcast_to(base, (h, w, 3)).copy()
    if kind == "grey":
        return np.full((h, w, 3), rng.choice([rng.uniform(30, 70), rng.uniform(150, 225)]))
    if kind == "coloured":
        hue, sat = rng.uniform(0, 1), rng.uniform(0.1, 0.6)
        val = rng.choice([rng.uniform(0.85, 1.0), rng.uniform(0.15, 0.35)])
        return np.full((h, w, 3), np.array(colorsys.hsv_to_rgb(hue, sat, val)) * 255)
    if kind == "gradient":
        one, two = rng.uniform(150, 255, 3), rng.uniform(150, 255, 3)
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w]
        t = (xs * math.cos(angle) + ys * math.sin(angle)).astype(float)
        t = (t - t.min()) / max(1e-9, float(np.ptp(t)))
        return one + (two - one) * t[..., None]
    base = rng.uniform(170, 245, 3)  # noise
    return base + rng.normal(0, rng.uniform(4, 16), (h, w, 3))


def _outline(shape: str, rng: np.random.Generator, cx: float, cy: float, size: float) -> list:
    """Polygon points (or a circle's bounding box) for one shape, rotated at random."""
    if shape == "circle":
        r = size / 2
        return [(cx - r, cy - r), (cx + r, cy + r)]
    angle = rng.uniform(0, 2 * math.pi)
    if shape == "rectangle":
        aspect = 1.0 if rng.random() < 0.35 else rng.uniform(1.2, 2.2)  # a third are squares
        half_w, half_h = size / 2, size / 2 / aspect
        corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    else:  # a triangle with no angle under ~35 degrees, so it never looks like a sliver
        while True:
            angles = np.sort(rng.uniform(0, 2 * math.pi, 3))
            gaps = np.diff(np.concatenate([angles, angles[:1] + 2 * math.pi]))
            if gaps.max() < math.radians(220) and gaps.min() > math.radians(70):
                break
        corners = [(math.cos(a) * size / 2, math.sin(a) * size / 2) for a in angles]
    cos, sin = math.cos(angle), math.sin(angle)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in corners]


def _box_of(points: list, scale: float) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) / scale, min(ys) / scale, max(xs) / scale, max(ys) / scale


def _overlaps(box: tuple, boxes: list[tuple], gap: float) -> bool:
    return any(
        box[0] < b[2] + gap and b[0] < box[2] + gap and box[1] < b[3] + gap and b[1] < box[3] + gap
        for b in boxes
    )


def _colour_for(rng: np.random.Generator, background: np.ndarray, used: set[str]) -> tuple:
    """A colour name and shade that stands out from the background under the shape."""
    mean = background.reshape(-1, 3).mean(axis=0)
    for _ in range(100):
        name = str(rng.choice(COLORS))
        if name in used:
            continue
        rgb = shade(rng, name)
        if _lab_distance(np.array(rgb), mean) > 35:
            return name, rgb
    raise RuntimeError("no colour stands out")  # unreachable with these shades


def render(seed: int) -> tuple[Image.Image, list[Shape]]:
    """The picture for `seed` and its shapes (names, colour names, boxes as fractions)."""
    picture = render_picture(seed)
    return picture.image, picture.shapes


def render_picture(seed: int) -> Picture:
    rng = np.random.default_rng(seed)
    width = int(rng.integers(64, 513))
    height = int(np.clip(width * rng.uniform(0.75, 1.33), 64, 512))
    kind = str(rng.choice(BACKGROUNDS))
    background = _background(rng, kind, width, height)
    count = 1 if rng.random() < 0.5 else int(rng.integers(2, 5))
    side = min(width, height)
    s = SUPERSAMPLE
    canvas = Image.new("RGBA", (width * s, height * s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    truth: list[Shape] = []
    boxes: list[tuple] = []
    used: set[str] = set()
    for _ in range(count * 30):  # placement attempts
        if len(truth) == count:
            break
        biggest = side * (0.7 if count == 1 else 0.45)
        size = float(np.exp(rng.uniform(math.log(max(12, side * 0.12)), math.log(biggest))))
        margin = size * 0.6 + 2
        if width - 2 * margin < 1 or height - 2 * margin < 1:
            continue
        cx, cy = rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)
        name = str(rng.choice(SHAPES))
        points = _outline(name, rng, cx * s, cy * s, size * s)
        box = _box_of(points, s)
        if box[0] < 1 or box[1] < 1 or box[2] > width - 1 or box[3] > height - 1:
            continue
        if _overlaps(box, boxes, gap=max(4, side * 0.04)):
            continue
        x0, y0, x1, y1 = (max(0, int(v)) for v in box)
        under = background[y0 : max(y0 + 1, int(y1)), x0 : max(x0 + 1, int(x1))]
        colour, rgb = _colour_for(rng, under, used)
        stroke = None
        if rng.random() < 0.3 and size > 16:  # outlined, 2-6 px (in the final picture)
            stroke = int(round(rng.uniform(2, max(2.5, min(6, size / 8))) * s))
        fill = None if stroke else (*rgb, 255)
        outline = (*rgb, 255) if stroke else None
        if name == "circle":
            draw.ellipse(points, fill=fill, outline=outline, width=stroke or 0)
        else:
            draw.polygon(points, fill=fill, outline=outline, width=stroke or 0)
        used.add(colour)
        boxes.append(box)
        truth.append(
            Shape(name, colour, (box[0] / width, box[1] / height, box[2] / width, box[3] / height))
        )
    layer = canvas.resize((width, height), Image.Resampling.LANCZOS)
    base = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    image = Image.alpha_composite(base, layer).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(40, 96)))
    buffer.seek(0)
    return Picture(Image.open(buffer).convert("RGB"), truth, kind)


@dataclass(frozen=True)
class Question:
    text: str
    answer: str
    kind: str  # "color", "shape", "yes/no" or "count"


def _centre_x(shape: Shape) -> float:
    return (shape.box[0] + shape.box[2]) / 2


def questions(seed: int, shapes: list[Shape]) -> list[Question]:
    """Questions about the picture of `seed` whose answers follow from its truth alone.

    Yes/no questions come in pairs, one true and one false, so "yes" is right half the time.
    """
    rng = np.random.default_rng([seed, 1])  # its own stream: the picture stays the same
    asked: list[Question] = []
    if len(shapes) == 1:
        asked.append(Question("What color is the shape?", shapes[0].color, "color"))
        asked.append(Question("What shape is this?", shapes[0].name, "shape"))
    names = [shape.name for shape in shapes]
    for shape in shapes:
        if len(shapes) > 1 and names.count(shape.name) == 1:
            asked.append(Question(f"What color is the {shape.name}?", shape.color, "color"))
        if len(shapes) > 1:
            asked.append(Question(f"What shape is the {shape.color} one?", shape.name, "shape"))
    colours = {shape.color for shape in shapes}
    present = str(rng.choice(sorted(colours)))
    absent = str(rng.choice([c for c in COLORS if c not in colours]))
    asked.append(Question(f"Is there a {present} shape?", "yes", "yes/no"))
    asked.append(Question(f"Is there a {absent} shape?", "no", "yes/no"))
    kinds = set(names)
    asked.append(Question(f"Is there a {rng.choice(sorted(kinds))}?", "yes", "yes/no"))
    if missing := [s for s in SHAPES if s not in kinds]:
        asked.append(Question(f"Is there a {rng.choice(missing)}?", "no", "yes/no"))
    asked.append(Question("How many shapes are there?", str(len(shapes)), "count"))
    # "Left of" only where the centres are clearly apart: a tenth of the width at least.
    pairs = [
        (a, b)
        for a in shapes
        for b in shapes
        if a is not b and abs(_centre_x(a) - _centre_x(b)) > 0.1
    ]
    if pairs:
        a, b = pairs[int(rng.integers(len(pairs)))]
        answer = "yes" if _centre_x(a) < _centre_x(b) else "no"
        asked.append(
            Question(f"Is the {a.color} shape left of the {b.color} one?", answer, "yes/no")
        )
    return asked

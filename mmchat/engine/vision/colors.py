"""The main colours of a picture's subject, named with basic colour terms.

The subject is told from a uniform background by the border: when most border pixels share
one colour, pixels far from it (in CIELAB) are the foreground. A transparent background is
the alpha channel's to say. In a photo with no such background, pixels weigh more towards the
centre and less where their colour also occurs on the border (grass, sky, a table top); with
that, foolbox's strawberries on paper went from "brown" (0.63) to "red" (0.71). Each pixel is
named by the nearest of a few dozen named shades in CIELAB, where distance follows what people
see; the shares of each name are summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from mmchat.engine.vision.words import Box, ColorShare

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_SIDE = 64  # colours, not detail: a small copy is enough and keeps this fast
BORDER = 0.04  # the ring of pixels, as a fraction of the short side (at least 1 px)
BACKGROUND_DELTA = 12.0  # border pixels this close (CIELAB ΔE) to their median are background
UNIFORM_BORDER = 0.6  # share of the border that must be that colour for a uniform background
FOREGROUND_DELTA = 25.0  # a pixel this far from the background colour is the subject
MIN_FOREGROUND = 0.002  # less than this share of the picture: no subject, just the background
CENTRE_SIGMA = 0.3  # Gaussian weight around the centre, in fractions of width and height
BORDER_SAMPLES = 128  # border colours compared against, for speed
BORDER_LIKE = 10.0  # ΔE to the nearest border colour under which a pixel counts as background
MIN_SHARE = 0.03  # colours below this share are edge blends and noise, not worth naming

# Named shades in sRGB, mostly CSS colour keywords, grouped under the term a person would use.
# "teal" is kept apart from blue and green: easy-vqa asks for it.
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": (
        (255, 0, 0),
        (220, 20, 60),
        (230, 40, 40),
        (200, 16, 16),
        (205, 92, 92),
        (178, 34, 34),
        (139, 0, 0),
        (128, 0, 0),
    ),
    "orange": (
        (255, 165, 0),
        (255, 140, 0),
        (255, 127, 80),
        (255, 99, 71),
        (255, 69, 0),
        (255, 120, 0),
        (240, 150, 60),
    ),
    "yellow": ((255, 255, 0), (255, 215, 0), (240, 230, 140), (255, 255, 150), (230, 220, 40)),
    "green": (
        (0, 255, 0),
        (0, 128, 0),
        (34, 139, 34),
        (50, 205, 50),
        (144, 238, 144),
        (0, 100, 0),
        (107, 142, 35),
        (154, 205, 50),
        (46, 139, 87),
        (60, 179, 113),
    ),
    "teal": ((0, 128, 128), (0, 139, 139), (32, 178, 170), (64, 224, 208), (0, 100, 100)),
    "blue": (
        (0, 0, 255),
        (0, 0, 139),
        (0, 0, 128),
        (65, 105, 225),
        (30, 144, 255),
        (0, 191, 255),
        (135, 206, 235),
        (70, 130, 180),
        (100, 149, 237),
        (173, 216, 230),
        (0, 255, 255),
        (25, 25, 112),
    ),
    "purple": (
        (128, 0, 128),
        (148, 0, 211),
        (138, 43, 226),
        (75, 0, 130),
        (147, 112, 219),
        (102, 51, 153),
        (186, 85, 211),
        (221, 160, 221),
        (238, 130, 238),
        (255, 0, 255),
    ),
    "pink": (
        (255, 192, 203),
        (255, 182, 193),
        (255, 105, 180),
        (255, 20, 147),
        (219, 112, 147),
        (199, 21, 133),
    ),
    "brown": (
        (165, 42, 42),
        (139, 69, 19),
        (160, 82, 45),
        (210, 180, 140),
        (222, 184, 135),
        (101, 67, 33),
        (150, 75, 0),
    ),
    "white": ((255, 255, 255), (245, 245, 245), (250, 240, 230), (240, 248, 255)),
    "gray": (
        (128, 128, 128),
        (169, 169, 169),
        (192, 192, 192),
        (105, 105, 105),
        (211, 211, 211),
        (112, 128, 144),
        (80, 80, 80),
    ),
    "black": ((0, 0, 0), (30, 30, 30), (20, 20, 40)),
}


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB 0..255 -> CIELAB (D65): L 0..100, a and b about -128..127."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ],
        dtype=np.float32,
    )
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    return np.stack([lightness, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_NAMES = [name for name, shades in SHADES.items() for _ in shades]
_SHADES_LAB = srgb_to_lab(np.array([s for shades in SHADES.values() for s in shades]))
TERMS: tuple[str, ...] = tuple(SHADES)
_SHADE_TERM = np.array([TERMS.index(name) for name in _NAMES])
_ACHROMATIC = np.isin(np.array(_NAMES), ["white", "gray", "black"])
GRAY_CHROMA = 12.0  # below this CIELAB chroma a colour is white, gray or black
CHROMA_CAP = 40.0  # beyond this, more saturation does not change a colour's name


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, 3), (M, 3) -> (N, M) squared distances, as one matrix product (fast for large N)."""
    points = points.astype(np.float32)
    centres = centres.astype(np.float32)
    squared = points @ (-2.0 * centres.T)  # in place from here: this is the hot loop
    squared += (points**2).sum(1)[:, None]
    squared += (centres**2).sum(1)[None, :]
    return np.maximum(squared, 0.0, out=squared)


def _cap_chroma(lab: np.ndarray) -> np.ndarray:
    chroma = np.linalg.norm(lab[:, 1:], axis=-1, keepdims=True)
    scale = np.minimum(1.0, CHROMA_CAP / np.maximum(chroma, 1e-6))
    return np.concatenate([lab[:, :1], lab[:, 1:] * scale], axis=-1)


def name_colors(lab: np.ndarray) -> np.ndarray:
    """(N, 3) CIELAB -> (N,) index into `TERMS`: the nearest named shade of the right kind.

    Greyish colours go to white, gray or black; the others to the nearest chromatic shade
    with chroma capped on both sides, so a dull photo green is still green, not gray.
    """
    chroma = np.linalg.norm(lab[:, 1:], axis=-1)
    grey = _SHADES_LAB[_ACHROMATIC]
    grey_term = _SHADE_TERM[_ACHROMATIC]
    to_grey = np.abs(lab[:, None, 0] - grey[None, :, 0])  # lightness alone
    named = grey_term[to_grey.argmin(axis=1)]
    colourful = chroma >= GRAY_CHROMA
    if colourful.any():
        shades = _cap_chroma(_SHADES_LAB[~_ACHROMATIC])
        distance = _squared_distances(_cap_chroma(lab[colourful]), shades)
        named[colourful] = _SHADE_TERM[~_ACHROMATIC][distance.argmin(axis=1)]
    result: np.ndarray = named
    return result


def color_name(rgb: tuple[int, int, int]) -> str:
    """The basic colour term for one sRGB colour."""
    return TERMS[int(name_colors(srgb_to_lab(np.array([rgb])))[0])]


def _pixels(image: Image, max_side: int = MAX_SIDE) -> tuple[np.ndarray, np.ndarray | None]:
    """A small RGB copy (H, W, 3) and, when the picture has transparent parts, its alpha."""
    from PIL import Image as PILImage

    work = image
    if work.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        work = work.point(lambda v: v / 256).convert("L")
    has_alpha = work.mode in ("RGBA", "LA", "PA") or (
        work.mode == "P" and "transparency" in work.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    if work.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, CMYK...: convert before resizing
        work = work.convert(mode)
    scale = min(1.0, max_side / max(work.size))
    size = (max(1, round(work.width * scale)), max(1, round(work.height * scale)))
    if size != work.size:  # reducing_gap: a fast integer reduction first, even for 24 Mpx
        work = work.resize(size, PILImage.Resampling.BOX, reducing_gap=2.0)
    array = np.asarray(work.convert(mode))
    if has_alpha and (array[..., 3] < 128).mean() > 0.01:
        return array[..., :3], array[..., 3]
    if has_alpha:  # alpha present but (almost) opaque: show it on white, as attachments are
        rgba = array.astype(np.float32) / 255.0
        rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
        return (rgb * 255.0).round().astype(np.uint8), None
    return array, None


def foreground_weights(lab: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """(H, W) weights of the subject: the non-background pixels, or a centre-weighted whole.

    All zeros means the picture is its background alone (blank, or one colour).
    """
    height, width = lab.shape[:2]
    if alpha is not None:
        return (alpha >= 128).astype(np.float32)
    ring = max(1, round(min(height, width) * BORDER))
    border = np.ones((height, width), dtype=bool)
    border[ring:-ring, ring:-ring] = False
    edge = lab[border]
    background = np.median(edge, axis=0)
    if (np.linalg.norm(edge - background, axis=-1) < BACKGROUND_DELTA).mean() >= UNIFORM_BORDER:
        subject = np.linalg.norm(lab - background, axis=-1) > FOREGROUND_DELTA
        if subject.mean() < MIN_FOREGROUND:
            return np.zeros((height, width), dtype=np.float32)
        result: np.ndarray = subject.astype(np.float32)
        return result
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height - 0.5
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    centre: np.ndarray = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * CENTRE_SIGMA**2))
    # Colours that also occur on the border are likely background (grass, sky, a table):
    # weigh each pixel by how far its colour is from every border colour.
    samples = edge[:: max(1, len(edge) // BORDER_SAMPLES)]
    nearest = np.sqrt(_squared_distances(lab.reshape(-1, 3), samples).min(axis=1))
    nearest = nearest.reshape(height, width)
    distinct = np.clip((nearest - BORDER_LIKE) / BORDER_LIKE, 0.0, 1.0)
    weights: np.ndarray = centre * distinct
    if weights.sum() < MIN_FOREGROUND * centre.sum():  # nothing stands out: the whole scene
        return centre
    return weights


def dominant_colors(image: Image, k: int = 3) -> list[ColorShare]:
    """Up to `k` basic colour terms of the picture's subject, with their shares, largest first.

    A blank or single-colour picture gives that one colour with share 1.0.
    """
    rgb, alpha = _pixels(image)
    lab = srgb_to_lab(rgb)
    weights = foreground_weights(lab, alpha)
    if weights.sum() == 0:
        if alpha is not None:  # wholly transparent: nothing to name
            return []
        weights = np.ones(weights.shape, dtype=np.float32)
    names = name_colors(lab.reshape(-1, 3))
    totals = np.bincount(names, weights=weights.reshape(-1), minlength=len(TERMS))
    shares = totals / totals.sum()
    order = np.argsort(-shares, kind="stable")
    return [
        ColorShare(name=TERMS[i], share=float(shares[i]))
        for i in order[: max(0, k)]
        if shares[i] >= MIN_SHARE
    ]


# One object's colours: its box is read from a larger copy than the whole picture's (a small
# box would be a few pixels at 64), and what surrounds the box says what its background is.
REGION_SIDE = 192
RING = 0.1  # the ring around a box whose colours are its background, as a fraction of its size
MIN_RING_PIXELS = 16  # fewer than this around it (a box filling the picture): no background


def region_colors(image: Image, boxes: Sequence[Box], k: int = 2) -> list[list[ColorShare]]:
    """The main colours of the object in each box (fractions of width and height), named as
    `dominant_colors` names a picture's: pixels weigh more towards the box's centre and less
    where their colour also occurs just outside the box (the grass round a dog). A smaller box
    that overlaps one is left out of it: that object is usually in front (the dog sitting
    before the bicycle), and its colours are not the bigger one's."""
    rgb, alpha = _pixels(image, REGION_SIDE)
    lab = srgb_to_lab(rgb)
    height, width = lab.shape[:2]
    spans = [_span(box, width, height) for box in boxes]
    opaque = alpha >= 128 if alpha is not None else np.ones((height, width), dtype=bool)
    found: list[list[ColorShare]] = []
    for index, (x0, y0, x1, y1) in enumerate(spans):
        inside = np.zeros((height, width), dtype=bool)
        inside[y0:y1, x0:x1] = True
        own = inside & opaque
        area = (x1 - x0) * (y1 - y0)
        for j, (a0, b0, a1, b1) in enumerate(spans):
            if j != index and (a1 - a0) * (b1 - b0) < area:
                own[b0:b1, a0:a1] = False
        if not own.any():
            own = inside & opaque
        found.append(_region_shares(lab, own, (x0, y0, x1, y1), opaque, k))
    return found


def _span(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = min(int(box[0] * width), width - 1)
    y0 = min(int(box[1] * height), height - 1)
    x1 = max(int(np.ceil(box[2] * width)), x0 + 1)
    y1 = max(int(np.ceil(box[3] * height)), y0 + 1)
    return x0, y0, x1, y1


def _region_shares(
    lab: np.ndarray,
    own: np.ndarray,
    span: tuple[int, int, int, int],
    opaque: np.ndarray,
    k: int,
) -> list[ColorShare]:
    height, width = own.shape
    x0, y0, x1, y1 = span
    grow_x, grow_y = max(2, round((x1 - x0) * RING)), max(2, round((y1 - y0) * RING))
    ring = np.zeros((height, width), dtype=bool)
    ring[max(0, y0 - grow_y) : y1 + grow_y, max(0, x0 - grow_x) : x1 + grow_x] = True
    ring[y0:y1, x0:x1] = False
    ring &= opaque
    ys = (np.arange(height, dtype=np.float32) + 0.5 - (y0 + y1) / 2) / max(1, y1 - y0)
    xs = (np.arange(width, dtype=np.float32) + 0.5 - (x0 + x1) / 2) / max(1, x1 - x0)
    centre = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * CENTRE_SIGMA**2))
    weights = np.where(own, centre, 0.0).astype(np.float32)
    if ring.sum() >= MIN_RING_PIXELS:
        edge = lab[ring]
        samples = edge[:: max(1, len(edge) // BORDER_SAMPLES)]
        nearest = np.sqrt(_squared_distances(lab[own], samples).min(axis=1))
        distinct = np.clip((nearest - BORDER_LIKE) / BORDER_LIKE, 0.0, 1.0)
        if (weights[own] * distinct).sum() >= MIN_FOREGROUND * weights[own].sum():
            weights[own] *= distinct  # else nothing stands out: the whole box
    if not own.any():  # the box is transparent through and through
        return []
    names = name_colors(lab[own])
    totals: np.ndarray = np.bincount(names, weights=weights[own], minlength=len(TERMS))
    # Weighing by distinctness can leave a few stray pixels the largest weight (a zebra's
    # box "blue" where its stripes match the ground outside): a colour must also cover a
    # share of the box's own pixels, or it is noise, as in the whole picture.
    pixels: np.ndarray = np.bincount(names, minlength=len(TERMS)) / len(names)
    totals[pixels < MIN_SHARE] = 0.0
    if totals.sum() <= 0:
        totals = pixels
    shares = totals / totals.sum()
    order = np.argsort(-shares, kind="stable")
    return [
        ColorShare(name=TERMS[i], share=float(shares[i]))
        for i in order[: max(0, k)]
        if shares[i] >= MIN_SHARE
    ]

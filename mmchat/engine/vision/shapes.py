"""Drawn shapes (circles, rectangles, triangles), their colours and boxes, whatever drew them.

The background is modelled from the picture's border as a plane per Lab channel, so flat,
gradient and noisy backgrounds all fall away; what differs from it by more than the border's
own noise is foreground. Each blob loses its faint halo (anti-aliasing, JPEG ringing), and its
convex hull is matched against the three shapes by how much of the smallest enclosing
rectangle, triangle and circle it fills (a rectangle fills its rectangle, a triangle its
triangle, a circle its circle), which does not care about rotation, outline or fill. Blobs that
fill none of them well, or are far from convex, are objects in a photo and are left out.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
from PIL import Image

from mmchat.engine.vision.words import Shape
from mmchat.images import to_rgb

WORK_SIDE = 384  # pictures are analysed at this longest side: tiny ones gain pixels for
# the contour fits, huge ones cost no more than this
MIN_AREA = 0.002  # of the picture: smaller blobs are JPEG or noise specks
MIN_DISTANCE = 12.0  # Lab units a pixel must differ from the background, at least
# What a drawn shape looks like, measured on 415 generated and 199 easy-vqa test shapes vs 25
# blobs in 17 photos: its convex hull fills the best enclosing form (generated: 0.85+ in 99%)
# and it fills its hull (solidity 0.90+ in 99%); photo blobs mostly fail one of the two.
MIN_FILL = 0.8
MIN_SOLIDITY = 0.85
# Below this many pixels in the original picture, pixelation and JPEG blur the outline.
SMALL_SHAPE = 1600
SMALL_MIN_FILL = 0.7


def find_shapes(image: Image.Image) -> list[Shape]:
    """The shapes drawn on a plain, gradient or noisy background, left to right."""
    if min(image.size) == 0:
        return []
    rgb = _at_work_size(np.asarray(to_rgb(image)))
    height, width = rgb.shape[:2]
    native = image.size[0] * image.size[1] / (width * height)  # original pixels per pixel
    mask, distance = _foreground(rgb)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    shapes = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < MIN_AREA * width * height or area > 0.95 * width * height:
            continue
        region = np.zeros(mask.shape, np.uint8)
        cv2.drawContours(region, [contour], -1, 255, thickness=cv2.FILLED)
        region &= mask
        core = _core(region, distance)
        hull = cv2.convexHull(core)  # jagged edges (noise, JPEG) do not change the hull much
        solidity = cv2.contourArea(core) / max(cv2.contourArea(hull), 1e-6)
        name, fill = _shape_name(hull)
        small = cv2.contourArea(hull) * native < SMALL_SHAPE
        if fill < (SMALL_MIN_FILL if small else MIN_FILL) or solidity < MIN_SOLIDITY:
            continue  # an object in a photo, not a drawing
        x, y, w, h = cv2.boundingRect(core)
        box = (x / width, y / height, (x + w) / width, (y + h) / height)
        shapes.append(Shape(name=name, color=_color_of(rgb, region, distance), box=box))
    return sorted(shapes, key=lambda shape: shape.box[0])


def _at_work_size(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = WORK_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Cubic upscaling gives a tiny picture's shapes smooth outlines for the fits.
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=method)


def _border(array: np.ndarray, width: int) -> np.ndarray:
    """A boolean mask of the outer `width` pixels."""
    mask = np.ones(array.shape[:2], dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def _foreground(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 0/255 mask of what is not background, and each pixel's Lab distance from it."""
    height, width = rgb.shape[:2]
    smooth = cv2.medianBlur(rgb, 3)
    lab = cv2.cvtColor(smooth.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    border = _border(lab, max(2, min(height, width) // 50))
    ys, xs = np.mgrid[0:height, 0:width]
    design = np.stack([np.ones_like(xs), xs / width, ys / height], axis=-1).astype(np.float32)
    edge_design, edge_lab = design[border], lab[border]
    kept = np.ones(len(edge_lab), dtype=bool)
    for _ in range(3):  # refit without the border pixels a shape covers
        coef, *_ = np.linalg.lstsq(edge_design[kept], edge_lab[kept], rcond=None)
        edge_distance = np.linalg.norm(edge_lab - edge_design @ coef, axis=-1)
        spread = np.median(edge_distance) * 1.4826 + 1e-3
        kept = edge_distance < max(MIN_DISTANCE, 4 * spread)
        if kept.sum() < 10:
            kept[:] = True
            break
    noise = float(np.percentile(edge_distance[kept], 99))
    threshold = max(MIN_DISTANCE, 1.5 * noise)
    residual = lab - design @ coef
    distance = np.sqrt(np.einsum("hwc,hwc->hw", residual, residual))
    mask = (distance > threshold).astype(np.uint8) * 255
    kernel = np.ones((3, 3), np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    return mask, distance


def _shape_name(contour: np.ndarray) -> tuple[str, float]:
    """The shape whose smallest enclosing form the contour fills best, and how well."""
    area = cv2.contourArea(contour)
    (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
    triangle_area, _ = cv2.minEnclosingTriangle(contour)
    (_, _), radius = cv2.minEnclosingCircle(contour)
    fills = {
        "rectangle": area / max(rw * rh, 1e-6),
        "triangle": area / max(float(triangle_area), 1e-6),
        "circle": area / max(np.pi * radius * radius, 1e-6),
    }
    best = max(fills, key=fills.__getitem__)
    return best, fills[best]


def _core(region: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """The outer contour of a blob without its faint halo (anti-aliasing, JPEG ringing).

    The halo differs from the background far less than the shape itself does, so only pixels
    at least half as distinct as the shape's own are kept.
    """
    level = 0.5 * float(np.percentile(distance[region > 0], 90))
    kept = (region > 0) & (distance > level)
    core = cv2.morphologyEx(kept.astype(np.uint8) * 255, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(core, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea)


def _color_of(rgb: np.ndarray, region: np.ndarray, distance: np.ndarray) -> str:
    """The colour name of the shape's own pixels, away from its anti-aliased edge."""
    inner = cv2.erode(region, np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 20:  # a thin outline: its most distinct pixels, the stroke's middle
        inside = region > 0
        inner = inside & (distance >= np.percentile(distance[inside], 70))
    red, green, blue = (int(v) for v in np.median(rgb[inner], axis=0))
    return color_name((red, green, blue))


def color_name(rgb: tuple[int, int, int]) -> str:
    """A basic colour term for one colour (easy-vqa's teal included)."""
    hue, sat, val = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    hue *= 360
    if val < 0.2:
        return "black"
    if sat < 0.18 or sat * val < 0.1:
        return "white" if val > 0.85 else "gray" if val > 0.25 else "black"
    if hue < 12 or hue >= 345:
        if sat < 0.55 and val > 0.7:
            return "pink"
        return "brown" if val < 0.7 and sat < 0.9 else "red"
    if hue < 42:
        return "brown" if val < 0.7 else "orange"
    if hue < 72:
        return "yellow"
    if hue < 160:
        return "green"
    if hue < 200:
        return "teal"
    if hue < 258:
        return "blue"
    if hue < 300:
        return "purple"
    return "purple" if val < 0.6 else "pink"

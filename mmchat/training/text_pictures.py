"""Pictures of text with the text they show: a page, a scan, a screenshot, rotated, inverted.

For checking text reading (tests, bench/ocr_shapes.py) and for questions such as "What does
it say?". DejaVu fonts are used where installed, else Pillow's own scalable font.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SANS = "DejaVuSans.ttf"
SERIF = "DejaVuSerif.ttf"


def font(size: int, name: str = SANS) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(name, size)
    except OSError:  # no DejaVu here: Pillow's own scalable font
        return ImageFont.load_default(size=size)  # type: ignore[return-value]  # with a size, Pillow returns a FreeTypeFont


TITLE = "Annual Report on River Water Quality"
PARAGRAPHS = [
    "Samples were taken from twelve stations along the river every month during the past "
    "year, and each was tested for nitrate, phosphate and dissolved oxygen.",
    "Nitrate levels fell in spring after heavy rain, while oxygen stayed high at every "
    "station we visited. The full tables follow on the next pages.",
]


def page() -> tuple[Image.Image, str]:
    """An A4 page at 150 dpi: a title in large type over two paragraphs."""
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    draw.text((100, 120), TITLE, fill="black", font=font(56))
    y = 260
    for paragraph in PARAGRAPHS:
        for line in textwrap.wrap(paragraph, 60):
            draw.text((100, y), line, fill=(20, 20, 20), font=font(30, SERIF))
            y += 48
        y += 40
    return image, " ".join([TITLE, *PARAGRAPHS])


def scan() -> tuple[Image.Image, str]:
    """The page as a 300 dpi scan: greyish paper, noise, a slight skew, JPEG."""
    image, text = page()
    image = image.resize((2480, 3508), Image.Resampling.BICUBIC).rotate(1.5, fillcolor="white")
    pixels = np.asarray(image, dtype=np.float32) * 0.93 + 8
    pixels += np.random.default_rng(1).normal(0, 6, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=70)
    return Image.open(buffer), text


def screenshot() -> tuple[Image.Image, str]:
    image = Image.new("RGB", (800, 500), (236, 239, 243))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 800, 60), fill=(40, 60, 90))
    draw.text((20, 15), "Settings", fill="white", font=font(26))
    draw.text((40, 110), "Email address", fill=(30, 30, 30), font=font(20))
    draw.rectangle((40, 140, 500, 180), fill="white", outline=(150, 150, 150))
    draw.text((50, 148), "alice@example.com", fill=(30, 30, 30), font=font(20))
    draw.rounded_rectangle((40, 380, 200, 430), radius=8, fill=(200, 200, 205))
    draw.text((80, 392), "Cancel", fill=(30, 30, 30), font=font(20))
    draw.rounded_rectangle((240, 380, 420, 430), radius=8, fill=(30, 110, 220))
    draw.text((270, 392), "Save changes", fill="white", font=font(20))
    return image, "Settings Email address alice@example.com Cancel Save changes"


def rotated() -> tuple[Image.Image, str]:
    image = Image.new("RGB", (1000, 300), "white")
    ImageDraw.Draw(image).text((60, 110), "Turn left at the old mill", fill="black", font=font(48))
    return image.rotate(10, expand=True, fillcolor="white"), "Turn left at the old mill"


def white_on_dark() -> tuple[Image.Image, str]:
    image = Image.new("RGB", (700, 200), (25, 25, 30))
    ImageDraw.Draw(image).text(
        (40, 70), "Night mode keeps eyes rested", fill="white", font=font(36)
    )
    return image, "Night mode keeps eyes rested"


PICTURES: dict[str, Callable[[], tuple[Image.Image, str]]] = {
    "page": page,
    "scan": scan,
    "screenshot": screenshot,
    "rotated": rotated,
    "white-on-dark": white_on_dark,
}

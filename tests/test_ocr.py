"""Text read from rendered pages, screenshots, rotated and inverted text, and bad pictures."""

from __future__ import annotations

import dataclasses
import io
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mmchat.engine.assets import AssetMissing
from mmchat.engine.vision import ocr
from mmchat.engine.vision.ocr import OcrError, TextReader, reading_order
from mmchat.engine.vision.words import TextLine

SANS = "DejaVuSans.ttf"
SERIF = "DejaVuSerif.ttf"


def font(size: int, name: str = SANS) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(name, size)
    except OSError:  # no DejaVu here: Pillow's own scalable font
        return ImageFont.load_default(size=size)  # type: ignore[return-value]


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


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9@.]+", text.lower().replace(". ", " "))


def word_recall(expected: str, lines: list[TextLine]) -> float:
    """The share of expected words that were read, each read word counted once."""
    read = Counter(w.strip(".") for line in lines for w in words(line.text))
    wanted = [w.strip(".") for w in words(expected)]
    hits = 0
    for word in wanted:
        if read[word] > 0:
            read[word] -= 1
            hits += 1
    return hits / len(wanted)


@pytest.fixture(scope="module")
def reader() -> Iterator[TextReader]:
    reader = TextReader()
    reader.load()
    yield reader


def test_reads_pages_screenshots_rotated_and_inverted_text_word_by_word(
    reader: TextReader,
) -> None:
    recalls = {}
    for name, make in PICTURES.items():
        image, expected = make()
        lines = reader.read(image)
        recalls[name] = word_recall(expected, lines)
        for line in lines:
            x0, y0, x1, y1 = line.box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
            assert line.score >= ocr.MIN_SCORE
    print("\nword recall:", {name: round(value, 3) for name, value in recalls.items()})
    assert sum(recalls.values()) / len(recalls) >= 0.9
    assert min(recalls.values()) >= 0.75


def test_lines_come_in_reading_order_with_boxes_where_the_text_is(reader: TextReader) -> None:
    image, _ = page()
    lines = reader.read(image)
    assert lines[0].text == TITLE
    assert lines[0].box[1] < 120 / 1754 + 0.01 and lines[0].box[3] < 260 / 1754
    tops = [line.box[1] for line in lines]
    assert tops == sorted(tops)
    image, _ = screenshot()
    texts = [line.text for line in reader.read(image)]
    assert texts.index("Cancel") + 1 == texts.index("Save changes")  # same row: left first


def test_reading_order_groups_rows_then_goes_left_to_right() -> None:
    right = TextLine("right", 0.9, (0.6, 0.1, 0.9, 0.2))
    left = TextLine("left", 0.9, (0.1, 0.12, 0.4, 0.21))  # a little lower, same row
    below = TextLine("below", 0.9, (0.0, 0.3, 0.5, 0.4))
    assert [line.text for line in reading_order([below, right, left])] == [
        "left",
        "right",
        "below",
    ]


def test_greyscale_transparent_and_huge_pictures_are_read(reader: TextReader) -> None:
    image, expected = white_on_dark()
    assert word_recall(expected, reader.read(image.convert("L"))) >= 0.8
    clear = Image.new("RGBA", (700, 200), (0, 0, 0, 0))
    ImageDraw.Draw(clear).text((40, 70), "Glass shows through", fill="black", font=font(36))
    assert word_recall("Glass shows through", reader.read(clear)) == 1.0
    huge = Image.new("RGB", (6000, 4000), "white")
    ImageDraw.Draw(huge).text((400, 1800), "Large poster text", fill="black", font=font(300))
    assert word_recall("Large poster text", reader.read(huge)) == 1.0


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), "white"),
        Image.new("RGB", (8, 8), (10, 200, 10)),
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
        Image.new("I;16", (64, 64), 30000),
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)),
    ],
    ids=["blank", "8x8", "transparent", "16-bit", "noise"],
)
def test_pictures_without_text_give_no_lines(reader: TextReader, image: Image.Image) -> None:
    assert reader.read(image) == []


def test_damaged_or_missing_models_are_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    damaged = dataclasses.replace(ocr.OCR_RECOGNISER_ONNX, sha256="0" * 64)
    monkeypatch.setattr(ocr, "OCR_RECOGNISER_ONNX", damaged)
    with pytest.raises(OcrError, match="sha256 mismatch.*pip install --no-deps rapidocr"):
        TextReader().load()
    missing = dataclasses.replace(ocr.OCR_DETECTOR_ONNX, module="not_an_installed_module")
    monkeypatch.setattr(ocr, "OCR_DETECTOR_ONNX", missing)
    with pytest.raises(AssetMissing, match="not installed"):
        TextReader().load()

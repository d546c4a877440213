"""Text read from rendered pages, screenshots, rotated and inverted text, and bad pictures."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmchat.engine.assets import AssetMissing
from mmchat.engine.vision import ocr
from mmchat.engine.vision.ctc_spaces import SpacedDecoder, spaced
from mmchat.engine.vision.ocr import OcrError, TextReader, reading_order
from mmchat.engine.vision.words import TextLine
from mmchat.training.text_pictures import PICTURES, TITLE, font, page, screenshot, white_on_dark


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
        Image.new("RGB", (0, 0)),
        Image.new("RGB", (300, 1), (0, 0, 0)),
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
        Image.new("I;16", (64, 64), 30000),
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)),
    ],
    ids=["blank", "8x8", "0x0", "300x1", "transparent", "16-bit", "noise"],
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


def test_a_line_limit_keeps_the_first_lines_in_reading_order() -> None:
    image, _ = page()
    lines = TextReader(max_lines=3).read(image)
    assert [line.text for line in lines][:1] == [TITLE] and len(lines) == 3
    assert lines[1].text.startswith("Samples were taken")


def test_doctor_reports_the_text_reading_models() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "doctor"], capture_output=True, text=True, timeout=120
    )
    line = next(line for line in result.stdout.splitlines() if "text reading" in line)
    assert line.startswith("[ok") and "rapidocr_onnxruntime" in line


def test_batches_read_side_by_side_give_the_same_lines_as_one_after_another() -> None:
    """A page of more lines than one recognition batch holds: the lines, their scores and
    boxes are the same with one worker as with several."""
    image, _ = page()
    alone, side_by_side = TextReader(recognisers=1), TextReader(recognisers=3)
    first, second = alone.read(image), side_by_side.read(image)
    assert side_by_side._ocr is not None
    assert len(first) > side_by_side._ocr.text_rec.rec_batch_num
    assert second == first


def sign(text: str) -> Image.Image:
    """Black on yellow, small bold type, a little blur and JPEG: what drops spaces."""
    from PIL import ImageFilter, ImageFont

    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 36)
    image = Image.new("RGB", (900, 160), (250, 206, 20))
    draw = ImageDraw.Draw(image)
    draw.text((450, 80), text, font=face, fill=(18, 18, 18), anchor="mm", stroke_width=1)
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.8)).save(buffer, "JPEG", quality=55)
    return Image.open(buffer)


def test_a_space_the_recogniser_scored_but_did_not_write_is_put_back(reader: TextReader) -> None:
    signs = {"WET FLOOR": sign("WET FLOOR"), "NO ENTRY": sign("NO ENTRY")}
    recogniser = reader._ocr.text_rec  # type: ignore[union-attr]  # loaded by the fixture
    decoder = recogniser.postprocess_op
    assert isinstance(decoder, SpacedDecoder)
    recogniser.postprocess_op = decoder.decoder  # rapidocr's own decoding
    try:
        plain = {text: [line.text for line in reader.read(image)] for text, image in signs.items()}
    finally:
        recogniser.postprocess_op = decoder
    # The model itself runs the words together here...
    assert plain == {"WET FLOOR": ["WETFLOOR"], "NO ENTRY": ["NOENTRY"]}
    # ...and its frames' scores for the space give them back.
    for text, image in signs.items():
        assert [line.text for line in reader.read(image)] == [text]


def test_spaces_come_from_the_frames_between_two_characters() -> None:
    characters = ["blank", "A", "B", " "]

    def frames(*rows: tuple[int, float]) -> np.ndarray:
        """One frame per (best character, the space's probability in it)."""
        scores = np.zeros((len(rows), len(characters)), dtype=np.float32)
        for i, (best, space) in enumerate(rows):
            scores[i, 3] = space
            scores[i, best] = max(0.5, scores[i].max() + 0.1)
        return scores

    assert spaced(frames((1, 0), (0, 0.3), (0, 0.0), (2, 0)), characters, 3) == "A B"
    assert spaced(frames((1, 0), (0, 0.05), (2, 0)), characters, 3) == "AB"  # a letter's gap
    assert spaced(frames((1, 0), (1, 0), (2, 0)), characters, 3) == "AB"  # no frame between
    # A space it wrote is not doubled, and a repeated letter needs a blank between its runs.
    assert spaced(frames((1, 0), (3, 0.9), (0, 0.4), (2, 0)), characters, 3) == "A B"
    assert spaced(frames((1, 0), (0, 0.2), (1, 0)), characters, 3) == "A A"

"""Shapes found in pictures from two renderers: mmchat's own generator and easy-vqa's."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmchat.engine.vision.shapes import color_name, find_shapes
from mmchat.engine.vision.words import Shape
from mmchat.training import shapes as generator
from mmchat.training.easy_vqa import image_path, read_split

# Seeds the detector's rules were never tuned on (tuning used the first 300 test seeds).
CHECK_SEEDS = generator.TEST_SEEDS[2000:2300]
EASY_SHAPES = ("circle", "rectangle", "triangle")
EASY_COLORS = ("red", "green", "blue", "black", "gray", "teal", "brown", "yellow")


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _found_at(found: list[Shape], truth: Shape) -> Shape | None:
    """The found shape whose box holds the true shape's centre."""
    cx, cy = (truth.box[0] + truth.box[2]) / 2, (truth.box[1] + truth.box[3]) / 2
    for shape in found:
        if shape.box[0] <= cx <= shape.box[2] and shape.box[1] <= cy <= shape.box[3]:
            return shape
    return None


def test_generator_is_deterministic_and_splits_never_overlap() -> None:
    first, truth = generator.render(generator.TEST_SEEDS[7])
    again, truth_again = generator.render(generator.TEST_SEEDS[7])
    other, _ = generator.render(generator.TEST_SEEDS[8])
    assert _png_bytes(first) == _png_bytes(again) and truth == truth_again
    assert _png_bytes(first) != _png_bytes(other)
    assert set(generator.TRAIN_SEEDS).isdisjoint(generator.TEST_SEEDS)


def test_generator_varies_what_easy_vqa_keeps_fixed() -> None:
    pictures = [generator.render_picture(seed) for seed in generator.TRAIN_SEEDS[:200]]
    sizes = [side for p in pictures for side in p.image.size]
    assert min(sizes) < 128 and max(sizes) > 400 and min(sizes) >= 64 and max(sizes) <= 512
    assert {p.background for p in pictures} == set(generator.BACKGROUNDS)
    assert {len(p.shapes) for p in pictures} == {1, 2, 3, 4}
    assert {s.color for p in pictures for s in p.shapes} == set(generator.COLORS)
    reds = {generator.shade(np.random.default_rng(n), "red") for n in range(20)}
    assert len(reds) == 20  # a colour name spans many shades
    for picture in pictures:
        for shape in picture.shapes:
            x0, y0, x1, y1 = shape.box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_questions_follow_from_the_truth() -> None:
    kinds: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for seed in generator.TRAIN_SEEDS[:100]:
        _, truth = generator.render(seed)
        asked = generator.questions(seed, truth)
        assert asked == generator.questions(seed, truth)
        for question in asked:
            kinds[question.kind] += 1
            if question.kind == "yes/no":
                answers[question.answer] += 1
            if question.text == "How many shapes are there?":
                assert question.answer == str(len(truth))
            if question.text == "What color is the shape?":
                assert len(truth) == 1 and question.answer == truth[0].color
            if question.text.startswith("Is the "):
                left, right = question.text[7:].split(" shape left of the ")
                a = next(s for s in truth if s.color == left)
                b = next(s for s in truth if s.color == right.removesuffix(" one?"))
                assert (question.answer == "yes") == (a.box[0] + a.box[2] < b.box[0] + b.box[2])
    assert set(kinds) == {"color", "shape", "yes/no", "count"}
    assert 0.4 < answers["yes"] / sum(answers.values()) < 0.6


def test_finds_generated_shapes_their_colours_and_counts() -> None:
    shape_right = colour_right = total = count_right = several = 0
    for seed in CHECK_SEEDS:
        image, truth = generator.render(seed)
        found = find_shapes(image)
        if len(truth) > 1:
            several += 1
            count_right += len(found) == len(truth)
        for true_shape in truth:
            total += 1
            match = _found_at(found, true_shape)
            shape_right += match is not None and match.name == true_shape.name
            colour_right += match is not None and match.color == true_shape.color
    print(
        f"\n{len(CHECK_SEEDS)} generated pictures, {total} shapes: shape {shape_right / total:.3f}"
        f", colour {colour_right / total:.3f}, count on {several} multi-shape pictures"
        f" {count_right / several:.3f}"
    )
    assert shape_right / total >= 0.95
    assert colour_right / total >= 0.90
    assert count_right / several >= 0.90


def _easy_vqa_truth() -> dict[int, dict[str, str]]:
    """Each test image's shape and colour, from the answers to its questions."""
    truth: dict[int, dict[str, str]] = {}
    for question, answer, image_id in read_split("test"):
        known = truth.setdefault(image_id, {})
        negated = " not " in f" {question} " or " no " in f" {question} "
        if answer in EASY_SHAPES:
            known["shape"] = answer
        elif answer in EASY_COLORS:
            known["color"] = answer
        elif answer == ("no" if negated else "yes"):
            for word in question.rstrip("?").split():
                if word in EASY_SHAPES:
                    known["shape"] = word
                elif word in EASY_COLORS:
                    known["color"] = word
    return truth


def test_finds_easy_vqa_test_shapes_and_colours() -> None:
    shapes = colours = shape_total = colour_total = 0
    for image_id, known in sorted(_easy_vqa_truth().items()):
        found = find_shapes(Image.open(image_path("test", image_id)))
        only = found[0] if len(found) == 1 else None
        if "shape" in known:
            shape_total += 1
            shapes += only is not None and only.name == known["shape"]
        if "color" in known:
            colour_total += 1
            colours += only is not None and only.color == known["color"]
    print(
        f"\neasy-vqa test: shape {shapes}/{shape_total} = {shapes / shape_total:.3f}, "
        f"colour {colours}/{colour_total} = {colours / colour_total:.3f}"
    )
    assert shape_total > 800 and colour_total > 800
    assert shapes / shape_total >= 0.95 and colours / colour_total >= 0.95


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 0, 0), "red"),
        ((165, 42, 42), "brown"),  # CSS brown, easy-vqa's
        ((0, 128, 128), "teal"),
        ((255, 165, 0), "orange"),
        ((255, 192, 203), "pink"),
        ((128, 0, 128), "purple"),
        ((128, 128, 128), "gray"),
        ((250, 250, 250), "white"),
        ((10, 10, 30), "black"),
        ((30, 144, 255), "blue"),
        ((50, 205, 50), "green"),
        ((255, 215, 0), "yellow"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert color_name(rgb) == name


def test_a_shape_on_a_transparent_or_grey_picture() -> None:
    image, truth = generator.render(generator.TEST_SEEDS[2])
    rgba = image.convert("RGBA")
    assert [s.name for s in find_shapes(rgba)] == [s.name for s in find_shapes(image)]
    clear = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (60, 60, 140, 140))
    assert [(s.name, s.color) for s in find_shapes(clear)] == [("rectangle", "blue")]
    grey = Image.new("L", (200, 200), 230)
    grey.paste(20, (50, 50, 150, 150))
    assert [(s.name, s.color) for s in find_shapes(grey)] == [("rectangle", "black")]


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (300, 200), (255, 255, 255)),
        Image.new("RGB", (300, 200), (200, 30, 30)),
        Image.new("RGB", (8, 8), (0, 0, 0)),
        Image.new("RGB", (1, 1), (0, 0, 0)),
        Image.new("RGB", (0, 0)),
        Image.new("RGB", (300, 1), (0, 0, 0)),
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
        Image.new("I;16", (64, 64), 40000),
        Image.new("RGB", (6000, 4000), (240, 240, 240)),
    ],
    ids=["blank", "one-colour", "8x8", "1x1", "0x0", "300x1", "transparent", "16-bit", "6000x4000"],
)
def test_pictures_without_shapes_give_none(image: Image.Image) -> None:
    assert find_shapes(image) == []


def test_a_huge_picture_still_shows_its_shape() -> None:
    image = Image.new("RGB", (6000, 4000), (240, 240, 240))
    image.paste((0, 160, 0), (2500, 1500, 3500, 2500))
    assert [(s.name, s.color) for s in find_shapes(image)] == [("rectangle", "green")]


def test_irregular_blobs_are_not_taken_for_shapes() -> None:
    """A star and a crescent (as objects in photos are) are not circles, rectangles or triangles."""
    image = Image.new("RGB", (400, 200), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    star = [
        (100 + r * np.cos(a), 100 + r * np.sin(a))
        for k in range(10)
        for a, r in [(np.pi / 5 * k - np.pi / 2, 80 if k % 2 == 0 else 32)]
    ]
    draw.polygon(star, fill=(200, 30, 30))
    draw.ellipse((220, 20, 380, 180), fill=(30, 30, 200))
    draw.ellipse((260, 10, 400, 170), fill=(245, 245, 245))  # bites the disc into a crescent
    draw.rectangle((20, 185, 40, 195), fill=(0, 150, 0))  # a small real one stays
    assert [(s.name, s.color) for s in find_shapes(image)] == [("rectangle", "green")]

"""Questions that name or count a thing in a real photo, asked of the real default model.

"What colour is the bicycle?" takes the colours inside the bicycle's detected box, not the
whole picture's; "Is there ...?", "How many animals ...?" and "What other animal ...?" read
the detected objects; a thing that is not there gets a sentence saying so.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from picture_sources import darknet_photo
from PIL import Image, ImageDraw

from mmchat.engine.base import ChatMessage, Delta, GenerationRequest
from mmchat.engine.hf import HFEngine
from mmchat.engine.registry import resolve
from mmchat.engine.scene_answers import photo_answer
from mmchat.engine.vision.colors import region_colors
from mmchat.engine.vision.words import ColorShare, Detection, Label


@pytest.fixture(scope="module")
def engine() -> Iterator[HFEngine]:
    engine = HFEngine(resolve("default"), threads=2)
    engine.load()
    yield engine
    engine.close()


def ask(engine: HFEngine, question: str, photo: Path) -> str:
    message = ChatMessage("user", question, [photo.read_bytes()])
    request = GenerationRequest(messages=[message], max_new_tokens=40)
    return "".join(e.text for e in engine.stream(request) if isinstance(e, Delta)).strip()


def test_the_colour_of_a_named_thing_is_its_own_not_the_pictures(engine: HFEngine) -> None:
    dog = darknet_photo("dog")  # a dog before a red bicycle; the whole picture is mostly brown
    said = ask(engine, "What colour is the bicycle?", dog)
    assert said.startswith("The bicycle is red"), said
    jacket = ask(engine, "What colour is the person's jacket?", darknet_photo("person"))
    assert jacket == "The person's jacket is blue.", jacket
    # A part a box cannot tell the colour of goes to the decoder's note, as before.
    ask(engine, "What colour are the bird's feet?", darknet_photo("eagle"))
    assert engine.last_plan is not None and engine.last_plan.way == "words"


def test_a_thing_the_detector_named_otherwise_is_answered_with_a_hedge(
    engine: HFEngine,
) -> None:
    # person.jpg's horse is detected as a "sheep", and nothing backs that reading.
    said = ask(engine, "What colour is the horse?", darknet_photo("person"))
    assert "sheep" in said and "white" in said, said


def test_a_thing_that_is_not_there_gets_a_sentence_saying_so(engine: HFEngine) -> None:
    dog = darknet_photo("dog")
    assert ask(engine, "What colour is the horse?", dog) == "I don't see a horse in this picture."
    # The dog's box is also read as a cat, but the classifier backs "dog".
    assert ask(engine, "Is there a cat in the picture?", dog) == "No, I don't see a cat."


def test_is_there_and_how_many_with_a_category_word(engine: HFEngine) -> None:
    kite = darknet_photo("kite")
    assert ask(engine, "Is there a kite in the picture?", kite).startswith("Yes"), kite
    assert ask(engine, "How many animals are there?", darknet_photo("giraffe")) == (
        "There are two animals."
    )


def test_what_other_animal_and_what_animals(engine: HFEngine) -> None:
    giraffe = darknet_photo("giraffe")
    assert ask(engine, "What other animal is in the picture?", giraffe) == "I can also see a zebra."
    listed = ask(engine, "What animals are there?", giraffe)
    assert "giraffe" in listed and "zebra" in listed, listed


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_box_leaves_out_what_stands_before_it_and_what_surrounds_it() -> None:
    picture = Image.new("RGB", (400, 300), (40, 160, 40))  # grass
    draw = ImageDraw.Draw(picture)
    draw.rectangle((100, 50, 300, 250), fill=(200, 20, 20))  # a red thing
    draw.rectangle((150, 100, 250, 280), fill=(30, 30, 200))  # a blue one before it
    red_box = (0.2, 0.1, 0.8, 0.9)  # a little grass inside it, as detector boxes have
    blue_box = (0.375, 0.333, 0.625, 0.933)
    red, blue = region_colors(Image.open(io.BytesIO(png(picture))), [red_box, blue_box])
    assert red[0].name == "red" and "blue" not in [c.name for c in red], red
    assert blue[0].name == "blue", blue


def test_photo_answers_from_detections_and_labels() -> None:
    bicycle = Detection("bicycle", 0.97, (0.2, 0.2, 0.7, 0.7), colors=(ColorShare("red", 0.7),))
    dog = Detection("dog", 0.9, (0.1, 0.4, 0.4, 0.9), (("cat", 0.57),), (ColorShare("black", 1),))
    labels = [Label("dog", 0.82)]
    found = [bicycle, dog]
    assert photo_answer("What colour is the bike?", found, labels) == "The bike is red."
    assert photo_answer("What colour are the cats?", found, labels) == (
        "I don't see any cats in this picture."
    )
    assert photo_answer("Is there a cat?", found) == "Yes, there is a cat."  # nothing backs dog
    assert photo_answer("Are there any people?", found, labels) == "No, I don't see any people."
    assert photo_answer("What vehicles are there?", found, labels) == "I can see a bicycle."
    # A car the classifier names as the main thing (no box): the picture's own colour.
    car = [Label("car", 0.7)]
    assert photo_answer("What colour is the car?", [], car, [ColorShare("blue", 0.8)]) == (
        "The car is blue."
    )
    assert photo_answer("What is the colour of the bicycles?", found, labels) == (
        "The bicycles are red."
    )
    assert photo_answer("Which color is the dog's fur?", found, labels) == (
        "The dog's fur is black."
    )
    assert photo_answer("Can you see a horse?", found, labels) == "No, I don't see a horse."
    assert photo_answer("Do you see any dogs?", found, labels) == "Yes, there is a dog."
    assert photo_answer("What colour is the sky?", found, labels) is None  # not a COCO thing
    assert photo_answer("What colour is it?", found, labels) is None


def test_the_held_out_questions_name_photos_that_exist_and_are_not_the_tuned_ones() -> None:
    import json

    from picture_sources import skimage_picture

    data = Path(__file__).resolve().parent.parent / "bench" / "data"
    held = json.loads((data / "photos_heldout_questions.json").read_text())["questions"]
    photos = json.loads((data / "photos.json").read_text())["photos"]
    ids = {entry["id"] for entry in photos}
    tuned = {(entry["id"], q["q"]) for entry in photos for q in entry.get("questions", [])}
    assert len(held) >= 20
    for question in held:
        source, _, name = question["photo"].partition("/")
        assert question["photo"] in ids or (source == "skimage" and skimage_picture(name).exists())
        assert (question["photo"], question["q"]) not in tuned
        assert question["keywords"] and question["q"].endswith("?")

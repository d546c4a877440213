"""The default model with pictures in the conversation, on real weights and real pictures.

One engine (in-process, as the worker runs it) serves the module; each question kind is asked
of a real photo, a rendered page or drawn shapes, and text turns are held to the text-only
answer token for token.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from fast_reads import counting_reads
from picture_sources import foolbox_photo, skimage_picture
from PIL import Image, ImageDraw

from mmchat.engine.base import ChatMessage, Delta, GenerationRequest
from mmchat.engine.decode import AnswerLimit
from mmchat.engine.hf import HFEngine
from mmchat.engine.image_turn import question_kind
from mmchat.engine.registry import resolve
from mmchat.engine.scene_answers import scene_answer
from mmchat.engine.vision.words import Shape
from mmchat.engine.worker import Worker
from mmchat.training import shapes as drawn
from mmchat.training import text_pictures


@pytest.fixture(scope="module")
def engine() -> Iterator[HFEngine]:
    engine = HFEngine(resolve("default"), threads=2)
    engine.load()
    yield engine
    engine.close()


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def answer(engine: HFEngine, messages: list[ChatMessage], tokens: int = 60) -> str:
    request = GenerationRequest(messages=messages, max_new_tokens=tokens)
    return "".join(e.text for e in engine.stream(request) if isinstance(e, Delta)).strip()


def ask(engine: HFEngine, question: str, picture: bytes | None = None) -> str:
    return answer(engine, [ChatMessage("user", question, [picture] if picture else [])])


DOG = "imagenet_00_243.jpg"  # foolbox: a bull mastiff


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Write a haiku about the sea.",
        "Name three colors of the rainbow.",
        "How do I reverse a list in Python?",
    ],
)
def test_a_text_question_is_answered_as_if_no_picture_were_there(
    engine: HFEngine, prompt: str
) -> None:
    photo = foolbox_photo(DOG).read_bytes()
    without = ask(engine, prompt)
    assert ask(engine, prompt, photo) == without  # attached to this message
    earlier = [
        ChatMessage("user", "What animal is this?", [photo]),
        ChatMessage("assistant", "This is a dog."),
        ChatMessage("user", prompt),
    ]
    plain = [ChatMessage(m.role, m.content) for m in earlier]
    assert answer(engine, earlier) == answer(engine, plain)  # earlier in the conversation
    assert engine.last_plan is None or engine.last_plan.way == "text"


@pytest.mark.parametrize(
    ("picture", "keywords"),
    [
        (lambda: foolbox_photo(DOG), ("dog",)),
        (lambda: foolbox_photo("imagenet_16_251.jpg"), ("dog", "dalmatian")),
        (lambda: skimage_picture("chelsea.png"), ("cat",)),
        (lambda: skimage_picture("coffee.png"), ("coffee", "cup")),
    ],
)
def test_a_photo_is_named(
    engine: HFEngine, picture: Callable[[], Path], keywords: tuple[str, ...]
) -> None:
    said = ask(engine, "What is in this picture?", picture().read_bytes()).lower()
    assert any(word in said for word in keywords), said


def test_what_animal_and_a_follow_up_about_its_colour(engine: HFEngine) -> None:
    photo = skimage_picture("chelsea.png").read_bytes()
    first = ask(engine, "What animal is this?", photo)
    assert "cat" in first.lower()
    follow = [
        ChatMessage("user", "What animal is this?", [photo]),
        ChatMessage("assistant", first),
        ChatMessage("user", "And what colour is it?"),
    ]
    said = answer(engine, follow).lower()
    assert engine.last_plan is not None and engine.last_plan.way == "words"
    assert any(c in said for c in ("brown", "gray", "orange", "black", "white")), said


def test_in_a_chat_with_a_photo_each_turn_reads_only_its_new_message(
    engine: HFEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn about the picture puts its note in the system message and a text turn leaves
    it out; the engine process's idle work after each answer (Worker.prepare_next) reads the
    chat as the next turn of the other kind will, so that turn reads its new message alone."""
    photo = skimage_picture("chelsea.png").read_bytes()
    worker = Worker(io.StringIO())
    worker.engine = engine

    def turn(messages: list[ChatMessage]) -> str:  # one request, as the engine process runs it
        worker.out = io.StringIO()
        request = GenerationRequest(messages=messages, max_new_tokens=40)
        worker.generate({"id": 1, "request": request.to_json()})
        events = [json.loads(line) for line in worker.out.getvalue().splitlines()]
        return "".join(e["text"] for e in events if e["type"] == "delta").strip()

    def new_tokens(*texts: str) -> int:  # the message, the answer's start and the template's
        return sum(len(engine.tokenizer(text)["input_ids"]) for text in texts) + 10

    read = counting_reads(engine.fast, monkeypatch)
    chat = [ChatMessage("user", "What is in this picture?", [photo])]
    chat.append(ChatMessage("assistant", turn(chat)))
    assert "cat" in chat[-1].content.lower()

    haiku = "Write a haiku about the sea."
    chat.append(ChatMessage("user", haiku))
    read.clear()
    said = turn(chat)
    assert engine.last_plan is not None and engine.last_plan.way == "text"
    assert 0 < read[0] <= new_tokens(haiku), read[:3]
    # Token for token equality with the chat read whole is held by the test above; here the
    # kept answer's K/V were written by int8 steps, so the words may differ in the last bits
    # on some CPUs ("reflecting the soul" / "the human soul"): the answer keeps to the sea.
    assert any(w in said.lower() for w in ("sea", "ocean", "wave", "tide")), said
    assert "cat" not in said.lower().split() and "picture" not in said.lower(), said

    colour = "And what colour is it?"
    chat += [ChatMessage("assistant", said), ChatMessage("user", colour)]
    read.clear()
    said = turn(chat).lower()
    assert engine.last_plan is not None and engine.last_plan.way == "words"
    assert 0 < read[0] <= new_tokens(colour, engine.last_plan.prefix), read[:3]
    assert any(c in said for c in ("brown", "gray", "orange", "black", "white")), said


def test_describing_gives_a_sentence_that_names_the_thing(engine: HFEngine) -> None:
    said = ask(engine, "Describe this image.", skimage_picture("chelsea.png").read_bytes())
    assert "cat" in said.lower()
    assert len(said.split()) >= 5 and said.count(".") <= 3, said


def test_the_title_of_a_page_and_what_it_says(engine: HFEngine) -> None:
    picture, _ = text_pictures.page()
    blob = png(picture)
    title = ask(engine, "What is the title?", blob)
    assert "River Water Quality" in title, title
    said = ask(engine, "What does it say?", blob)
    assert "Annual Report" in said, said
    # All of it, to the last line: quoted through the decoder, a page stopped after two or three.
    assert "The full tables follow on the next pages." in said, said
    assert engine.last_plan is not None and engine.last_plan.way == "read"
    # Asked in words that make it an object question, all of it too.
    said = ask(engine, "What's on this document?", blob)
    assert "Annual Report" in said and engine.last_plan.way == "read", said


def test_a_screenshot_is_read_out_in_reading_order(engine: HFEngine) -> None:
    picture, _ = text_pictures.screenshot()
    said = ask(engine, "Can you read this for me?", png(picture))
    fields = ["Settings", "Email address", "alice@example.com", "Cancel", "Save changes"]
    places = [said.find(field) for field in fields]
    assert -1 not in places and places == sorted(places), said
    assert ask(engine, "Is there any text?", png(picture)).startswith("Yes. It says:")


def test_a_question_about_one_field_of_a_screenshot_gets_that_field(engine: HFEngine) -> None:
    picture, _ = text_pictures.screenshot()
    said = ask(engine, "What is the email address?", png(picture))
    assert "alice@example.com" in said and "Cancel" not in said, said


def note_picture() -> bytes:
    """A note as it would be photographed: a greeting, a message, a signature."""
    picture = Image.new("RGB", (900, 420), (250, 248, 238))
    draw = ImageDraw.Draw(picture)
    face = text_pictures.font(44, text_pictures.SERIF)
    rows = ((40, "Hi Priya,"), (130, "The plumber comes at ten tomorrow."), (300, "Love, Tom"))
    for y, text in rows:
        draw.text((60, y), text, font=face, fill=(30, 30, 60))
    return png(picture)


def terminal_picture() -> bytes:
    picture = Image.new("RGB", (1000, 300), (30, 31, 36))
    draw = ImageDraw.Draw(picture)
    rows = [
        "dev@box:~/site$ npm run build",
        "Error: Cannot find module 'webpack'",
        "dev@box:~/site$",
    ]
    for i, text in enumerate(rows):
        draw.text((20, 30 + 60 * i), text, font=text_pictures.font(30), fill=(214, 218, 224))
    return png(picture)


def test_questions_that_name_a_part_of_the_text_by_its_role(engine: HFEngine) -> None:
    note = note_picture()
    assert "Priya" in ask(engine, "Who is the note for?", note)
    assert engine.last_plan is not None and engine.last_plan.way == "read"
    assert "Tom" in ask(engine, "Who wrote the note?", note)
    assert "npm run build" in ask(engine, "What command failed?", terminal_picture())
    picture, _ = text_pictures.screenshot()
    said = ask(engine, "What do the buttons say?", png(picture))
    assert "Cancel" in said and "Save changes" in said, said
    said = ask(engine, "Who is texting me?", lock_screen_picture())
    assert "Dana Whitfield" in said and "bread" in said, said


def lock_screen_picture() -> bytes:
    """A phone's lock screen: the time, the date, and one message notification."""
    picture = Image.new("RGB", (480, 800), (20, 24, 40))
    draw = ImageDraw.Draw(picture)
    draw.text((120, 80), "18:05", font=text_pictures.font(72), fill="white")
    draw.text((150, 170), "Friday 3 October", font=text_pictures.font(22), fill="white")
    draw.rounded_rectangle((30, 300, 450, 420), 16, fill=(60, 64, 80))
    rows = ((315, "MESSAGES"), (345, "Dana Whitfield"), (375, "Can you pick up bread?"))
    for y, text in rows:
        draw.text((50, y), text, font=text_pictures.font(22), fill="white")
    return png(picture)


def ticket_picture() -> bytes:
    """A cinema ticket: the word "ticket" on one row, the price on another."""
    picture = Image.new("RGB", (900, 420), (245, 238, 220))
    draw = ImageDraw.Draw(picture)
    rows = ((30, "ODEON RIVERSIDE"), (110, "Ticket 00417  Screen 3"), (190, "Sat 14 Nov  19:45"))
    rows += ((270, "Adult  £11.50"),)
    for y, text in rows:
        draw.text((50, y), text, font=text_pictures.font(44), fill=(40, 30, 30))
    return png(picture)


def test_a_question_for_a_price_or_time_gets_the_row_that_holds_it(engine: HFEngine) -> None:
    ticket = ticket_picture()
    said = ask(engine, "How much did the ticket cost?", ticket)
    assert "11.50" in said and "00417" not in said, said
    said = ask(engine, "What time does the film start?", ticket)
    assert "19:45" in said, said
    # Named by no word of its text, a price it shows is asked for: about the picture.
    assert "11.50" in ask(engine, "How much do I owe?", ticket)


def test_a_picture_without_text_says_so_when_asked_to_read_it(engine: HFEngine) -> None:
    said = ask(engine, "What does it say?", skimage_picture("chelsea.png").read_bytes())
    assert said == "I can't make out any text in this picture."


@pytest.mark.parametrize("seed", [1_000_003, 1_000_006, 1_000_010])
def test_drawn_shapes_from_another_renderer(engine: HFEngine, seed: int) -> None:
    picture, truth = drawn.render(seed)
    blob = png(picture)
    for question in drawn.questions(seed, truth):
        said = ask(engine, question.text, blob).lower()
        if question.kind == "yes/no":
            assert said.startswith(question.answer), (question, said)
        elif question.kind != "count":
            assert question.answer in said, (question, said)


@pytest.mark.parametrize(
    "picture",
    [
        Image.new("RGB", (640, 480), "white"),
        Image.new("RGB", (8, 8), (40, 90, 200)),
        Image.new("L", (300, 200), 128),
        Image.new("RGBA", (200, 200), (0, 0, 0, 0)),
    ],
)
def test_a_picture_with_nothing_in_it_gets_a_sentence_not_a_stray_word(
    engine: HFEngine, picture: Image.Image
) -> None:
    said = ask(engine, "What is in this picture?", png(picture))
    assert "can't make out" in said and len(said.split()) > 5, said


def test_picture_turns_read_the_int8_rows_not_the_fp32_projection_weights(
    engine: HFEngine,
) -> None:
    """On the CPU the decoder behind picture turns rebuilds each projection's weights from the
    fast path's int8 rows, as the text turns' prompts do: the fp32 projection weights (~425 MB
    of the file) are never read, and the turn still answers."""
    from mmchat.engine.fastpath import RowsLinear

    picture, truth = drawn.render(1_000_003)
    question = next(q for q in drawn.questions(1_000_003, truth) if q.kind == "color")
    assert question.answer in ask(engine, question.text, png(picture)).lower()
    decoder = engine.fusion.decoder
    projections = [m for m in decoder.modules() if isinstance(m, RowsLinear)]
    assert len(projections) == 7 * len(decoder.model.layers)
    names = [name for name, _ in decoder.named_parameters()]
    assert not any(name.endswith("_proj.weight") for name in names)
    assert "model.embed_tokens.weight" in names  # the rest is the decoder's own


def test_the_gate_reads_block_12_without_running_the_rest(engine: HFEngine) -> None:
    import copy

    from mmchat.engine.vision.relevance import message_states

    decoder, tokenizer = engine.fusion.decoder, engine.fusion.tokenizer
    text = "What colour is the car?"
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    # A copy: transformers leaves its output-recording hooks on a model that was asked for
    # hidden states, and hooks keep the engine's decoder off the fast path.
    reference = copy.deepcopy(decoder)
    with torch.inference_mode():
        full = reference.model(input_ids=ids, output_hidden_states=True).hidden_states[12]
    assert torch.equal(message_states(decoder, tokenizer, [text], 12)[0], full[0].mean(dim=0))
    gate = engine.fusion.relevance
    assert gate.about_image(decoder, tokenizer, "What does the sign say?")
    assert not gate.about_image(decoder, tokenizer, "What is the capital of France?")
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in decoder.modules())


def test_the_gate_reads_the_fast_paths_states_on_the_cpu(engine: HFEngine) -> None:
    """The shipped gate was fitted on the int8 fast path's states, which the CPU's turns read;
    transformers' fp32 states (a GPU, `--quant none`) get the same decisions on these."""

    from mmchat.engine.vision.relevance import message_states

    turns = engine.image_turns
    decoder, tokenizer = turns.fusion.decoder, turns.fusion.tokenizer
    gate = turns.fusion.relevance
    assert engine.fast is not None and turns.reader is not None
    text = "What colour is the car?"
    fast = message_states(decoder, tokenizer, [text], gate.layer, turns.reader)
    full = message_states(decoder, tokenizer, [text], gate.layer)
    assert not torch.equal(fast, full)  # int8, not the fp32 forward
    similarity = float(torch.nn.functional.cosine_similarity(fast, full)[0])
    assert similarity > 0.95, similarity  # the same direction, with int8's noise
    about = ("What does the sign say?", "What colour is the car?", "And how many are there?")
    other = ("What is the capital of France?", "Write a haiku about the sea.")
    for reader in (turns.reader, None):
        assert all(gate.about_image(decoder, tokenizer, t, reader) for t in about)
        assert not any(gate.about_image(decoder, tokenizer, t, reader) for t in other)
    photo = foolbox_photo(DOG).read_bytes()
    plan = turns.plan([ChatMessage("user", "What is the capital of France?", [photo])])
    assert plan.way == "text" and plan.about_image < gate.threshold


def test_question_kinds() -> None:
    assert question_kind("What does the sign say?") == "text"
    assert question_kind("Describe this image.") == "describe"
    assert question_kind("Is there a red shape?") == "yesno"
    assert question_kind("What colour is the car?") == "color"
    assert question_kind("How many shapes are there?") == "count"
    assert question_kind("What animal is this?") == "object"


def test_scene_answers_check_the_shapes_found() -> None:
    shapes = [
        Shape("circle", "red", (0.0, 0.1, 0.3, 0.4)),
        Shape("triangle", "blue", (0.6, 0, 0.9, 0.3)),
    ]
    assert scene_answer("Is there a red shape?", shapes) == "Yes."
    assert scene_answer("Does the image not contain a circle?", shapes) == "No."
    assert scene_answer("Is there a square?", shapes) == "No."
    assert scene_answer("How many shapes are there?", shapes) == "There are two shapes."
    assert scene_answer("Is the blue shape left of the red one?", shapes) == "No."
    assert scene_answer("What color is the triangle?", shapes) == "It is blue."
    assert scene_answer("Write a poem", shapes) is None


def test_an_answer_limit_cuts_after_its_sentence_or_quote() -> None:
    assert AnswerLimit(sentences=1).cut("This is a dog. It is") == len("This is a dog.")
    assert AnswerLimit(sentences=1).cut("It is 3.5 m") is None
    assert AnswerLimit(until='"').cut('Hello world" and more') == len('Hello world"')

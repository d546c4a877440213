"""How a turn of mmchat's own fusion model runs when the conversation holds pictures.

    newest user message --relevance gate--> not about the picture: the turn runs as if no
        picture were there (pictures dropped), so the answer is the text-only decoder's
    about the picture --> the newest picture (in that message, else earlier) -> visual words
        - one drawn shape, and a colour or shape question: the fusion layers read the shape
          redrawn in the style they were trained on (easy-vqa's), through cross-attention
        - drawn shapes, and a question a program can check (yes/no, how many, left of, the
          colour of the circle): scene_answers.py answers from the shapes found
        - a photo, and "how many <things>", "is there a <thing>", "what colour is the
          <thing>", "what other animal", "what objects": answered from the objects the
          detector found (each with its own colours), when it knows the thing asked about
        - nothing recognisable at all: say so, without asking the decoder to invent
        - the kinds in MEMORY_KINDS: the visual words as tokens of the cross-attended memory,
          beside the picture's patch tokens (word_memory.py), read through the fusion layers
        - anything else: the visual words as a short note in the system message (LENS), which
          the decoder reads like any other text

The way each question kind goes was chosen by bench/seeing.py's and bench/word_memory.py's
figures, kind by kind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from mmchat.engine.base import ChatMessage, open_picture
from mmchat.engine.decode import AnswerLimit
from mmchat.engine.reading import (
    asks_for_a_value_shown,
    asks_for_text,
    capped,
    line_reply,
    mentions_text,
    quoted_text,
    read_reply,
    values_to_look_for,
)
from mmchat.engine.scene_answers import objects_phrase, photo_answer, scene_answer
from mmchat.engine.text_roles import asks_for_role, role_reply
from mmchat.engine.vision.words import VisualWords

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

    from mmchat.engine.fusion import FusionModel
    from mmchat.engine.vision.perceive import Perception
    from mmchat.engine.vision.relevance import StatesReader
    from mmchat.engine.word_memory import Memory

Way = Literal["text", "fusion", "scene", "read", "words", "memory", "unsure"]
Kind = Literal["text", "describe", "count", "color", "shape", "yesno", "object"]

# Below these, a label or a line of text is not worth telling the decoder about.
MIN_OBJECT_SCORE = 0.15
SURE_OBJECT_SCORE = 0.45
# Drawn shapes get object labels too (a red circle: "ball" 0.55 on easy-vqa's test images):
# only a label this sure says the shapes found are a photo's objects.
PHOTO_OBJECT_SCORE = 0.8
NOTE_TEXT_CHARS = 400
READ_INSTEAD_CHARS = 1200  # a refused answer's stand-in: a page's worth of its text
# Below the gate's threshold but not far: 27% of held-out text-only prompts score this much,
# and 6 of 7 questions about a picture's text that the gate let through.
NEAR_GATE = 0.05

_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("count", re.compile(r"\bhow many\b")),
    (
        "text",
        re.compile(
            r"\b(say|says|said|read|reads|written|writing|text|title|headline|heading|"
            r"transcribe|words?|letters|caption says|label says)\b"
        ),
    ),
    (
        "describe",
        re.compile(
            r"\b(describe|description|caption|what do you see|what can you see|"
            r"tell me about|happening|going on|explain (this|the) (picture|image|photo))\b"
        ),
    ),
    ("yesno", re.compile(r"^\W*(is|are|does|do|can|was|has|have)\b")),
    ("color", re.compile(r"\bcolou?rs?\b")),
    ("shape", re.compile(r"\b(shapes?|circles?|rectangles?|squares?|triangles?)\b")),
)


_DOCUMENTS = re.compile(r"^\s*<documents>.*?</documents>\s*", re.DOTALL)


def own_words(content: str) -> str:
    """The person's message without the retrieved passages a turn puts before it."""
    return _DOCUMENTS.sub("", content, count=1)


def question_kind(text: str) -> Kind:
    lowered = text.lower()
    for kind, pattern in _KINDS:
        if pattern.search(lowered):
            return kind
    return "object"


@dataclass
class TurnPlan:
    way: Way
    messages: list[ChatMessage]  # what the decoder reads: pictures removed
    features: torch.Tensor | Memory | None = None  # the fusion and memory ways' memory
    reply: str | None = None  # the scene, read and unsure ways: the whole answer, no decoder
    about_image: float = 0.0  # the gate's probability
    kind: Kind = "object"
    words: VisualWords | None = None
    prefix: str = ""  # the words way: how the answer starts, given to the decoder
    limit: AnswerLimit | None = None  # the words way: where the answer ends


class ImageTurns:
    """Plans each turn of a fusion model whose conversation holds pictures."""

    def __init__(
        self, fusion: FusionModel, perception: Perception, reader: StatesReader | None = None
    ) -> None:
        self.fusion = fusion
        self.perception = perception
        self.reader = reader  # the relevance gate's states from the fast path, where it runs
        self._features: dict[str, torch.Tensor] = {}
        self._memories: dict[str, Memory] = {}
        # Benchmarks only: take this way regardless of the question (bench/seeing.py compares
        # the fusion and words ways kind by kind).
        self.force_way: Way | None = None
        # (the picture's sha256, its note) of the last words-way turn: with_last_note
        self._last_note: tuple[str, str] | None = None

    def with_last_note(self, messages: Sequence[ChatMessage]) -> list[ChatMessage] | None:
        """The messages, pictures removed, with the note the last words-way turn gave, if it
        was about the newest picture here: how a follow-up about it would likely read them
        (the note changes only with words such as "animal" or "breed" in the question)."""
        if self._last_note is None or not any(m.images for m in messages):
            return None
        key, note = self._last_note
        if hashlib.sha256(newest_picture(messages)).hexdigest() != key:
            return None
        return with_note(without_pictures(messages), note)

    def plan(self, messages: Sequence[ChatMessage]) -> TurnPlan:
        """Decide how this turn reads the conversation's pictures."""
        force_way = self.force_way
        question = own_words(next((m.content for m in reversed(messages) if m.role == "user"), ""))
        plain = without_pictures(messages)
        gate = self.fusion.relevance
        probability = 1.0
        if gate is not None:
            decoder, tokenizer = self.fusion.decoder, self.fusion.tokenizer
            probability = gate.probability(decoder, tokenizer, question, self.reader)
        kind = question_kind(question)
        asks_text = asks_for_text(question) or asks_for_role(question)
        below = gate is not None and probability < gate.threshold and not asks_text
        blob = newest_picture(messages)
        key = hashlib.sha256(blob).hexdigest()
        near = probability >= NEAR_GATE
        if (
            below
            and force_way is None
            and (near or (messages[-1].images and values_to_look_for(question)))
        ):
            # Questions about a picture's text read to the gate as text questions ("How much
            # was the cheddar?", 0.14): one near the threshold that names a word of the text is
            # about the picture, and so is one that asks for a form of value the text holds (a
            # price, a time, a phone number), near it or, with the picture sent with this very
            # message, at any score ("How much is my bill?", 0.05). Of 7,106 pairs of a
            # text-only prompt (bench/data's 209) and a text picture (34), 7 ask for a value
            # the picture shows, against 309 that name one of its words. The text is looked for
            # when the picture came with this message (perception runs anyway for most of
            # those) or was read before; a later turn is never slowed.
            known = self.perception.cached(key)
            if known is None and messages[-1].images:
                known = self.perception.words(key, lambda: open_picture(blob))
            below = not (
                known is not None
                and bool(known.text)
                and (
                    asks_for_a_value_shown(question, known)
                    or (near and mentions_text(question, known))
                )
            )
        if force_way == "text" or (force_way is None and below):
            return TurnPlan("text", plain, about_image=probability, kind=kind)
        words = self.perception.words(key, lambda: open_picture(blob))
        plan = TurnPlan("words", plain, about_image=probability, kind=kind, words=words)
        # The text as it stands (reading.py), asked in words of any kind: "What's on this
        # flyer?" is an object question by its words, and went to the decoder.
        reads = kind == "text" or asks_for_text(question)
        if force_way is None and reads and (read := read_reply(question, words)):
            plan.way, plan.reply = "read", read
            return plan
        if force_way is None and (role := role_reply(question, words)):
            plan.way, plan.reply = "read", role  # the row in the role it names (text_roles.py)
            return plan
        about_part = kind in ("text", "object") and not _NAMES_THING.search(question.lower())
        about_part = about_part or (kind == "count" and bool(words.text))  # "How many tablets?"
        if force_way is None and about_part and (line := line_reply(question, words)):
            plan.way, plan.reply = "read", line  # the row of text the question names
            return plan
        if is_drawing(words):
            answer = scene_answer(question, words.shapes)
        else:
            answer = photo_answer(question, words.detections, words.objects, words.colors)
        way = force_way or choose_way(kind, words, answer)
        if way == "memory" and self.fusion.words is None:
            way = "words"  # a fusion folder without a trained word projector
        if way == "fusion" and one_known_shape(words):
            plan.way = "fusion"
            plan.features = self._shape_features(words)
        elif way == "memory":
            plan.way = "memory"
            plan.features = self._word_memory(key, open_picture(blob), words)
            plan.prefix, plan.limit = answer_shape(kind, question, words)
        elif way == "scene" and answer:
            plan.way = "scene"
            plan.reply = answer
        elif way == "unsure":
            plan.way = "unsure"
            plan.reply = unsure_reply(words)
        else:
            note = words_note(words, question)
            plan.messages = with_note(plain, note)
            plan.prefix, plan.limit = answer_shape(kind, question, words)
            self._last_note = (key, note)
        return plan

    def _word_memory(self, key: str, picture: Image, words: VisualWords) -> Memory:
        """The picture's patch tokens and its visual words as memory tokens (kept per picture
        for follow-ups, like its words)."""
        import torch

        from mmchat.engine.word_memory import word_entries

        if key not in self._memories:
            with torch.no_grad():
                patches = self.fusion.encode_images([picture])
                memory = self.fusion.word_memory(patches, [word_entries(words)])
            self._memories = {key: memory}  # the newest picture's only: one is asked about
        return self._memories[key]

    def _shape_features(self, words: VisualWords) -> torch.Tensor:
        shape = words.shapes[0]
        key = f"{shape.name}:{shape.color}"
        if key not in self._features:
            self._features[key] = self.fusion.encode_images(
                [canonical_shape(shape.name, shape.color)]
            )
        return self._features[key]


_TITLE = re.compile(r"\b(title|headline|heading)\b")


# A question that asks what the picture shows, not about what its text says.
_NAMES_THING = re.compile(
    r"\b(what|which)\b.*\b(this|that|it|there|picture|image|photo|animal|vehicle|object|thing|food"
    r"|kind|type|breed|species)\b"
)


def answer_shape(kind: Kind, question: str, words: VisualWords) -> tuple[str, AnswerLimit]:
    """How a words-way answer starts and where it ends, by question kind. The start puts the
    fact the question asks for where the decoder continues from it (a colour question that
    began freely was answered with the animal's breed); describing gets two sentences. Of a
    picture with text, "When is the event?" begun "The picture shows" got "a book": only a
    question about what the picture shows is begun so there."""
    asked = question.lower()
    if kind == "text" and words.text:
        if _TITLE.search(asked):
            return 'The title is "', AnswerLimit(until='"')
        if read_reply(question, words) is not None:  # the whole text, asked of a forced way
            return 'It says: "', AnswerLimit(until='"')
        return "", AnswerLimit(sentences=1)  # one part of it ("What does the button say?")
    if kind == "color" and words.colors:
        return "It is mostly", AnswerLimit(sentences=1)
    if kind == "describe":
        # Begun for it, the second sentence took the note's colours; begun freely ("This image
        # is a malamute."), it was more often the decoder's own invention ("native to Australia").
        return "The picture shows", AnswerLimit(sentences=2)
    if kind == "object" and words.objects and (not words.text or _NAMES_THING.search(asked)):
        # Begun freely, "What is in this picture?" named whichever object the note listed
        # last, and "What animal is this?" was as often "a cat" as the note's horse.
        return "The picture shows", AnswerLimit(sentences=1)
    return "", AnswerLimit(sentences=1)


# Photos and text pictures: the kinds whose visual words go through the fusion layers as memory
# tokens; the others get them as a note in the prompt. Chosen kind by kind by
#     .venv/bin/python bench/word_memory.py
# (the same pictures and questions both ways, held-out prompts included).
MEMORY_KINDS: frozenset[Kind] = frozenset()


def choose_way(kind: Kind, words: VisualWords, answer: str | None) -> Way:
    """By bench/seeing.py's figures: one drawn shape in a colour the fusion layers know goes to
    them for colour and shape; what a program could answer (`answer`, from the drawn shapes or
    a photo's detected objects) goes to the scene. Other pictures: by bench/word_memory.py's,
    the fusion's word memory or the prompt's note."""
    if is_drawing(words) and one_known_shape(words) and kind in ("color", "shape"):
        return "fusion"
    if answer is not None:
        return "scene"
    if not recognised(words):
        return "unsure"
    return "memory" if kind in MEMORY_KINDS else "words"


def one_known_shape(words: VisualWords) -> bool:
    """One shape, in a colour the fusion layers were trained on (easy-vqa's)."""
    return len(words.shapes) == 1 and words.shapes[0].color in PALETTE


def is_drawing(words: VisualWords) -> bool:
    """A picture of drawn shapes: find_shapes drops blobs that fit no form (objects in
    photos); a confident object label or text says it is something else all the same."""
    # The classifier's labels only (a detection has a box): to the detector a drawn circle is
    # a frisbee and a triangle a kite, as surely as a photo's objects.
    labels = [o for o in words.objects if o.box is None]
    sure = bool(labels) and labels[0].score >= PHOTO_OBJECT_SCORE
    return bool(words.shapes) and not words.text and not sure


def recognised(words: VisualWords) -> bool:
    """Whether perception found anything worth saying beyond colours."""
    objects = [o for o in words.objects if o.score >= MIN_OBJECT_SCORE]
    return bool(objects or words.text or is_drawing(words))


def newest_picture(messages: Sequence[ChatMessage]) -> bytes:
    """The picture a question refers to: the newest one in the conversation."""
    for message in reversed(messages):
        if message.images:
            return message.images[-1]
    raise ValueError("the conversation holds no picture")


_DETAIL = re.compile(r"\b(breed|kind|type|species|sort|model|make|describe|description)\b")
_ASKED_KINDS = {"animal": "animal", "vehicle": "vehicle", "car": "vehicle", "food": "food"}


def words_note(words: VisualWords, question: str = "") -> str:
    """The visual words as the few sentences a 135M decoder reads best (measured against a
    bulleted list with percentages, which it quoted back or contradicted). The finer label
    only when the question asks for it: beside the common noun the decoder preferred it
    ("What is in this picture?" -> "a bull mastiff")."""
    lowered = question.lower()
    asks_detail = bool(_DETAIL.search(lowered))
    sentences = ["You can see a picture the user attached."]
    asked = next((k for w, k in _ASKED_KINDS.items() if re.search(rf"\b{w}\b", lowered)), None)
    objects = [o for o in words.objects if o.score >= MIN_OBJECT_SCORE]
    shapes = words.shapes if is_drawing(words) else []
    if shapes:
        sentences.append(_shapes_sentence(shapes))
    elif objects:
        top = objects[0]
        if top.score >= SURE_OBJECT_SCORE:
            sentences.append(f"The picture shows {_article(top.name)}.")
        else:
            sentences.append(f"The picture may show {_article(top.name)}, but it is not clear.")
        if asks_detail and top.detail and top.detail.lower() != top.name:
            sentences.append(f"The {top.name} looks like {_article(top.detail.lower())}.")
        others = [o.name for o in objects[1:3] if o.name != top.name]
        if others and top.score < SURE_OBJECT_SCORE:
            sentences.append(f"It could also be {' or '.join(_article(o) for o in others)}.")
        if asked and _kind_of(top.name) not in (asked, None):
            sentences.append(f"There is no {asked} in it.")
    elif not words.text:
        sentences.append("No object in it could be recognised.")
    if not shapes and not asked:
        # The main thing named above is left out here, and this goes before it: the decoder
        # answered "What is in this picture?" with the objects listed last ("a bicycle and a
        # car" for a dog photo). Not for "What animal is this?": the list led it astray.
        named = objects[0].name if objects else None
        other_detections = [d for d in words.detections if d.name != named]
        if found := objects_phrase(other_detections):
            also = f"Other objects in it: {found}." if named else f"The objects in it are {found}."
            sentences.insert(1 if named else len(sentences), also)
    if words.colors:
        sentences.append(f"Its main colours are {_and([c.name for c in words.colors[:3]])}.")
    if words.text:
        sentences.append(f'The text in it reads: "{picture_text(words)}"')
    return " ".join(sentences)


def _kind_of(noun: str) -> str | None:
    from mmchat.engine.vision.classify import noun_kind

    return noun_kind(noun)


def picture_text(words: VisualWords) -> str:
    """The recognised lines, in reading order, as plain quoted data."""
    return capped(quoted_text(words.text), NOTE_TEXT_CHARS)


def without_pictures(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages as a turn that leaves the pictures out reads them."""
    return [replace(m, images=[]) for m in messages]


def with_note(messages: list[ChatMessage], note: str) -> list[ChatMessage]:
    """The messages with the note at the end of the system message (one is added if none)."""
    if messages and messages[0].role == "system":
        first = replace(messages[0], content=f"{messages[0].content}\n\n{note}")
        return [first, *messages[1:]]
    return [ChatMessage("system", f"You are a helpful assistant. {note}"), *messages]


def text_instead(words: VisualWords) -> str | None:
    """What an answer that opens by refusing is replaced by (refusal_guard.py): the picture's
    text, said to be only that; None for a picture without text."""
    if not words.text:
        return None
    text = capped(quoted_text(words.text), READ_INSTEAD_CHARS)
    return f'I can\'t tell that from the picture by myself. Its text reads: "{text}"'


def unsure_reply(words: VisualWords) -> str:
    colours = [c.name for c in words.colors[:2]]
    seen = f" I can only tell that it is mostly {_and(colours)}." if colours else ""
    return f"I can't make out what this picture shows: I recognise no object or text in it.{seen}"


def _shapes_sentence(shapes: Sequence[Any]) -> str:
    described = [f"{_article(s.color + ' ' + s.name)} {_where(s.box)}" for s in shapes[:6]]
    count = len(shapes)
    noun = "shape" if count == 1 else "shapes"
    return f"The picture is a drawing of {count} {noun}: {_and(described)}."


def _where(box: tuple[float, float, float, float]) -> str:
    centre = (box[0] + box[2]) / 2
    if centre < 0.4:
        return "on the left"
    if centre > 0.6:
        return "on the right"
    return "in the middle"


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


# easy-vqa's colours as its pictures hold them (measured: mean RGB of each colour's pixels
# over 400 training images); the fusion layers learnt colour words from exactly these.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 30, 30),
    "green": (40, 255, 40),
    "blue": (40, 40, 255),
    "yellow": (255, 255, 30),
    "black": (30, 30, 30),
    "gray": (145, 145, 145),
    "teal": (30, 146, 146),
    "brown": (176, 66, 66),
}


def canonical_shape(name: str, color: str) -> Image:
    """One shape drawn as easy-vqa draws it: 64 px, near-white ground, centred, one colour."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    picture = PILImage.new("RGB", (64, 64), (248, 248, 244))
    draw = ImageDraw.Draw(picture)
    fill = PALETTE[color]
    if name == "circle":
        draw.ellipse((18, 18, 46, 46), fill=fill)
    elif name == "triangle":
        draw.polygon([(32, 14), (50, 46), (14, 46)], fill=fill)
    else:
        draw.rectangle((16, 20, 48, 44), fill=fill)
    return picture

"""Answers computed from the shapes perception found, for questions a program can check.

"Is there a red shape?", "Does the image not contain a circle?", "How many shapes are there?",
"Is the red shape left of the blue one?" have one right answer given the shapes found; a 135M
decoder told the shapes in words answers yes/no near chance (bench/seeing.py),
so these run as a small program over the scene instead (as neural-symbolic VQA does). Anything
the patterns do not cover returns None and goes the decoder's way. On photos, the same kinds
of question ("How many horses are there?", "Is there a dog?") are answered from the objects
the detector found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mmchat.engine.vision.words import Detection, Shape

SHAPE_WORDS = {
    "circle": "circle",
    "circles": "circle",
    "rectangle": "rectangle",
    "rectangles": "rectangle",
    "square": "rectangle",
    "squares": "rectangle",
    "triangle": "triangle",
    "triangles": "triangle",
}
COLOR_WORDS = "red orange yellow green teal blue purple pink brown black white gray grey".split()
_NEGATED = re.compile(r"\b(not|no|n't|without)\b")
_LEFT = re.compile(r"\b(\w+) (?:shape|one|\w+) (?:to the )?left of the (\w+)")
_RIGHT = re.compile(r"\b(\w+) (?:shape|one|\w+) (?:to the )?right of the (\w+)")
_NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def scene_answer(question: str, shapes: Sequence[Shape]) -> str | None:
    text = question.lower().replace("grey", "gray").replace("colour", "color")
    if re.search(r"\bhow many\b", text):
        return _count(text, shapes)
    if asked := _WHAT.search(text):
        return _attribute(asked.group(1), asked.group(2), shapes)
    if not re.match(r"^\W*(is|are|does|do|can|has)\b", text):
        return None
    if (side := _side(text, shapes)) is not None:
        return side
    colors = [c for c in COLOR_WORDS if re.search(rf"\b{c}\b", text)]
    kinds = [SHAPE_WORDS[w] for w in re.findall(r"\b\w+\b", text) if w in SHAPE_WORDS]
    if not colors and not kinds:
        return None
    match = any(
        (not colors or shape.color in colors) and (not kinds or shape.name in kinds)
        for shape in shapes
    )
    if _NEGATED.search(text):
        match = not match
    return "Yes." if match else "No."


_WHAT = re.compile(r"^\W*what (color|shape) is (?:the |this |it)?\s*(\w+)?")


def _attribute(attribute: str, word: str | None, shapes: Sequence[Shape]) -> str | None:
    """ "What colour is the circle?" / "What shape is the red one?" / "... is this?"."""
    target = _pick(word, shapes) if word and word not in ("shape", "one", "it") else None
    if target is None and len(shapes) == 1:
        target = shapes[0]
    if target is None:
        return None
    if attribute == "color":
        return f"It is {target.color}."
    return f"It is {'an' if target.name[0] in 'aeiou' else 'a'} {target.name}."


def _count(text: str, shapes: Sequence[Shape]) -> str:
    colors = [c for c in COLOR_WORDS if re.search(rf"\b{c}\b", text)]
    kinds = [SHAPE_WORDS[w] for w in re.findall(r"\b\w+\b", text) if w in SHAPE_WORDS]
    chosen = [
        s for s in shapes if (not colors or s.color in colors) and (not kinds or s.name in kinds)
    ]
    what = f"{' '.join(colors)} {kinds[0] if kinds else 'shape'}".strip()
    count = len(chosen)
    word = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
    noun = what if count == 1 else f"{what}s"
    verb = "is" if count == 1 else "are"
    return f"There {verb} {word} {noun}."


def _side(text: str, shapes: Sequence[Shape]) -> str | None:
    for pattern, left in ((_LEFT, True), (_RIGHT, False)):
        found = pattern.search(text)
        if not found:
            continue
        first, second = _pick(found.group(1), shapes), _pick(found.group(2), shapes)
        if first is None or second is None or first is second:
            return None
        a, b = _centre(first), _centre(second)
        return "Yes." if (a < b) == left else "No."
    return None


def _pick(word: str, shapes: Sequence[Shape]) -> Shape | None:
    matches = [s for s in shapes if word in (s.color, s.name) or SHAPE_WORDS.get(word) == s.name]
    return matches[0] if len(matches) == 1 else None


def _centre(shape: Shape) -> float:
    return (shape.box[0] + shape.box[2]) / 2


# --- photos: the same kinds of question, answered from the objects a detector found -------

# Below this a detection is not counted or listed: under it, one object's box comes back
# beside another's (a zebra's box repeated across the giraffe next to it).
COUNT_SCORE = 0.65
# "Is there ...?" takes a box's second reading too, if it is this sure (a horse read "sheep").
PRESENT_SCORE = 0.4
_LIST = re.compile(
    r"\b(what|which|list|name)\b.*\b(objects|things|items)\b|\bwhat objects?\b|\blist (?:the|all)\b"
)
_THERE = re.compile(
    r"^\W*(is|are)\s+there\b|^\W*(does|do)\s+(it|this|the \w+)\s+(show|have|contain)"
)
_SYNONYMS = {
    "people": "person", "persons": "person", "man": "person", "men": "person",
    "woman": "person", "women": "person", "child": "person", "children": "person",
    "kid": "person", "kids": "person", "boy": "person", "girl": "person", "human": "person",
    "humans": "person", "bike": "bicycle", "motorbike": "motorcycle", "plane": "airplane",
    "aeroplane": "airplane", "sofa": "couch", "table": "dining table", "television": "tv",
    "phone": "cell phone", "ball": "sports ball", "puppy": "dog", "puppies": "dog",
    "kitten": "cat", "pony": "horse", "ponies": "horse", "cattle": "cow", "doughnut": "donut",
}  # fmt: skip
_GROUPS = {
    "animal": (
        "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"
    ),
    "vehicle": ("bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"),
}  # fmt: skip
_IRREGULAR = {"person": "people", "sheep": "sheep", "knife": "knives", "skis": "skis"}


def photo_answer(question: str, detections: Sequence[Detection]) -> str | None:
    """ "How many horses are there?", "Is there a dog?", "What objects are in it?" from the
    detections; None when the question names nothing the detector knows."""
    text = question.lower().strip()
    if re.search(r"\bhow many\b", text):
        wanted = _asked(text.split("how many", 1)[1])
        return None if wanted is None else _count_objects(wanted, detections)
    if _LIST.search(text):
        return list_objects(detections)
    if _THERE.search(text) and (wanted := _asked(text)) is not None:
        names, noun = wanted
        present = [d for d in detections if any(d.may_be(n, PRESENT_SCORE) for n in names)]
        if _NEGATED.search(text):
            return "No." if present else "Yes."
        return "Yes." if present else "No."
    return None


def list_objects(detections: Sequence[Detection]) -> str | None:
    listed = objects_phrase(detections)
    return f"I can see {listed}." if listed else None


def objects_phrase(detections: Sequence[Detection]) -> str:
    """The objects detected surely enough, counted: "a dog, a bicycle and two cars"."""
    counts: dict[str, int] = {}
    for found in detections:
        if found.score >= COUNT_SCORE:
            counts[found.name] = counts.get(found.name, 0) + 1
    parts = [_amount(count, name) for name, count in counts.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _asked(text: str) -> tuple[tuple[str, ...], str] | None:
    """The COCO classes a phrase asks about, and the noun it used: "horses" -> (horse,)."""
    from mmchat.engine.vision.detect import coco_classes

    names = set(coco_classes().values())
    words = re.findall(r"[a-z]+", text)
    for size in (2, 1):  # "hot dog", "stop signs" before "dog"
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i : i + size])
            for candidate in (phrase, phrase[:-1] if phrase.endswith("s") else phrase):
                if candidate in _GROUPS:
                    return _GROUPS[candidate], candidate
                name = _SYNONYMS.get(phrase) or (candidate if candidate in names else None)
                if name is not None:
                    return (name,), name
                if phrase.endswith("es") and phrase[:-2] in names:
                    return (phrase[:-2],), phrase[:-2]
    return None


def _count_objects(wanted: tuple[tuple[str, ...], str], detections: Sequence[Detection]) -> str:
    names, noun = wanted
    count = sum(1 for d in detections if d.name in names and d.score >= COUNT_SCORE)
    if count == 0:
        return f"I can't see any {_plural(noun)}."
    return f"There {'is' if count == 1 else 'are'} {_amount(count, noun)}."


def _amount(count: int, noun: str) -> str:
    if count == 1:
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    word = _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)
    return f"{word} {_plural(noun)}"


def _plural(noun: str) -> str:
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    return f"{noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{noun}s"

"""Answers computed from the shapes perception found, for questions a program can check.

"Is there a red shape?", "Does the image not contain a circle?", "How many shapes are there?",
"Is the red shape left of the blue one?" have one right answer given the shapes found; a 135M
decoder told the shapes in words answers yes/no near chance (bench/seeing.py),
so these run as a small program over the scene instead (as neural-symbolic VQA does). Anything
the patterns do not cover returns None and goes the decoder's way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mmchat.engine.vision.words import Shape

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

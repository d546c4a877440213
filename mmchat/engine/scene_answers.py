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

from mmchat.engine.vision.words import ColorShare, Detection, Label, Shape

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
# A classifier label this sure names the picture's main thing (image_turn's SURE_OBJECT_SCORE).
SURE_SCORE = 0.45
_LIST = re.compile(
    r"\b(what|which|list|name)\b.*\b(objects|things|items)\b|\bwhat objects?\b|\blist (?:the|all)\b"
)
_THERE = re.compile(
    r"^\W*(is|are)\s+there\b|^\W*(does|do)\s+(it|this|the \w+)\s+(show|have|contain)"
    r"|^\W*(can|do)\s+you\s+see\b"
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


def photo_answer(
    question: str,
    detections: Sequence[Detection],
    labels: Sequence[Label] = (),
    colors: Sequence[ColorShare] = (),
) -> str | None:
    """ "How many horses are there?", "Is there a dog?", "What colour is the bicycle?", "What
    other animal is there?", "What objects are in it?" from the detections (and the
    classifier's `labels` and the picture's `colors` for a thing the detector missed); None
    when the question names nothing the detector knows."""
    text = question.lower().strip().replace("colour", "color")
    if re.search(r"\bhow many\b", text):
        wanted = _asked(text.split("how many", 1)[1])
        return None if wanted is None else _count_objects(wanted, detections, labels)
    if _LIST.search(text):
        return list_objects(detections)
    if asked := _COLOR_OF.search(text):
        return _color_of(asked.group(2), asked.group(1) == "are", detections, labels, colors)
    if asked := _COLOR_OF_FORM.search(text):  # "What is the colour of the chairs?"
        first = asked.group(1).split()[0]
        plural = first.endswith("s") and not first.endswith("ss") or first == "people"
        return _color_of(asked.group(1), plural, detections, labels, colors)
    if asked := _WHICH.search(text):
        return _which(asked, detections, labels)
    if _THERE.search(text) and (wanted := _asked(text)) is not None:
        return _there(text, wanted, detections, labels)
    return None


# "What colour is the bicycle?", "What colour are the chairs?", "... is the person's jacket?"
_THE = r"(?:the|this|that|these|those|his|her|its|their)"
_COLOR_OF = re.compile(rf"\b(?:what|which) colors? (is|are) {_THE} ([^?.!]+)")
_COLOR_OF_FORM = re.compile(rf"\bwhat(?:'s| is| are) the colors? of {_THE} ([^?.!]+)")
_POSSESSIVE = re.compile(r"^(.+?)(?:'s|s'|\u2019s) (\w+)")
# A part whose colour is the whole object's, seen from afar: a person's clothes, an animal's
# coat. Any other part (a bird's feet, a car's wheels) is not told by the object's box.
_COVERING = frozenset(
    "jacket coat shirt t-shirt top suit dress jumper sweater hoodie clothes clothing outfit "
    "uniform fur hair body paint paintwork".split()
)
# "What animals are there?", "What other animal is in the picture?", "Which vehicles ...?"
_WHICH = re.compile(
    r"\b(?:what|which)\s+(other\s+)?(?:kinds? of |sorts? of |types? of )?(animal|vehicle)(s?)\b"
)
# A classifier label this sure says the picture shows the thing (its main subject) when the
# detector did not find it; half as sure, it may.
LABEL_SCORE = 0.3


def _color_of(
    phrase: str,
    plural: bool,
    detections: Sequence[Detection],
    labels: Sequence[Label],
    colors: Sequence[ColorShare],
) -> str | None:
    """The asked thing's own colours: its detected boxes', or the picture's when the
    classifier names it as the main thing; None for a thing or part this cannot tell."""
    asked = phrase.strip()
    if owned := _POSSESSIVE.match(asked):
        if owned.group(2) not in _COVERING:
            return None
        phrase = owned.group(1)
    wanted = _asked(phrase)
    if wanted is None:
        return None
    names, noun = wanted
    said = asked if len(asked.split()) <= 4 else (_plural(noun) if plural else noun)
    subject = f"The {said} {'are' if plural else 'is'}"
    boxes = [d for d in detections if d.colors and _is_one_of(d, names, labels)]
    if boxes:
        return f"{subject} {_color_words(boxes)}."
    if _labelled(wanted, labels, LABEL_SCORE) and colors:
        return f"{subject} {_and([c.name for c in _main_colors(colors)])}."
    if (other := _mistaken_for(wanted, detections, labels)) is not None and other.colors:
        taken = f"the {_kind_word(other.name)} I took for {_article(other.name)}"
        return f"If you mean {taken}, it is {_color_words([other])}."
    if any(d.name in names for d in detections) or _labelled(wanted, labels, LABEL_SCORE / 2):
        return f"I can't tell: I am not sure there is {_some(noun, plural)} in this picture."
    return f"I don't see {_some(noun, plural)} in this picture."


def _is_one_of(found: Detection, names: Sequence[str], labels: Sequence[Label]) -> bool:
    """Whether a detected object is one of `names`: by its best reading, or by a second one
    (a horse read "sheep") unless the classifier backs the best (a dog also read "cat")."""
    if found.name in names:
        return found.score >= PRESENT_SCORE
    if _backed(found, labels):
        return False
    return any(found.may_be(name, PRESENT_SCORE) for name in names)


def _backed(found: Detection, labels: Sequence[Label]) -> bool:
    return any(
        label.box is None and label.name == found.name and label.score >= LABEL_SCORE
        for label in labels
    )


def _mistaken_for(
    wanted: tuple[tuple[str, ...], str], detections: Sequence[Detection], labels: Sequence[Label]
) -> Detection | None:
    """The one object of the asked thing's kind that the detector named otherwise, unbacked by
    the classifier: asked about a horse where it found only a "sheep", the person likely
    means that animal (the detector's animal classes are often confused)."""
    names, _ = wanted
    group = next((g for g, members in _GROUPS.items() if set(names) <= set(members)), None)
    if group is None:
        return None
    others = [
        d
        for d in detections
        if d.score >= PRESENT_SCORE
        and d.name in _GROUPS[group]
        and d.name not in names
        and not _backed(d, labels)
    ]
    return others[0] if len(others) == 1 else None


def _kind_word(name: str) -> str:
    return next((group for group, members in _GROUPS.items() if name in members), "thing")


def _color_words(boxes: Sequence[Detection]) -> str:
    """The colours of the boxes together, each box weighing by its area."""
    totals: dict[str, float] = {}
    for box in boxes:
        area = (box.box[2] - box.box[0]) * (box.box[3] - box.box[1])
        for share in box.colors:
            totals[share.name] = totals.get(share.name, 0.0) + share.share * area
    whole = sum(totals.values()) or 1.0
    merged = [ColorShare(name, value / whole) for name, value in totals.items()]
    return _and([c.name for c in _main_colors(sorted(merged, key=lambda c: -c.share))])


# A second colour is named when it covers at least this much of the thing (a black and white
# dog); less is shading and edges.
SECOND_COLOR = 0.2


def _main_colors(colors: Sequence[ColorShare]) -> list[ColorShare]:
    return [colors[0], *(c for c in colors[1:2] if c.share >= SECOND_COLOR)]


def _labelled(
    wanted: tuple[tuple[str, ...], str], labels: Sequence[Label], min_score: float
) -> bool:
    """Whether the classifier (not the detector: its labels have no box) names the thing, or
    a thing of the asked kind ("animal": a tiger)."""
    from mmchat.engine.vision.classify import noun_kind

    names, noun = wanted
    return any(
        label.box is None
        and label.score >= min_score
        and (label.name in names or noun_kind(label.name) == noun)
        for label in labels
    )


def _there(
    text: str,
    wanted: tuple[tuple[str, ...], str],
    detections: Sequence[Detection],
    labels: Sequence[Label],
) -> str:
    names, noun = wanted
    present = [d for d in detections if _is_one_of(d, names, labels)]
    seen = bool(present) or _labelled(wanted, labels, LABEL_SCORE)
    if _NEGATED.search(text):
        return "No." if seen else "Yes."
    if seen:
        count = sum(1 for d in present if d.score >= COUNT_SCORE)
        amount = _amount(count, noun) if count else _article(noun)
        return f"Yes, there {'are' if count > 1 else 'is'} {amount}."
    plural = bool(re.match(r"^\W*are\b", text))
    if (other := _mistaken_for(wanted, detections, labels)) is not None:
        kind = _kind_word(other.name)
        return f"I can't tell for sure: I see {_article(kind)} I took for {_article(other.name)}."
    if any(d.name in names for d in detections) or _labelled(wanted, labels, LABEL_SCORE / 2):
        return f"I can't tell for sure: there may be {_some(noun, plural)}."
    return f"No, I don't see {_some(noun, plural)}."


def _which(
    asked: re.Match[str], detections: Sequence[Detection], labels: Sequence[Label]
) -> str | None:
    """ "What animals are there?" / "What other animal is in it?": the kinds detected; the
    singular without "other" ("What animal is this?") is the main thing's, not answered here."""
    from mmchat.engine.vision.classify import noun_kind

    other, group, plural = bool(asked.group(1)), asked.group(2), bool(asked.group(3))
    if not other and not plural:
        return None
    members = _GROUPS[group]
    counts: dict[str, int] = {}
    for found in detections:
        if found.name in members and found.score >= COUNT_SCORE:
            counts[found.name] = counts.get(found.name, 0) + 1
    for label in labels:  # a thing COCO has no class for (a tiger), named surely
        if label.box is None and label.score >= SURE_SCORE and noun_kind(label.name) == group:
            counts.setdefault(label.name, 1)
    if other and labels and labels[0].name in counts:  # the main thing is not "other"
        counts[labels[0].name] -= 1
    parts = [_amount(count, name) for name, count in counts.items() if count > 0]
    if not parts:
        return f"I don't see any other {group}." if other else None
    return f"I can {'also ' if other else ''}see {_and(parts)}."


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


def _count_objects(
    wanted: tuple[tuple[str, ...], str],
    detections: Sequence[Detection],
    labels: Sequence[Label] = (),
) -> str:
    names, noun = wanted
    count = sum(1 for d in detections if d.name in names and d.score >= COUNT_SCORE)
    if count == 0 and _labelled(wanted, labels, SURE_SCORE):
        return f"There is {_article(noun)}."  # the classifier's main thing: one, at least
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


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _some(noun: str, plural: bool) -> str:
    return f"any {_plural(noun)}" if plural else _article(noun)


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"

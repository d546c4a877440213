"""Visual words: what the perception modules tell about one picture, in words and numbers.

LENS (Berrios et al., 2023) showed that a language model that cannot see can answer questions
about a picture from such words: object labels with their probabilities, colours, recognised
text. Each module fills its own field; the engine turns them into what the decoder reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width and height


@dataclass(frozen=True)
class Label:
    """A thing the picture shows: a common noun ("dog") and the model's own finer label."""

    name: str
    score: float  # probability, 0..1
    detail: str = ""  # e.g. "golden retriever"
    box: Box | None = None  # where it is, when a detector found it


@dataclass(frozen=True)
class ColorShare:
    name: str  # a basic colour term: red, orange, yellow, green, blue, purple, pink, brown, ...
    share: float  # fraction of the picture's foreground (or of the whole, when there is none)


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float  # the recogniser's confidence, 0..1
    box: Box


@dataclass(frozen=True)
class Shape:
    name: str  # circle, rectangle, triangle
    color: str  # a basic colour term
    box: Box


@dataclass(frozen=True)
class Detection:
    """One object a detector found: a COCO class name ("person", "horse"), where it is."""

    name: str
    score: float  # the detector's confidence, 0..1
    box: Box
    others: tuple[tuple[str, float], ...] = ()  # other classes the box may be, fairly surely
    colors: tuple[ColorShare, ...] = ()  # the object's own main colours, largest share first

    def may_be(self, name: str, min_score: float) -> bool:
        """Whether this object is `name`, or may well be (its second reading)."""
        if self.name == name:
            return self.score >= min_score
        return any(other == name and score >= min_score for other, score in self.others)


@dataclass
class VisualWords:
    width: int
    height: int
    objects: list[Label] = field(default_factory=list)
    colors: list[ColorShare] = field(default_factory=list)
    text: list[TextLine] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)  # most confident first
    seconds: dict[str, float] = field(default_factory=dict)  # time each module took

    def counts(self, min_score: float) -> dict[str, int]:
        """How many objects of each class were detected at least this surely, most first."""
        counted: dict[str, int] = {}
        for found in self.detections:
            if found.score >= min_score:
                counted[found.name] = counted.get(found.name, 0) + 1
        return dict(sorted(counted.items(), key=lambda item: -item[1]))

"""Spaces the recogniser saw but did not write: "ROADCLOSED" read as "ROAD CLOSED".

PP-OCRv4's recogniser (the Chinese-and-English model, the one that ships offline) often drops
the space between two English words: it emits one character per run of frames along the line,
and a narrow gap between words loses to the blank. Its frames still score the space there: on
a road sign and a shop sign of bench/textpics_heldout.py a dropped space left the space
character 0.11-0.49 of a frame's probability between the two letters, where letters of one
word left 0.00 (a compound name such as "FERNWOOD" too, so no word list is needed to tell a
name from two words). A space is written back where that probability reaches SPACE_SCORE: at
0.1, the 21 lines of bench/textpics*.py it changed were all changed right; below ~0.05,
monospace text (a terminal's "recipes$", "last):") picked up spaces that are not there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SPACE_SCORE = 0.1  # the space's best frame probability between two letters that makes it one


def spaced(scores: np.ndarray, characters: Sequence[str], space: int) -> str:
    """The line CTC's greedy decoding reads from `scores` (frames x characters; index 0 is the
    blank), with a space between two characters where a frame between them gives the space
    SPACE_SCORE or more."""
    best = scores.argmax(axis=1)
    emitted = np.ones(len(best), dtype=bool)
    emitted[1:] = best[1:] != best[:-1]  # a run of one character is one character
    emitted &= best != 0
    frames = np.flatnonzero(emitted)
    out: list[str] = []
    for k, frame in enumerate(frames):
        out.append(characters[best[frame]])
        if k + 1 == len(frames) or space in (best[frame], best[frames[k + 1]]):
            continue
        between = scores[frame + 1 : frames[k + 1], space]
        if len(between) and between.max() >= SPACE_SCORE:
            out.append(" ")
    return "".join(out)


class SpacedDecoder:
    """Wraps rapidocr's CTC decoder: the same lines and scores, with the dropped spaces back.
    Stateless, so the recognising threads may share it."""

    def __init__(self, decoder: Callable[..., list[Any]]) -> None:
        self.decoder = decoder
        # rapidocr's CTCLabelDecode keeps its alphabet there (blank first, space last)
        characters: list[str] = decoder.character  # type: ignore[attr-defined]  # untyped library
        self.characters = characters
        self.space = characters.index(" ")

    def __call__(self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any) -> Any:
        lines = self.decoder(preds, return_word_box, **kwargs)
        if return_word_box:  # word boxes index the characters as decoded: left alone
            return lines
        return [
            (spaced(scores, self.characters, self.space), *rest[1:])
            for scores, rest in zip(preds, lines, strict=True)
        ]

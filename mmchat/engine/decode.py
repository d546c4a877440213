"""The token-level parts of an answer that the generation loop (generate.py) applies to every
backend: turning tokens into text, and where a short answer ends. Choosing a token from logits
is sampling.py's (Sampler stays importable from here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mmchat.engine.sampling import Sampler as Sampler


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text deltas without splitting UTF-8 characters.

    The prefix/read offsets follow text-generation-inference: each step decodes only a short
    window, and the previous token stays in it as context so tokenizers that strip a leading
    space at the start of a decode still produce the right text.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, token: int) -> str:
        self.ids.append(token)
        prefix_text = self.decode(self.ids[self.prefix_offset : self.read_offset])
        new_text = self.decode(self.ids[self.prefix_offset :])
        if len(new_text) <= len(prefix_text) or new_text.endswith("\ufffd"):
            return ""  # nothing printable yet, or a multi-byte character is incomplete
        self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return new_text[len(prefix_text) :]


_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s)")


@dataclass(frozen=True)
class AnswerLimit:
    """Where a short, grounded answer ends: after `sentences` sentences, or at the first
    `until` (a closing quote). A 135M decoder is right in its first sentence far more often
    than in its fifth; image answers stop there instead of running on into invention."""

    sentences: int | None = None
    until: str | None = None

    def cut(self, text: str) -> int | None:
        """The length `text` is cut to, or None while the answer may go on."""
        if self.until is not None and (at := text.find(self.until)) >= 0:
            return at + len(self.until)
        if self.sentences is not None:
            ends = [m.end() for m in _SENTENCE_END.finditer(text)]
            if len(ends) >= self.sentences:
                return ends[self.sentences - 1]
        return None

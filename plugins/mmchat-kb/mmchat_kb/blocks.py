"""What a reader hands to the chunker: a document's title and its text blocks, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ExtractError(Exception):
    """A file cannot be used; the message says why in a few words (no path, no traceback)."""


@dataclass(frozen=True)
class Block:
    """A paragraph (or a code block, a table row group) with where it sits in the document."""

    text: str
    heading: str = ""  # heading path, "Install > Linux"
    page: int = 0  # 1-based PDF page, 0 when the format has none
    line_start: int = 0  # 1-based line range for plain text, 0 when unknown
    line_end: int = 0

    def to_list(self) -> list[Any]:
        return [self.text, self.heading, self.page, self.line_start, self.line_end]

    @classmethod
    def from_list(cls, raw: list[Any]) -> Block:
        text, heading, page, start, end = raw
        return cls(str(text), str(heading), int(page), int(start), int(end))


@dataclass
class Extracted:
    title: str
    blocks: list[Block] = field(default_factory=list)

"""Blocks to chunks: packed along paragraphs, never across a heading or a page, with overlap.

Sizes are in characters: ~1,000 characters is ~200-250 MiniLM word pieces, under the model's
256-piece window, so no chunk is silently cut by the embedder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mmchat_kb.blocks import Block

MAX_CHARS = 1000
OVERLAP_CHARS = 150
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str
    location: str  # shown in citations: heading path, page or line range


def _location(heading: str, page: int, first: int, last: int) -> str:
    if page:
        return f"page {page}" + (f", {heading}" if heading else "")
    if heading:
        return heading
    if first:
        return f"line {first}" if first == last else f"lines {first}-{last}"
    return ""


def _pieces(text: str, limit: int) -> Iterator[str]:
    """Split an over-long paragraph at sentence ends, then at spaces, then anywhere."""
    if len(text) <= limit:
        yield text
        return
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                yield current
                current = ""
            yield sentence[:cut]
            sentence = sentence[cut:].lstrip()
        if current and len(current) + 1 + len(sentence) > limit:
            yield current
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
    if current:
        yield current


def _tail(text: str, size: int) -> str:
    """The last `size` characters, started at a sentence or word boundary."""
    if size <= 0 or len(text) <= size:
        return text if size > 0 else ""
    tail = text[-size:]
    for mark in (". ", "\n", " "):
        cut = tail.find(mark)
        if 0 <= cut < len(tail) - 1:
            return tail[cut + len(mark) :].lstrip()
    return tail


def chunk_blocks(
    blocks: Iterable[Block], max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS
) -> list[Chunk]:
    chunks: list[Chunk] = []
    parts: list[str] = []
    key: tuple[str, int] | None = None
    first = last = 0

    def emit() -> None:
        if parts and any(p.strip() for p in parts):
            assert key is not None
            text = "\n\n".join(parts)
            chunks.append(Chunk(text, key[0], _location(key[0], key[1], first, last)))

    for block in blocks:
        # Room for the carried overlap and the blank line joining it: no chunk exceeds max.
        for piece in _pieces(block.text.strip(), max_chars - overlap - 2):
            if not piece.strip():
                continue
            this_key = (block.heading, block.page)
            size = sum(len(p) + 2 for p in parts) + len(piece)
            if parts and (this_key != key or size > max_chars):
                emit()
                carried = _tail(chunks[-1].text, overlap) if this_key == key and chunks else ""
                parts = [carried] if carried else []
                # The carried tail's lines end where the last chunk ended.
                first = max(1, last - carried.count("\n")) if carried and last else block.line_start
            if not parts:
                first = block.line_start
            key = this_key
            parts.append(piece)
            last = block.line_end
    emit()
    return chunks


def embedding_text(title: str, chunk: Chunk) -> str:
    """What is embedded: the title and heading give a bare paragraph its topic."""
    context = " > ".join(p for p in (title, chunk.heading) if p)
    return f"{context}\n\n{chunk.text}" if context else chunk.text

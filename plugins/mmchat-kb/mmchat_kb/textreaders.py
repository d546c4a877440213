"""Plain text and Markdown: paragraphs split on blank lines, Markdown headings tracked."""

from __future__ import annotations

import re
from pathlib import Path

from mmchat_kb.blocks import Block, Extracted

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _paragraphs(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first line, last line, text) for each run of non-blank lines; 1-based."""
    out: list[tuple[int, int, str]] = []
    start = 0
    for number, line in enumerate([*lines, ""], 1):
        if line.strip():
            start = start or number
        elif start:
            out.append((start, number - 1, "\n".join(lines[start - 1 : number - 1])))
            start = 0
    return out


def _line_groups(lines: list[str], first: int, limit: int) -> list[Block]:
    """A long paragraph (a CSV, a log) as runs of whole lines, so citations keep line numbers."""
    blocks: list[Block] = []
    start, size = 0, 0
    for i, line in enumerate(lines):
        if i > start and size + len(line) > limit:
            blocks.append(Block("\n".join(lines[start:i]), "", 0, first + start, first + i - 1))
            start, size = i, 0
        size += len(line) + 1
    blocks.append(Block("\n".join(lines[start:]), "", 0, first + start, first + len(lines) - 1))
    return blocks


def read_plain(text: str, path: Path, group_chars: int = 800) -> Extracted:
    lines = text.splitlines()
    blocks: list[Block] = []
    for a, b, body in _paragraphs(lines):
        if len(body) <= group_chars:
            blocks.append(Block(body, line_start=a, line_end=b))
        else:
            blocks.extend(_line_groups(lines[a - 1 : b], a, group_chars))
    return Extracted(title=path.name, blocks=blocks)


def read_markdown(text: str, path: Path) -> Extracted:
    title = ""
    stack: list[tuple[int, str]] = []  # (level, heading)
    blocks: list[Block] = []
    pending: list[str] = []
    in_fence = ""

    def flush() -> None:
        body = "\n".join(pending).strip("\n")
        if body.strip():
            blocks.append(Block(body, heading=" > ".join(h for _, h in stack)))
        pending.clear()

    for line in text.splitlines():
        fence = _FENCE.match(line)
        if in_fence:
            pending.append(line)
            if fence and fence.group(1) == in_fence:
                in_fence = ""
                flush()
            continue
        if fence:
            flush()
            in_fence = fence.group(1)
            pending.append(line)
            continue
        heading = _ATX.match(line)
        if heading:
            flush()
            level, name = len(heading.group(1)), heading.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, name))
            if level == 1 and not title:
                title = name
        elif not line.strip():
            flush()
        else:
            pending.append(line)
    flush()
    return Extracted(title=title or path.name, blocks=blocks)

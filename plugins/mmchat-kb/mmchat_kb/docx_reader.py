"""Word .docx with python-docx: Heading styles become headings, tables become rows of text."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from mmchat_kb.blocks import Block, Extracted, ExtractError
from mmchat_kb.limits import Limits

_LEVEL = re.compile(r"heading\s*(\d)", re.IGNORECASE)


def _check_archive(path: Path, limits: Limits) -> None:
    """Refuse zip bombs before python-docx inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExtractError(f"is not a readable .docx ({exc})") from None
    unzipped = sum(m.file_size for m in members)
    if len(members) > 10_000 or unzipped > limits.max_unzipped_bytes:
        raise ExtractError(
            f"unpacks to {unzipped:,} bytes in {len(members)} parts, over the limit (zip bomb?)"
        )


def read_docx(path: Path, limits: Limits) -> Extracted:
    _check_archive(path, limits)
    import docx  # imported here: only the parsing process needs it
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many kinds for a damaged file
        raise ExtractError(f"is not a readable .docx ({type(exc).__name__})") from None
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [" | ".join(c.text.strip() for c in row.cells) for row in item.rows]
            text = "\n".join(r for r in rows if r.strip(" |"))
            if text:
                blocks.append(Block(text, heading=" > ".join(h for _, h in stack)))
            continue
        text = item.text.strip()
        style = (item.style.name if item.style is not None else "") or ""
        level = _LEVEL.match(style)
        if style.lower() == "title" and text:
            title = title or text
        elif level and text:
            depth = int(level.group(1))
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, text))
        elif text:
            blocks.append(Block(text, heading=" > ".join(h for _, h in stack)))
    if not blocks:
        raise ExtractError("has no text")
    return Extracted(title=title or path.name, blocks=blocks)

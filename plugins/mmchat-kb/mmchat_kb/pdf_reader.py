"""PDF text with pypdf, a block per page; runs only inside the capped parsing process."""

from __future__ import annotations

import logging
from pathlib import Path

from mmchat_kb.blocks import Block, Extracted, ExtractError
from mmchat_kb.limits import Limits


def read_pdf(path: Path, limits: Limits) -> Extracted:
    import pypdf  # imported here: only the parsing process needs it
    from pypdf.errors import LimitReachedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken files warn per object
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError("is encrypted (password protected)")
        count = len(reader.pages)
    except PdfReadError as exc:
        raise ExtractError(f"is not a readable PDF ({exc})") from None
    if count > limits.max_pdf_pages:
        raise ExtractError(f"has {count} pages, over the {limits.max_pdf_pages}-page limit")
    blocks: list[Block] = []
    total = 0
    for number, page in enumerate(reader.pages, 1):
        try:
            text = page.extract_text() or ""
        except LimitReachedError:
            raise ExtractError(
                f"page {number} decompresses past pypdf's safety limit (a PDF bomb?)"
            ) from None
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            raise ExtractError(f"page {number} cannot be read ({exc})") from None
        text = "\n".join(line.rstrip() for line in text.splitlines()).strip()
        total += len(text)
        if total > limits.max_text_chars:
            raise ExtractError(f"holds more than {limits.max_text_chars:,} characters of text")
        if text:
            blocks.append(Block(text, page=number))
    if not blocks:
        raise ExtractError("has no extractable text (a scanned PDF needs OCR first)")
    title = ""
    try:
        metadata = reader.metadata
        title = str(metadata.get("/Title") or "").strip() if metadata else ""
    except (PdfReadError, ValueError, TypeError):
        pass
    return Extracted(title=title or path.name, blocks=blocks)

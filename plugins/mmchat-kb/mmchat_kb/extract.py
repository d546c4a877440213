"""Which reader a file gets, by its suffix; the entry point the parsing process calls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mmchat_kb.blocks import Extracted, ExtractError
from mmchat_kb.limits import Limits

KINDS = {
    ".txt": "text", ".text": "text", ".log": "text", ".rst": "text",
    ".csv": "text", ".tsv": "text", ".json": "text", ".jsonl": "text",
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}  # fmt: skip


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def extract(path: Path, kind: str, limits: Limits) -> Extracted:
    return _without_title_heading(_extract(path, kind, limits))


def _without_title_heading(doc: Extracted) -> Extracted:
    """A top heading equal to the title is said once: citations read "title, section"."""
    prefix = doc.title + " > "
    blocks = [
        replace(b, heading=b.heading.removeprefix(prefix) if b.heading != doc.title else "")
        for b in doc.blocks
    ]
    return Extracted(doc.title, blocks)


def _extract(path: Path, kind: str, limits: Limits) -> Extracted:
    if kind == "pdf":
        from mmchat_kb.pdf_reader import read_pdf

        return read_pdf(path, limits)
    if kind == "docx":
        from mmchat_kb.docx_reader import read_docx

        return read_docx(path, limits)
    from mmchat_kb.textdecode import decode_text

    text = decode_text(path.read_bytes())
    if len(text) > limits.max_text_chars:
        raise ExtractError(f"holds more than {limits.max_text_chars:,} characters of text")
    if kind == "markdown":
        from mmchat_kb.textreaders import read_markdown

        return read_markdown(text, path)
    if kind == "html":
        from mmchat_kb.html_reader import read_html

        return read_html(text, path)
    if kind == "text":
        from mmchat_kb.textreaders import read_plain

        return read_plain(text, path)
    raise ExtractError(f"has an unknown kind {kind!r}")

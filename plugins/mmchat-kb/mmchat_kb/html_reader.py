"""HTML to text blocks with the standard library's parser: headings kept, scripts dropped."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from mmchat_kb.blocks import Block, Extracted

_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK = {
    "p", "div", "li", "ul", "ol", "tr", "table", "section", "article", "main", "header",
    "footer", "nav", "aside", "blockquote", "pre", "dd", "dt", "dl", "form", "figure",
    "figcaption", "br", "hr", "body",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.blocks: list[Block] = []
        self._stack: list[tuple[int, str]] = []
        self._text: list[str] = []
        self._skip = 0
        self._in_title = False
        self._heading_level = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skip += 1
        elif tag in _HEADINGS:
            self._flush()
            self._heading_level = _HEADINGS[tag]
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HEADINGS and self._heading_level:
            name = " ".join("".join(self._text).split())
            self._text.clear()
            level, self._heading_level = self._heading_level, 0
            while self._stack and self._stack[-1][0] >= level:
                self._stack.pop()
            if name:
                self._stack.append((level, name))
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._text.append(data)

    def _flush(self) -> None:
        body = " ".join("".join(self._text).split())
        self._text.clear()
        if body:
            self.blocks.append(Block(body, heading=" > ".join(h for _, h in self._stack)))

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(text: str, path: Path) -> Extracted:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    title = " ".join(reader.title.split())
    if not title and reader._stack:
        title = reader._stack[0][1]
    return Extracted(title=title or path.name, blocks=reader.blocks)

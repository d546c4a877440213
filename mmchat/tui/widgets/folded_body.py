"""A saved message's Markdown drawn as one widget, where Textual's Markdown widget is a tree of
them (a paragraph, a code block and a four-item list: 20 widgets).

Every mount in the chat log lays out every widget on the screen, and a long chat mounts and
unmounts boxes as it scrolls: with bodies folded into one widget (and a box's empty lines not
built), the screen of a long chat holds ~60 widgets instead of ~200. Rich's Markdown renderer
draws it; links are shown with their address, never as terminal hyperlinks (model output is
untrusted).
The drawn lines are kept by text and width (a box scrolled away and back, or drawn ahead in a
thread by `draw_ahead`, is not drawn again on the event loop: drawing a box with a code block
is 2-5 ms, and a layout that brought in five new boxes paid for all of them at once).
A box swaps this for Textual's Markdown widget when it needs its parts (`b` marking the code
block it copied).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

KEPT = 256  # drawn bodies kept (a few screens of a long chat, either way from the view)

_kept: OrderedDict[tuple[str, int, bool], list[Strip]] = OrderedDict()
_kept_lock = threading.Lock()  # drawn ahead in a thread, read on the event loop


def drawn_lines(console: Console, text: str, width: int, dark: bool) -> list[Strip]:
    """`text` drawn as Markdown `width` cells wide, kept for the next box that shows it."""
    key = (text, width, dark)
    with _kept_lock:
        if (lines := _kept.get(key)) is not None:
            _kept.move_to_end(key)
            return lines
    options = console.options.update_width(max(width, 1))
    rendered = console.render(markdown(text, dark), options)
    lines = Strip.from_lines(list(Segment.split_lines(rendered)))
    with _kept_lock:
        _kept[key] = lines
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return lines


def draw_ahead(console: Console, texts: Iterable[str], width: int, dark: bool) -> None:
    """Draw bodies about to be mounted (run in a thread: the loop keeps its turns meanwhile)."""
    for text in texts:
        drawn_lines(console, text, width, dark)


class FoldedBody(Widget):
    """Rendered once per width and kept as lines: the layout asks a widget's height several
    times a pass (a Static of Rich's Markdown re-rendered it each time, 100 renders for the ten
    boxes of one layout). The drawn lines are kept too, until the width or the style changes
    (a box focused): a new Strip per line cost as much as the drawing."""

    DEFAULT_CSS = "FoldedBody { height: auto; }"

    def __init__(self, text: str, *, classes: str = "") -> None:
        super().__init__(classes=classes)
        self.text = text
        self._lines: dict[int, list[Strip]] = {}  # width -> the rendered lines
        self._drawn: dict[tuple[int, int], Strip] = {}  # (y, width) -> the line in its style
        self._drawn_style = Style()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._themed, init=False)

    def _themed(self) -> None:
        self._lines.clear()
        self._drawn.clear()
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Strip]:
        if width not in self._lines:
            dark = self.app.current_theme.dark
            self._lines = {width: drawn_lines(self.app.console, self.text, width, dark)}
            self._drawn.clear()
        return self._lines[width]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render_lines(self, crop: Region) -> list[Strip]:
        # Its style comes from the box around it too (a focused box has another background),
        # and no style update reaches a child whose own rules did not change: checked once a
        # drawing, the kept lines go when it differs.
        style = self.rich_style
        if style != self._drawn_style:
            self._drawn_style = style
            self._drawn.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        if (drawn := self._drawn.get((y, width))) is not None:
            return drawn
        lines = self.lines(width)
        style = self._drawn_style
        line = lines[y] if y < len(lines) else Strip.blank(width)
        drawn = self._drawn[y, width] = line.crop_extend(0, width, style).apply_style(style)
        return drawn


def markdown(text: str, dark: bool) -> RichMarkdown:
    theme = "monokai" if dark else "default"
    # hyperlinks=False: a link's text and address, not an OSC 8 link a click would open.
    return RichMarkdown(text, code_theme=theme, inline_code_theme=theme, hyperlinks=False)

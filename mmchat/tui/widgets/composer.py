"""The message composer: Enter sends; Ctrl+J, Alt+Enter or Shift+Enter adds a line (Ctrl+J
reaches every terminal: it is the line-feed byte; the others only some).

A pasted path to an existing image file (what terminals paste when a file is dropped on them)
becomes an attachment instead of text. Ctrl+V asks for the clipboard's image (terminals paste
text only; where the terminal takes Ctrl+V for its own paste, that text arrives as a paste).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import unquote, urlparse

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from mmchat.images import SUFFIXES

NEWLINE_KEYS = ("ctrl+j", "alt+enter", "shift+enter")


class Composer(TextArea):
    BINDINGS = [
        Binding(",".join(NEWLINE_KEYS), "newline", "New line", show=False),
        # In place of TextArea's paste of the app's own copy buffer.
        Binding("ctrl+v", "paste_image", "Paste image", show=False),
        # The composer is a few lines high: these page the transcript instead (the screen's).
        Binding("pageup", "screen.scroll_log('page_up')", "Page up", show=False),
        Binding("pagedown", "screen.scroll_log('page_down')", "Page down", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class PasteImage(Message):
        """Ctrl+V: attach the system clipboard's image."""

    class PathsDropped(Message):
        def __init__(self, paths: list[Path]) -> None:
            super().__init__()
            self.paths = paths

    def __init__(self) -> None:
        super().__init__(
            id="composer",
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=True,
            placeholder="Message (Enter sends, Ctrl+J new line)",
        )

    # Public handlers run before TextArea's own (the subclass comes first in the MRO);
    # prevent_default() keeps TextArea from also inserting the newline or the pasted text.

    def on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            self.post_message(self.Submitted(self.text))
        elif event.key in NEWLINE_KEYS:
            # Here, not only as a binding: a binding's action runs after the keys already
            # queued, so "a", ctrl+j, "bc" typed fast (or sent by tmux) became "ab\nc".
            event.prevent_default()
            event.stop()
            self.action_newline()

    def action_newline(self) -> None:
        self.insert("\n")

    def action_paste_image(self) -> None:
        self.post_message(self.PasteImage())

    def on_paste(self, event: events.Paste) -> None:
        paths = dropped_image_paths(event.text)
        if paths:
            event.prevent_default()
            event.stop()
            self.post_message(self.PathsDropped(paths))


def dropped_image_paths(text: str) -> list[Path]:
    """Paths in a paste when every token is an existing image file (quoted, escaped or file://)."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        return []
    paths = [_as_image_path(token) for token in tokens]
    if not paths or any(p is None for p in paths):
        return []
    return [p for p in paths if p is not None]


def _as_image_path(token: str) -> Path | None:
    token = token.strip()
    if token.startswith("file://"):
        token = unquote(urlparse(token).path)
    path = Path(token).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        return None
    try:
        return path if path.is_file() else None
    except OSError:
        return None

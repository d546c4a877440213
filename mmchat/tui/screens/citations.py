"""The sources an answer cites: each passage's text, file and place, and a key to open the file.

Titles, paths and passages come from the person's documents: shown as Content, never markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from mmchat.text import citation_line, one_line, strip_control
from mmchat.tui.system_open import OpenFailed, open_file

PASSAGE_CHARS = 1200  # enough to recognise the passage; the file holds the rest


def is_web_address(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def missing(source: str) -> bool:
    return not is_web_address(source) and not Path(source).is_file()


def _prompt(cite: dict[str, Any]) -> Content:
    source = str(cite.get("source", ""))
    lines = [Content.styled(citation_line(cite), "bold")]
    if missing(source):
        lines.append(Content.styled("  file not found: deleted or moved since", "$error"))
    text = strip_control(str(cite.get("text") or "")).strip()
    if not text:
        lines.append(Content.styled("  (the passage was not saved with this answer)", "dim"))
    else:
        cut = text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS] + "…"
        lines += [Content("  " + line) for line in cut.splitlines()]
    return Content("\n").join(lines)


class CitationScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    #citation-list { height: auto; max-height: 24; }
    #citation-note { margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss(None)", "Close"),
        Binding("o", "open_source", "Open file"),
    ]

    def __init__(self, citations: list[dict[str, Any]]) -> None:
        super().__init__(classes="dialog-screen")
        self.citations = citations

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Sources of this answer", classes="dialog-title")
            options = [Option(_prompt(c)) for c in self.citations]
            yield OptionList(*options, id="citation-list")
            yield Label("", id="citation-note")
            hint = "Enter or o opens the file · Up/Down choose · Esc closes"
            yield Label(Content.styled(hint, "dim"))

    def on_mount(self) -> None:
        options = self.query_one("#citation-list", OptionList)
        options.highlighted = 0
        options.focus()

    @property
    def note(self) -> str:
        return str(self.query_one("#citation-note", Label).content)

    def _say(self, text: str, style: str = "") -> None:
        self.query_one("#citation-note", Label).update(Content.styled(one_line(text, 300), style))

    def on_key(self, event: events.Key) -> None:
        """A digit goes to that source: "2" to [2], as the answer numbers them."""
        if event.character and event.character.isdigit():
            numbers = [str(c.get("n")) for c in self.citations]
            if event.character in numbers:
                self.query_one("#citation-list", OptionList).highlighted = numbers.index(
                    event.character
                )
                event.stop()

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_open_source()

    def action_open_source(self) -> None:
        index = self.query_one("#citation-list", OptionList).highlighted
        if index is None:
            return
        source = str(self.citations[index].get("source", ""))
        if is_web_address(source):
            self._say(f"a web address, not opened: {source}", "$warning")
        elif missing(source):
            self._say(f"{source} no longer exists (deleted or moved)", "$error")
        else:
            try:
                tool = open_file(Path(source))
            except OpenFailed as exc:
                self._say(str(exc), "$error")
            else:
                self._say(f"opened {Path(source).name} with {tool}")

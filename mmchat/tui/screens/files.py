"""Choose an image file: a directory tree showing folders and image files, or a typed path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text, TextType
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label

from mmchat.images import SUFFIXES
from mmchat.text import one_line


class ImageTree(DirectoryTree):
    def process_label(self, label: TextType) -> Text:
        # Names come from disk: an escape sequence in one would reach the terminal raw.
        plain = label.plain if isinstance(label, Text) else label
        return Text(one_line(plain, limit=200))

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".") and (_is_dir(p) or p.suffix.lower() in SUFFIXES)
        ]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


class FilePickerScreen(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide tall"):
            yield Label("Attach an image", classes="dialog-title")
            # Not selected on focus: the key that moved the focus here is already in it.
            yield Input(
                placeholder="Path to an image file, then Enter",
                id="path-input",
                select_on_focus=False,
            )
            yield ImageTree(self.start, id="file-tree")

    def on_mount(self) -> None:
        self.query_one(ImageTree).focus()

    def on_key(self, event: events.Key) -> None:
        # Typing with the tree focused starts a path: the tree is for browsing with the arrows,
        # and a typed "/home/..." must not vanish into it (space still opens a folder there).
        character = event.character
        if self.focused is not self.query_one(ImageTree) or not event.is_printable:
            return
        if character and character != " ":
            typed = self.query_one("#path-input", Input)
            typed.focus()
            typed.insert_text_at_cursor(character)
            event.stop()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

"""The next message: the composer and its attachment chips.

Images arrive by `/attach PATH`, by the file picker, or by a path pasted into the composer
(what terminals do when a file is dropped on them). A file that cannot be attached is a
one-line notification; the draft is never lost.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from mmchat.images import CheckedImage, ImageRejected, read_image_file
from mmchat.text import one_line
from mmchat.tui.screens.files import FilePickerScreen
from mmchat.tui.widgets.attachments import Chip, ChipRow
from mmchat.tui.widgets.composer import Composer


class Draft(Vertical):
    class Send(Message):
        """Enter was pressed on a draft that is not a command; the screen decides."""

    class Compact(Message):
        """`/compact` was sent: sum up the chat's earlier messages."""

    def __init__(self) -> None:
        super().__init__(id="draft")

    def compose(self) -> ComposeResult:
        yield ChipRow()
        yield Composer()

    def on_mount(self) -> None:
        self.query_one(ChipRow).display = False

    @property
    def text(self) -> str:
        return self.query_one(Composer).text.strip()

    @property
    def images(self) -> list[CheckedImage]:
        return self.query_one(ChipRow).images

    async def clear(self) -> None:
        self.query_one(Composer).clear()
        await self.query_one(ChipRow).set_images([])

    def focus_composer(self) -> None:
        self.query_one(Composer).focus()

    async def add_images(self, paths: list[Path]) -> None:
        chips = self.query_one(ChipRow)
        images = list(chips.images)
        for path in paths:
            try:
                images.append(read_image_file(path))
            except ImageRejected as exc:
                self.notify(one_line(str(exc)), severity="error", markup=False, timeout=8)
        await chips.set_images(images)

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        if event.text.strip().startswith("/attach"):
            await self._attach_command(event.text.strip())
        elif event.text.strip() == "/compact":
            self.query_one(Composer).clear()
            self.post_message(self.Compact())
        else:
            self.post_message(self.Send())

    async def _attach_command(self, text: str) -> None:
        rest = text.removeprefix("/attach").strip()
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = rest.split()
        if rest and Path(rest).expanduser().is_file():
            parts = [rest]  # an unquoted path with spaces
        if not parts:
            self.pick_file()
            return
        self.query_one(Composer).clear()
        await self.add_images([Path(p).expanduser() for p in parts])

    @on(Composer.PathsDropped)
    async def _dropped(self, event: Composer.PathsDropped) -> None:
        event.stop()
        await self.add_images(event.paths)

    @on(Chip.Remove)
    async def _remove_chip(self, event: Chip.Remove) -> None:
        event.stop()
        chips = self.query_one(ChipRow)
        await chips.set_images([img for i, img in enumerate(chips.images) if i != event.index])
        self.focus_composer()

    @work(group="dialogs")
    async def pick_file(self) -> None:
        path = await self.app.push_screen_wait(FilePickerScreen(Path.cwd()))
        if path is not None:
            await self.add_images([path])
        self.focus_composer()

"""The next message: the composer and its attachment chips.

Images arrive by `/attach PATH`, by the file picker, by a path pasted into the composer
(what terminals do when a file is dropped on them), or by Ctrl+V from the system clipboard.
Files and the clipboard are read, checked and previewed in worker threads (a 12-megapixel
photo takes a moment to check; the clipboard's tool may take its time), with a placeholder
chip meanwhile. A file that cannot be attached is a one-line notification; the draft is never
lost.
"""

from __future__ import annotations

import shlex
from itertools import count
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.worker import get_current_worker

from mmchat.images import CheckedImage, ImageRejected, read_image_file
from mmchat.text import one_line
from mmchat.tui.clipboard_image import PasteProblem, read_clipboard_image, save_pasted
from mmchat.tui.screens.files import FilePickerScreen
from mmchat.tui.widgets.attachments import Chip, ChipRow, thumbnail
from mmchat.tui.widgets.composer import Composer


class Draft(Vertical):
    # The composer has its own Ctrl+V; this one serves a focused attachment chip.
    BINDINGS = [Binding("ctrl+v", "paste_image", "Paste image", show=False)]

    class Pasted(Message):
        """The clipboard's image (saved in the data folder), or why there is none."""

        def __init__(self, image: CheckedImage | None, tool: str = "", problem: str = "") -> None:
            super().__init__()
            self.image, self.tool, self.problem = image, tool, problem
            # Decoded here, in the worker: a large picture would hold up the UI for a moment.
            self.thumb = thumbnail(image) if image is not None else None

    class Read(Message):
        """An attached file, read and checked in a worker (image None: `problem` says why)."""

        def __init__(self, ticket: int, image: CheckedImage | None, problem: str = "") -> None:
            super().__init__()
            self.ticket, self.image, self.problem = ticket, image, problem
            self.thumb = thumbnail(image) if image is not None else None  # in the worker too

    class Send(Message):
        """Enter was pressed on a draft that is not a command; the screen decides."""

    class Compact(Message):
        """`/compact` was sent: sum up the chat's earlier messages."""

    def __init__(self) -> None:
        super().__init__(id="draft")
        self._tickets = count()
        # Each attachment's ticket (by id of the image): files are read in parallel workers,
        # and the chips keep the order they were asked for, not the order the reads finish.
        self._placed: dict[int, int] = {}

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
        """Attach `paths`: placeholders now, chips as each file is read in a worker."""
        chips = self.query_one(ChipRow)
        for path in paths:
            ticket = next(self._tickets)
            chips.pending[ticket] = path.name or str(path)
            self._read_file(ticket, path)
        await chips.set_images(chips.images)

    @work(thread=True, group="attach", exit_on_error=False, description="Reading an image file")
    def _read_file(self, ticket: int, path: Path) -> None:
        try:
            read = Draft.Read(ticket, read_image_file(path))
        except ImageRejected as exc:
            read = Draft.Read(ticket, None, one_line(str(exc)))
        except Exception as exc:  # a surprise from Pillow or the disk: said, never a crash
            read = Draft.Read(ticket, None, one_line(f"Could not attach {path.name}: {exc!r}"))
        self.post_message(read)

    @on(Read)
    async def _read(self, event: Read) -> None:
        event.stop()
        chips = self.query_one(ChipRow)
        chips.pending.pop(event.ticket, None)
        if event.image is None:
            self.notify(event.problem, severity="error", markup=False, timeout=8)
            await chips.set_images(chips.images)
        else:
            images = self._placed_in_order(chips.images, event.image, event.ticket)
            await chips.set_images(images, {id(event.image): event.thumb})

    def _placed_in_order(
        self, images: list[CheckedImage], image: CheckedImage, ticket: int
    ) -> list[CheckedImage]:
        self._placed = {id(i): self._placed.get(id(i), -1) for i in images}
        self._placed[id(image)] = ticket
        return sorted([*images, image], key=lambda i: self._placed[id(i)])

    def action_paste_image(self) -> None:
        self._read_clipboard()

    @on(Composer.PasteImage)
    def _paste_requested(self, event: Composer.PasteImage) -> None:
        event.stop()
        self._read_clipboard()

    @work(
        thread=True,
        group="paste",
        exclusive=True,
        exit_on_error=False,
        description="Reading the clipboard's image",
    )
    def _read_clipboard(self) -> None:
        try:
            image, tool = read_clipboard_image()
            pasted = Draft.Pasted(save_pasted(image), tool)
        except PasteProblem as exc:
            pasted = Draft.Pasted(None, problem=one_line(str(exc)))
        except Exception as exc:  # a surprise from a tool or the disk: said, never a crash
            pasted = Draft.Pasted(None, problem=one_line(f"Could not paste the image: {exc!r}"))
        if not get_current_worker().is_cancelled:  # a later Ctrl+V took over
            self.post_message(pasted)

    @on(Pasted)
    async def _pasted(self, event: Pasted) -> None:
        event.stop()
        if event.image is None:
            self.notify(event.problem, severity="warning", markup=False, timeout=8)
            return
        chips = self.query_one(ChipRow)
        images = self._placed_in_order(chips.images, event.image, next(self._tickets))
        await chips.set_images(images, {id(event.image): event.thumb})
        size = f"{event.image.width}×{event.image.height}"
        self.notify(f"Pasted the clipboard's image ({size}, via {event.tool})", markup=False)

    @on(Composer.Submitted)
    async def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        if event.text.strip().startswith("/attach"):
            await self._attach_command(event.text.strip())
        elif event.text.strip() == "/compact":
            self.query_one(Composer).clear()
            self.post_message(self.Compact())
        elif self.query_one(ChipRow).pending:
            names = ", ".join(self.query_one(ChipRow).pending.values())
            self.notify(
                f"Still reading {one_line(names, 60)}; send again when it shows", markup=False
            )
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
        # The next chip, so Delete again removes it; the composer once none are left.
        if not chips.focus_chip(event.index):
            self.focus_composer()

    @work(group="dialogs")
    async def pick_file(self) -> None:
        path = await self.app.push_screen_wait(FilePickerScreen(Path.cwd()))
        if path is not None:
            await self.add_images([path])
        self.focus_composer()

"""Attachments: removable chips (with a small preview) in the draft, previews in the history."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static
from textual.worker import get_current_worker

from mmchat.images import CheckedImage
from mmchat.store import Attachment
from mmchat.text import one_line
from mmchat.tui.widgets.preview import (
    Preview,
    half_block_preview,
    make_preview,
    preview_widget,
    previews_enabled,
)

THUMB_COLUMNS, THUMB_ROWS = 8, 3  # the draft's previews: enough to tell pictures apart


class Chip(Button):
    """One attached image in the draft; Enter, Delete or Backspace on it (or a click) removes it."""

    BINDINGS = [Binding("delete,backspace", "press", "Remove", show=False)]

    class Remove(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, index: int, image: CheckedImage) -> None:
        label = Content.assemble(
            Content(one_line(image.name, 40)),
            Content.styled(f" {image.width}×{image.height} ✕", "dim"),
        )
        super().__init__(label, classes="chip", compact=True, tooltip="Remove this attachment")
        self.index = index

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.Remove(self.index))


class ChipRow(Horizontal):
    """The draft's attachments, each a small preview and a chip, removable before sending;
    files still being read show as placeholders."""

    DEFAULT_CSS = """
    ChipRow > .chip-preview {
        width: auto;
        height: auto;
        margin: 0 1 0 0;
    }
    ChipRow > .chip-pending {
        width: auto;
        margin: 0 1 0 0;
        color: $text-muted;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="chips")
        self.images: list[CheckedImage] = []
        self.pending: dict[int, str] = {}  # files being read (by ticket): their names
        # Decoded once per image, in a worker, not on every change to the row.
        self._thumbs: dict[int, Text | None] = {}

    async def set_images(
        self, images: list[CheckedImage], thumbs: dict[int, Text | None] | None = None
    ) -> None:
        """Show `images` and the pending files; `thumbs` (by id of the image) are previews made
        off the UI thread (an image without one shows its chip only)."""
        self.images = list(images)
        known = {**self._thumbs, **(thumbs or {})}
        self._thumbs = {id(i): known.get(id(i)) for i in images}
        await self.remove_children()
        widgets: list[Static | Chip] = []
        for index, image in enumerate(self.images):
            thumb = self._thumbs[id(image)] if previews_enabled() else None
            if thumb is not None:
                widgets.append(Static(thumb, classes="chip-preview"))
            widgets.append(Chip(index, image))
        for name in self.pending.values():
            label = Content.styled(f"⋯ reading {one_line(name, 40)}", "italic")
            widgets.append(Static(label, classes="chip-pending"))
        await self.mount_all(widgets)
        self.display = bool(self.images or self.pending)

    def focus_chip(self, index: int) -> bool:
        """Focus the chip at `index` (or the last one); False when there is none."""
        chips = list(self.query(Chip))
        if not chips:
            return False
        chips[min(index, len(chips) - 1)].focus()
        return True


def thumbnail(image: CheckedImage) -> Text | None:
    """The draft's small preview of a checked image (None if it cannot be decoded or previews
    are off); decoding takes a while for a big picture: call it in a worker thread."""
    if not previews_enabled():
        return None
    return half_block_preview(image.data, THUMB_COLUMNS, THUMB_ROWS)


class AttachmentRow(Horizontal):
    """Images of a stored message: a preview where the terminal can show one, else the name.

    Previews are decoded in a worker thread (a conversation may hold many big photos); a
    placeholder of the preview's size holds the place until each is ready.
    """

    class Previewed(Message):
        def __init__(self, index: int, preview: Preview | None) -> None:
            super().__init__()
            self.index, self.preview = index, preview

    def __init__(self, attachments: list[Attachment], blobs: dict[str, bytes]) -> None:
        super().__init__(classes="attachment-row")
        self.attachments = attachments
        self.blobs = blobs
        self._placeholders: dict[int, Static] = {}

    def compose(self) -> ComposeResult:
        for index, attachment in enumerate(self.attachments):
            name = one_line(attachment.name, 40)
            size = f"{attachment.width}×{attachment.height}" if attachment.width else ""
            if attachment.sha256 in self.blobs and previews_enabled():
                placeholder = Static(Content.styled("⋯", "dim"), classes="preview pending")
                self._placeholders[index] = placeholder
                yield placeholder
            yield Static(
                Content.assemble("🖼 ", Content(name), Content.styled(f" {size}", "dim")),
                classes="attachment-name",
            )

    def on_mount(self) -> None:
        if self._placeholders:
            self._decode_previews(list(self._placeholders))

    @work(
        thread=True,
        group="previews",
        exit_on_error=False,
        description="Decoding picture previews",
    )
    def _decode_previews(self, indexes: list[int]) -> None:
        worker = get_current_worker()
        for index in indexes:
            preview = make_preview(self.blobs[self.attachments[index].sha256])
            if worker.is_cancelled:  # the message left the screen
                return
            self.post_message(self.Previewed(index, preview))

    @on(Previewed)
    async def _previewed(self, event: Previewed) -> None:
        event.stop()
        placeholder = self._placeholders.pop(event.index, None)
        if placeholder is None:
            return
        if event.preview is not None:
            await self.mount(preview_widget(event.preview), before=placeholder)
        await placeholder.remove()

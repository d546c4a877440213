"""Attachments: removable chips (with a small preview) in the draft, previews in the history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from mmchat.images import CheckedImage, ImageRejected, open_image_bytes
from mmchat.store import Attachment
from mmchat.text import one_line
from mmchat.tui.widgets.preview import half_blocks, preview_widget, previews_enabled

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
    """The draft's attachments, each a small preview and a chip, removable before sending."""

    DEFAULT_CSS = """
    ChipRow > .chip-preview {
        width: auto;
        height: auto;
        margin: 0 1 0 0;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="chips")
        self.images: list[CheckedImage] = []
        # Decoded once per image, not on every change to the row.
        self._thumbs: dict[int, Text | None] = {}

    async def set_images(
        self, images: list[CheckedImage], thumbs: dict[int, Text | None] | None = None
    ) -> None:
        """Show `images`; `thumbs` (by id of the image) are previews made off the UI thread."""
        self.images = list(images)
        known = {**self._thumbs, **(thumbs or {})}
        make = thumbnail if previews_enabled() else lambda _: None
        self._thumbs = {id(i): known[id(i)] if id(i) in known else make(i) for i in images}
        await self.remove_children()
        widgets: list[Static | Chip] = []
        for index, image in enumerate(self.images):
            thumb = self._thumbs[id(image)] if previews_enabled() else None
            if thumb is not None:
                widgets.append(Static(thumb, classes="chip-preview"))
            widgets.append(Chip(index, image))
        await self.mount_all(widgets)
        self.display = bool(self.images)

    def focus_chip(self, index: int) -> bool:
        """Focus the chip at `index` (or the last one); False when there is none."""
        chips = list(self.query(Chip))
        if not chips:
            return False
        chips[min(index, len(chips) - 1)].focus()
        return True


def thumbnail(image: CheckedImage) -> Text | None:
    """The draft's small preview of a checked image (None if it cannot be decoded)."""
    try:
        return half_blocks(open_image_bytes(image.data), THUMB_COLUMNS, THUMB_ROWS)
    except ImageRejected:
        return None


class AttachmentRow(Horizontal):
    """Images of a stored message: a preview where the terminal can show one, else the name."""

    def __init__(self, attachments: list[Attachment], blobs: dict[str, bytes]) -> None:
        super().__init__(classes="attachment-row")
        self.attachments = attachments
        self.blobs = blobs

    def compose(self) -> ComposeResult:
        for attachment in self.attachments:
            name = one_line(attachment.name, 40)
            size = f"{attachment.width}×{attachment.height}" if attachment.width else ""
            data = self.blobs.get(attachment.sha256)
            if data is not None and previews_enabled():
                preview = preview_widget(data)
                if preview is not None:
                    yield preview
            yield Static(
                Content.assemble("🖼 ", Content(name), Content.styled(f" {size}", "dim")),
                classes="attachment-name",
            )

"""Attachments: removable chips in the composer, previews (or names) in the history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from mmchat.images import CheckedImage
from mmchat.store import Attachment
from mmchat.text import one_line
from mmchat.tui.widgets.preview import preview_widget, previews_enabled


class Chip(Button):
    """One attached image in the draft; press it (or click ✕) to remove it."""

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
    """The draft's attachments, removable before sending."""

    def __init__(self) -> None:
        super().__init__(id="chips")
        self.images: list[CheckedImage] = []

    async def set_images(self, images: list[CheckedImage]) -> None:
        self.images = list(images)
        await self.remove_children()
        await self.mount_all(Chip(i, image) for i, image in enumerate(self.images))
        self.display = bool(self.images)


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

"""Big pictures are read and previewed in worker threads: the UI takes keys meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from textual import events
from textual.pilot import Pilot
from tui_helpers import wait_ready

from mmchat.tui.widgets.attachments import AttachmentRow, ChipRow
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.draft import Draft
from mmchat.tui.widgets.open_chat import OpenChat


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 12-megapixel JPEG: noise over a gradient, as a camera's photo is hard to pack."""
    size = (4000, 3000)
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    picture = Image.merge("RGB", (gradient, noise, gradient.rotate(90).resize(size)))
    path = tmp_path_factory.mktemp("photos") / "big photo.jpg"
    picture.save(path, quality=90)
    return path


async def poll(pilot: Pilot, condition: Callable[[], bool]) -> None:
    """Wait for `condition` without Pilot's idle waits (they wait out a busy worker thread)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.01)


async def test_attaching_a_big_photo_keeps_taking_keys(make_app, photo: Path) -> None:
    app, _ = make_app(vision=True)
    order: list[str] = []

    def hook(message: object) -> None:  # messages in the order the app handles them
        if isinstance(message, events.Key) and message.key in ("k", "enter"):
            order.append(message.key)
        elif isinstance(message, Draft.Read):
            order.append("read")

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        chips = app.screen.query_one(ChipRow)
        composer.text = f'/attach "{photo}"'
        composer.post_message(events.Key("enter", None))
        # The command returns before the file is read: a placeholder stands for it.
        await poll(pilot, lambda: bool(chips.query(".chip-pending")))
        assert "reading big photo.jpg" in str(chips.query_one(".chip-pending").render())
        # A key typed now is handled while the photo is read, and so is Enter, which keeps
        # the draft (the message would go without the photo).
        composer.post_message(events.Key("k", "k"))
        await poll(pilot, lambda: composer.text == "k")
        composer.post_message(events.Key("enter", None))
        await poll(pilot, lambda: bool(chips.images))
        await pilot.pause()
        [image] = chips.images
        assert (image.width, image.height) == (4000, 3000)
        assert chips.query(".chip-preview") and not chips.query(".chip-pending")
        assert order == ["enter", "k", "enter", "read"]
        assert composer.text == "k"
        assert any(n.message.startswith("Still reading big photo.jpg") for n in app._notifications)


async def test_a_stored_photo_previews_after_a_placeholder(make_app, session, photo: Path) -> None:
    from mmchat.images import read_image_file

    conv = session.store.create_conversation(title="photos", model="scripted")
    session.store.add_message(conv.id, "user", "look", images=[read_image_file(photo)])
    session.store.add_message(conv.id, "assistant", "a gradient")
    app, _ = make_app(vision=True)
    order: list[str] = []

    def hook(message: object) -> None:
        if isinstance(message, events.Key) and message.key == "k":
            order.append("k")
        elif isinstance(message, AttachmentRow.Previewed):
            # The placeholder held the preview's place until now.
            row = app.screen.query_one(AttachmentRow)
            order.append("previewed" + (" after placeholder" if row.query(".pending") else ""))

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        chat = app.screen.query_one(OpenChat)
        chat.call_later(chat.open, conv.id)  # as the conversation list opens it
        await poll(pilot, lambda: bool(app.screen.query(AttachmentRow)))
        composer.post_message(events.Key("k", "k"))
        row = app.screen.query_one(AttachmentRow)
        # The preview mounts, then its placeholder goes.
        await poll(pilot, lambda: not row.query(".preview.pending"))
        assert row.query(".preview.halfblock")
        assert order == ["k", "previewed after placeholder"]
        assert composer.text == "k"

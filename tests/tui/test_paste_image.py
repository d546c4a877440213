"""Ctrl+V pastes the clipboard's bitmap into the draft: a real X11 clipboard (Xvfb + xclip),
the app under Pilot; and removing an attachment from the draft with the keyboard."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from tui_helpers import wait_answered, wait_for, wait_ready
from x11_clipboard import put_on_clipboard, xvfb_display

from mmchat.config import data_dir
from mmchat.session import open_session
from mmchat.tui.widgets.attachments import Chip, ChipRow
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int] = (20, 160, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An X11 session of the test's own, the only clipboard the app can see."""
    with xvfb_display() as name:
        monkeypatch.setenv("DISPLAY", name)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield name


async def press_paste(app, pilot, draft_text: str = "") -> Composer:  # type: ignore[no-untyped-def]
    await wait_ready(pilot)
    composer = app.screen.query_one(Composer)
    composer.text = draft_text
    composer.focus()
    await pilot.press("ctrl+v")
    return composer


async def test_ctrl_v_attaches_the_clipboard_png_saved_in_the_data_folder(
    make_app, session, display: str
) -> None:
    data = png_bytes((48, 36))
    put_on_clipboard(display, data, "image/png")
    app, _ = make_app(vision=True, answers=["a green box"])
    async with app.run_test(size=(100, 30)) as pilot:
        composer = await press_paste(app, pilot, "what is this?")
        chips = app.screen.query_one(ChipRow)
        await wait_for(pilot, lambda: len(chips.images) == 1)
        [image] = chips.images
        assert (image.width, image.height, image.mime) == (48, 36, "image/png")
        assert image.name.startswith("pasted-") and image.name.endswith(".png")
        saved = data_dir() / "pasted" / image.name
        assert saved.read_bytes() == data == image.data
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert chips.query(".chip-preview")  # the draft shows a small preview
        assert composer.text == "what is this?"  # the draft's text is untouched
        assert any("via xclip" in n and "48×36" in n for n in notices(app))
        await pilot.press("enter")
        await wait_answered(pilot)
        user = app.screen.query_one(ChatLog).boxes[0]
        assert image.name in str(user.query_one(".attachment-name").render())
    # Another session on the same data folder (a restart) finds the image with the message.
    again = open_session(plugins=False)
    try:
        [conv] = again.store.conversations()
        [attachment] = again.store.messages(conv.id)[0].attachments
        assert (attachment.name, attachment.width, attachment.height) == (image.name, 48, 36)
        assert again.store.blob(attachment.sha256) == data
    finally:
        again.close()


@pytest.mark.parametrize(
    ("content", "mime", "expected"),
    [
        (b"just some words", None, "No image on the clipboard"),
        (b"not a picture at all", "image/png", "not an image in a supported format"),
        # 60 megapixels in a few kilobytes: over the cap, refused before decoding.
        (b"huge", "image/png", "megapixel limit"),
    ],
    ids=["text-only", "non-image-bytes", "huge-bitmap"],
)
async def test_ctrl_v_without_a_usable_image_says_why_and_keeps_the_draft(
    make_app, display: str, content: bytes, mime: str | None, expected: str
) -> None:
    if content == b"huge":
        out = io.BytesIO()
        Image.new("1", (10_000, 6_000)).save(out, format="PNG")
        content = out.getvalue()
    put_on_clipboard(display, content, mime)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        composer = await press_paste(app, pilot, "keep me")
        await wait_for(pilot, lambda: any(expected in n for n in notices(app)))
        assert all("\n" not in n for n in notices(app))
        assert app.screen.query_one(ChipRow).images == []
        assert composer.text == "keep me"
    assert not (data_dir() / "pasted").exists() or not any((data_dir() / "pasted").iterdir())


async def test_ctrl_v_with_no_clipboard_tool_names_the_one_to_install(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await press_paste(app, pilot)
        await wait_for(pilot, lambda: bool(notices(app)))
        assert any("install xclip" in n for n in notices(app))


async def test_a_hanging_tool_leaves_the_ui_responsive_and_times_out(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """xclip's stand-in never answers, as a frozen clipboard owner makes the real one wait."""
    from mmchat.tui import clipboard_image

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "xclip"
    tool.write_text("#!/bin/sh\nexec sleep 60\n", encoding="utf-8")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(clipboard_image, "PASTE_SECONDS", 3.0)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        composer = await press_paste(app, pilot)
        await wait_for(pilot, lambda: any(w.group == "paste" for w in app.workers))
        await pilot.press("o", "k")  # typed while the tool hangs
        assert composer.text == "ok"
        assert not any("did not answer" in n for n in notices(app))  # still waiting then
        timed_out = "xclip did not answer within 3 s"
        await wait_for(pilot, lambda: any(timed_out in n for n in notices(app)))
        assert app.screen.query_one(ChipRow).images == []


async def test_delete_and_backspace_on_a_focused_chip_remove_attachments(
    make_app, png: Path, tmp_path: Path
) -> None:
    second = tmp_path / "blue.png"
    Image.new("RGB", (10, 10), (0, 0, 255)).save(second)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = f"/attach '{png}' '{second}'"
        composer.focus()
        await pilot.press("enter")
        chips = app.screen.query_one(ChipRow)
        # Both files read and their chips mounted: the row remounts as each file arrives.
        await wait_for(pilot, lambda: len(chips.images) == len(chips.query(Chip)) == 2)
        composer.text = "my question"
        await pilot.press("shift+tab")  # from the composer to the last chip
        assert isinstance(app.focused, Chip) and app.focused.index == 1
        await pilot.press("delete")
        await wait_for(pilot, lambda: [i.name for i in chips.images] == ["red square.png"])
        assert isinstance(app.focused, Chip)  # the remaining chip, ready for the next key
        await pilot.press("backspace")
        await wait_for(pilot, lambda: chips.images == [])
        assert app.focused is composer and not chips.display
        assert composer.text == "my question"

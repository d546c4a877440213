"""Attaching images: by /attach, by a dropped (pasted) path; bad files and text-only models."""

from __future__ import annotations

from pathlib import Path

from textual import events
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.tui.widgets.attachments import ChipRow
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer, dropped_image_paths


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def test_attach_command_then_send_stores_the_image(make_app, session, png: Path) -> None:
    app, _ = make_app(vision=True, answers=["a red square"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = f'/attach "{png}"'
        composer.focus()
        await pilot.press("enter")
        chips = app.screen.query_one(ChipRow)
        await wait_for(pilot, lambda: len(chips.images) == 1)
        assert [i.name for i in chips.images] == ["red square.png"]
        assert chips.display
        composer.text = "What is this?"
        await pilot.press("enter")
        await wait_answered(pilot)
        user = app.screen.query_one(ChatLog).boxes[0]
        assert "red square.png" in str(user.query_one(".attachment-name").render())
        # A half-block preview of the stored image, decoded in a worker.
        await wait_for(pilot, lambda: not user.query(".preview.pending"))
        assert user.query(".preview.halfblock")
        assert chips.images == [] and not chips.display
    [conv] = session.store.conversations()
    user = session.store.messages(conv.id)[0]
    assert [(a.name, a.width, a.height) for a in user.attachments] == [("red square.png", 32, 24)]


async def test_dropped_path_attaches_and_chip_removes_it(make_app, png: Path) -> None:
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = "draft"
        composer.post_message(events.Paste(f"'{png}'"))
        chips = app.screen.query_one(ChipRow)
        await wait_for(pilot, lambda: len(chips.images) == 1)
        assert composer.text == "draft"  # the path did not land in the text
        await pilot.click(".chip")
        await wait_for(pilot, lambda: chips.images == [])
        assert composer.text == "draft"


async def test_bad_attachment_notifies_and_keeps_the_draft(make_app, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = "keep this draft"
        composer.post_message(events.Paste(str(bad)))
        await wait_for(pilot, lambda: bool(notices(app)))
        assert any(m.startswith("broken.png:") for m in notices(app))
        assert all("\n" not in m for m in notices(app))
        assert composer.text == "keep this draft"
        assert app.screen.query_one(ChipRow).images == []


async def test_text_only_model_refuses_an_image_clearly(make_app, session, png: Path) -> None:
    app, engines = make_app(vision=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = f"/attach {png}"
        composer.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.screen.query_one(ChipRow).images) == 1)
        composer.text = "describe it"
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(notices(app)))
        assert any("text-only" in m for m in notices(app))
        assert composer.text == "describe it"
        assert len(app.screen.query_one(ChipRow).images) == 1
    assert session.store.conversations() == []
    assert engines[0].requests == []


def test_dropped_paths_need_existing_image_files(png: Path, tmp_path: Path) -> None:
    assert dropped_image_paths(f"'{png}'") == [png]
    assert dropped_image_paths(f"file://{str(png).replace(' ', '%20')}") == [png]
    assert dropped_image_paths(str(png).replace(" ", "\\ ")) == [png]
    assert dropped_image_paths("hello world") == []
    assert dropped_image_paths(str(tmp_path / "missing.png")) == []
    assert dropped_image_paths(f"'{png}' and more") == []


def test_half_block_preview_keeps_aspect_and_colours() -> None:
    from PIL import Image

    from mmchat.tui.widgets.preview import half_blocks, terminal_draws_graphics

    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 10, 40, 20))  # lower half blue
    text = half_blocks(image, columns=20, rows=8)
    lines = text.plain.split("\n")
    assert len(lines) == 5 and all(len(line) == 20 for line in lines)  # 20x10 px -> 20x5 cells
    styles = [span.style for span in text.spans]
    top_left, last = styles[0], styles[-1]
    assert top_left.color.triplet == (255, 0, 0) and top_left.bgcolor.triplet == (255, 0, 0)
    assert last.color.triplet == (0, 0, 255) and last.bgcolor.triplet == (0, 0, 255)
    assert not terminal_draws_graphics({"TERM": "tmux-256color"})
    assert terminal_draws_graphics({"TERM": "xterm-kitty"})
    assert not terminal_draws_graphics({"TERM": "xterm-kitty", "MMCHAT_IMAGE_PREVIEW": "halfblock"})

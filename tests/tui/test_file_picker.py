"""The Ctrl+O file picker: file and folder names shown with their control characters removed,
and a path typed while the tree has the focus."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from textual.geometry import Region
from textual.widgets import Input
from tui_helpers import wait_for, wait_ready

from mmchat.tui.screens.files import FilePickerScreen, ImageTree
from mmchat.tui.widgets.attachments import ChipRow

pytestmark = pytest.mark.reliability

EVIL_FILE = "clip\x1b]52;c;ZXZpbA==\x07board\x9b31m.png"  # OSC 52 clipboard write, 8-bit CSI
EVIL_DIR = "red\x1b[31mfolder\u202egnp.exe"  # a colour code and a bidi override


def screen_text(tree: ImageTree) -> str:
    strips = tree.render_lines(Region(0, 0, tree.size.width, tree.size.height))
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def test_picker_strips_control_characters_from_names(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / EVIL_FILE, format="PNG")
    (folder / EVIL_DIR).mkdir()
    monkeypatch.chdir(folder)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        tree = app.screen.query_one(ImageTree)
        await wait_for(pilot, lambda: "board" in screen_text(tree))
        shown = screen_text(tree)
        assert "clip]52;c;ZXZpbA==board31m.png" in shown
        assert "red[31mfoldergnp.exe" in shown
        for character in ("\x1b", "\x07", "\x9b", "\u202e"):
            assert character not in shown


async def test_a_path_typed_in_the_picker_goes_to_the_path_field(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree has the focus; typing starts a path instead of vanishing into it."""
    photo = tmp_path / "cat.png"
    Image.new("RGB", (8, 8), "orange").save(photo)
    monkeypatch.chdir(tmp_path)
    app, _ = make_app(vision=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        picker = app.screen
        assert isinstance(picker.focused, ImageTree)
        await pilot.press(*str(photo))
        typed = picker.query_one("#path-input", Input)
        assert typed.value == str(photo) and picker.focused is typed
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, FilePickerScreen))
        chips = app.screen.query_one(ChipRow)
        await wait_for(pilot, lambda: len(chips.images) == 1)
        assert [i.name for i in chips.images] == ["cat.png"]

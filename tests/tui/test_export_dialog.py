"""Ctrl+S exports the open chat: the format from the extension, a confirm before replacing, refusals
shown in the dialog with the path kept."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

from textual.widgets import Input, Label
from tui_helpers import wait_for

from mmchat.images import read_image_file
from mmchat.tui.palette import chat_commands
from mmchat.tui.screens.dialogs import ConfirmScreen
from mmchat.tui.screens.export import ExportScreen


def seed(store, png: Path) -> int:  # type: ignore[no-untyped-def]
    conv = store.create_conversation(title="Picture chat", model="scripted")
    store.add_message(conv.id, "user", "What is <b>this</b>?", images=[read_image_file(png)])
    cites = [{"n": 1, "source": "/kb/colours.md", "title": "Colours", "location": "Red"}]
    store.add_message(conv.id, "assistant", "A red square [1].", meta={"citations": cites})
    return conv.id


async def _open_dialog(app, pilot, conv_id: int) -> ExportScreen:  # type: ignore[no-untyped-def]
    await app.screen.open_conversation(conv_id)
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen))
    return app.screen


async def _submit(pilot, screen: ExportScreen, path: Path) -> None:  # type: ignore[no-untyped-def]
    screen.query_one(Input).value = str(path)
    screen.query_one(Input).focus()
    await pilot.press("enter")


def _error(screen: ExportScreen) -> str:
    label = screen.query_one("#export-error", Label)
    return str(label.content) if label.display else ""


async def test_ctrl_s_writes_markdown_with_its_images(make_app, session, png, tmp_path) -> None:
    conv_id = seed(session.store, png)
    app, _ = make_app()
    target = tmp_path / "out.md"
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_dialog(app, pilot, conv_id)
        await _submit(pilot, screen, target)
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen))
        assert any("Exported to" in n.message for n in app._notifications)
    text = target.read_text()
    (link,) = re.findall(r"!\[red square.png\]\(([^)]+)\)", text)
    assert (tmp_path / unquote(link)).read_bytes() == png.read_bytes()
    assert re.search(r"\[\^m\d+-1\]: Colours, Red \(/kb/colours.md\)", text)


async def test_existing_file_asks_before_replacing(make_app, session, png, tmp_path) -> None:
    conv_id = seed(session.store, png)
    target = tmp_path / "chat.json"
    target.write_text("older export")
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_dialog(app, pilot, conv_id)
        await _submit(pilot, screen, target)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # keep it: back in the dialog, path as typed
        await wait_for(pilot, lambda: app.screen is screen)
        assert target.read_text() == "older export"
        assert screen.query_one(Input).value == str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, ExportScreen)))
    messages = json.loads(target.read_text())["messages"]
    assert messages[0]["attachments"][0]["name"] == "red square.png"


async def test_folder_and_unknown_extension_are_refused_in_the_dialog(
    make_app, session, png, tmp_path
) -> None:
    conv_id = seed(session.store, png)
    folder = tmp_path / "exports.html"
    folder.mkdir()
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_dialog(app, pilot, conv_id)
        await _submit(pilot, screen, folder)
        await wait_for(pilot, lambda: "is a folder" in _error(screen))
        await _submit(pilot, screen, tmp_path / "chat.pdf")
        await wait_for(pilot, lambda: ".md, .json or .html" in _error(screen))
        await _submit(pilot, screen, tmp_path / "no such dir" / "chat.html")
        await wait_for(pilot, lambda: "no folder" in _error(screen))
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)  # root writes there anyway; /proc takes no file from anyone
        unwritable = Path("/proc/chat.html") if os.geteuid() == 0 else locked / "chat.html"
        await _submit(pilot, screen, unwritable)
        await wait_for(pilot, lambda: "cannot write" in _error(screen))
        assert app.screen is screen and screen.query_one(Input).value.endswith("chat.html")
        await _submit(pilot, screen, tmp_path / "chat.html")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen))
    html = (tmp_path / "chat.html").read_text()
    assert "<script" not in html and "&lt;b&gt;this&lt;/b&gt;" in html
    assert list(folder.iterdir()) == []


async def test_a_new_chat_has_nothing_to_export(make_app) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)
        assert any("Nothing to export" in n.message for n in app._notifications)
        titles = [c.title for c in chat_commands(app.screen)]
        assert "Export chat" in titles


async def test_the_suggested_path_is_a_new_file_where_mmchat_runs(
    make_app, session, png, tmp_path, monkeypatch
) -> None:
    conv_id = seed(session.store, png)
    monkeypatch.chdir(tmp_path)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await _open_dialog(app, pilot, conv_id)
        await pilot.press("enter")  # accept the suggestion as it stands
        await wait_for(pilot, lambda: not isinstance(app.screen, ExportScreen))
    written = tmp_path / f"mmchat-chat-{conv_id}.md"
    assert written.read_text().startswith("# Picture chat")
    assert len(list((tmp_path / f"mmchat-chat-{conv_id}_files").iterdir())) == 1

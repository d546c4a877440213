"""`s` on a focused answer lists its sources with their passages; Enter or `o` opens the file with
the system opener, and a deleted file is named as such."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from textual.widgets import OptionList
from tui_helpers import wait_for

from mmchat.tui.screens.citations import CitationScreen
from mmchat.tui.widgets.chat_log import ChatLog


@pytest.fixture
def opener_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in desktop opener on PATH that records what it was asked to open."""
    bin_dir, log = tmp_path / "bin", tmp_path / "opened.txt"
    bin_dir.mkdir()
    for name in ("xdg-open", "open"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{log}"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def seed(store, tmp_path: Path) -> tuple[int, Path, Path]:  # type: ignore[no-untyped-def]
    manual, gone = tmp_path / "manual.md", tmp_path / "old notes.md"
    manual.write_text("# Setup\nTurn the dial to 3.\n")
    cites = [
        {
            "n": 1,
            "source": str(manual),
            "title": "Manual",
            "location": "Setup",
            "text": "Turn the dial to 3 before starting.",
        },
        {
            "n": 2,
            "source": str(gone),
            "title": "",
            "location": "page 2",
            "text": "[b]Old[/b] advice",
        },
        {"n": 3, "source": "https://example.org/faq", "title": "FAQ", "location": ""},
    ]
    conv = store.create_conversation(title="Dial", model="scripted")
    store.add_message(conv.id, "user", "How do I set the dial?")
    store.add_message(
        conv.id, "assistant", "Set it to 3 [1], not 5 [2].", meta={"citations": cites}
    )
    return conv.id, manual, gone


async def test_sources_panel_shows_passages_and_opens_files(
    make_app, session, tmp_path, opener_log
) -> None:
    conv_id, manual, gone = seed(session.store, tmp_path)
    app, _ = make_app()
    async with app.run_test(size=(110, 36)) as pilot:
        await app.screen.open_conversation(conv_id)
        app.screen.query_one(ChatLog).boxes[-1].focus()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, CitationScreen))
        panel = app.screen
        options = panel.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert "Turn the dial to 3 before starting." in prompts[0]
        assert "[1] Manual, Setup" in prompts[0] and "file not found" not in prompts[0]
        assert "file not found" in prompts[1] and "[b]Old[/b] advice" in prompts[1]
        assert "not saved" in prompts[2]
        await pilot.press("enter")
        await wait_for(pilot, lambda: opener_log.exists() and opener_log.read_text() != "")
        assert opener_log.read_text().splitlines() == [str(manual.resolve())]
        assert "opened manual.md" in panel.note
        await pilot.press("2", "o")  # the digit goes to [2]: its file was deleted
        await wait_for(pilot, lambda: "no longer exists" in panel.note)
        assert str(gone) in panel.note
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: "web address, not opened" in panel.note)
        assert len(opener_log.read_text().splitlines()) == 1  # only the one file was opened
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CitationScreen))


async def test_a_message_without_sources_says_so(make_app, session, tmp_path) -> None:
    conv_id, _, _ = seed(session.store, tmp_path)
    app, _ = make_app()
    async with app.run_test(size=(110, 36)) as pilot:
        await app.screen.open_conversation(conv_id)
        app.screen.query_one(ChatLog).boxes[0].focus()
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, CitationScreen)
        assert any("cites no sources" in n.message for n in app._notifications)

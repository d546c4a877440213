"""Copying a message, or its code blocks one by one, with OSC 52 and the clipboard tool."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from tui_helpers import wait_for

from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.message_box import MessageBox

ANSWER = """Two ways:

```python
print("one")
```

and

```sh
echo two
```

Done."""


@pytest.fixture
def wl_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `wl-copy` on PATH that keeps what it is given (no Wayland session runs here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    received = tmp_path / "clipboard.txt"
    tool = bin_dir / "wl-copy"
    tool.write_text(f"#!/bin/sh\n{shutil.which('cat')} > '{received}'\n", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test")
    monkeypatch.delenv("DISPLAY", raising=False)
    return received


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def focused_answer(app, pilot, session) -> MessageBox:  # type: ignore[no-untyped-def]
    conv = session.store.create_conversation(title="Code", model="scripted")
    session.store.add_message(conv.id, "user", "show me")
    session.store.add_message(conv.id, "assistant", ANSWER)
    await app.screen.open_conversation(conv.id)
    await pilot.pause()
    box = app.screen.query_one(ChatLog).last("assistant")
    box.focus()
    await pilot.pause()
    return box


async def test_b_cycles_through_code_blocks_and_c_copies_the_message(
    make_app, session, wl_copy: Path
) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await focused_answer(app, pilot, session)
        copied: list[str] = []
        for count in range(1, 4):
            await pilot.press("b")
            await wait_for(pilot, lambda n=count: sum("via" in m for m in notices(app)) == n)
            copied.append(app.clipboard)
            assert wl_copy.read_text() == app.clipboard  # the tool got the same text
        assert [c.strip() for c in copied] == ['print("one")', "echo two", 'print("one")']
        assert any("code block 2 of 2 (sh) via OSC 52 and wl-copy" in n for n in notices(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: app.clipboard == ANSWER)
        await wait_for(pilot, lambda: wl_copy.read_text() == ANSWER)
        await wait_for(pilot, lambda: any("the message via OSC 52 and" in n for n in notices(app)))


async def test_without_a_clipboard_tool_the_notice_says_so(
    make_app, session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tool at all
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        box = await focused_answer(app, pilot, session)
        await pilot.press("c")
        await wait_for(pilot, lambda: any("OSC 52 only" in n for n in notices(app)))
        assert app.clipboard == box.text
        assert any("no clipboard tool found" in n for n in notices(app))


async def test_a_message_without_code_blocks_says_so(make_app, session) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await focused_answer(app, pilot, session)
        box = app.screen.query_one(ChatLog).boxes[0]  # the question: no code in it
        box.focus()
        await pilot.press("b")
        await wait_for(pilot, lambda: any("no code block" in n for n in notices(app)))
        assert app.clipboard == ""

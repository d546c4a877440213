"""Tools in the TUI: a tool not marked safe asks in a dialog (name and arguments) before it
runs; the calls and results show as a dim block above the answer. A real MCP server over stdio,
and a scripted engine that calls it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from textual.widgets import Static
from tui_helpers import wait_answered, wait_for, wait_ready

pytest.importorskip("mcp")

from mcp_servers.scripted_engine import ScriptedEngine, call  # noqa: E402

from mmchat.session import open_session  # noqa: E402
from mmchat.tui.app import MMChatApp  # noqa: E402
from mmchat.tui.screens.tool_confirm import ToolConfirmScreen  # noqa: E402
from mmchat.tui.widgets.chat_log import ChatLog  # noqa: E402
from mmchat.tui.widgets.composer import Composer  # noqa: E402

SERVER = Path(__file__).parents[1] / "mcp_servers" / "tool_server.py"


@pytest.fixture
def notes(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path / "cache"))
    config = isolated_home / "config"
    (config / "personas").mkdir(parents=True)
    env = json.dumps(os.environ.get("PYTHONPATH", ""))
    (config / "settings.toml").write_text(
        f"[mcp.files]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(SERVER))}]\nstart_timeout = 120\nenv = {{ PYTHONPATH = {env} }}\n"
    )
    (config / "personas" / "reader.toml").write_text(
        'name = "reader"\nsystem_prompt = "Read files."\ntools = ["files.read_file"]\n'
    )
    path = tmp_path / "notes.txt"
    path.write_text("buy milk")
    return path


async def ask_to_read(notes: Path, key: str) -> tuple[MMChatApp, ScriptedEngine, str]:
    session = open_session(plugins=False)
    engine = ScriptedEngine([call("read_file", json.dumps({"path": str(notes)})), "Read: {result}"])
    app = MMChatApp(session, model="scripted", persona="reader", engine_factory=lambda n: engine)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_ready(pilot)
            composer = app.screen.query_one(Composer)
            composer.text = "What do my notes say?"
            composer.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ToolConfirmScreen))
            shown = str(app.screen.query_one("#tool-arguments", Static).render())
            assert "Run the tool files.read_file?" in str(app.screen.query_one("Label").render())
            await pilot.press(key)
            await wait_answered(pilot)
            box = app.get_screen("chat").query_one(ChatLog).boxes[-1]
            tools = str(box.query_one(".message-tools", Static).render())
            return app, engine, f"{shown}\n---\n{tools}\n---\n{box.text}"
    finally:
        session.close()


async def test_a_tool_runs_once_the_person_says_yes(notes: Path) -> None:
    app, engine, seen = await ask_to_read(notes, "y")
    arguments, tools, answer = seen.split("\n---\n")
    assert json.loads(arguments) == {"path": str(notes)}
    assert tools == f'tool files.read_file {{"path": "{notes}"}}\n→ buy milk'
    assert answer == "Read: buy milk"


async def test_escape_refuses_and_the_model_is_told(notes: Path) -> None:
    app, engine, seen = await ask_to_read(notes, "escape")
    answer = seen.split("\n---\n")[2]
    assert answer == "Read: refused: the person did not allow files.read_file to run"
    assert engine.requests[1].messages[-1].content.startswith("refused:")

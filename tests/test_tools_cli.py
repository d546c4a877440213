"""`mmchat tools` and `mmchat ask` with tools, through the real CLI: a real MCP server over
stdio, and a local plugin's engine (in the engine process) that calls a tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

SERVER = Path(__file__).parent / "mcp_servers" / "tool_server.py"
MMCHAT = [sys.executable, "-m", "mmchat.cli"]

CALLER = """
from mmchat.hooks import Delta, Finished, ModelInfo, Started, hookimpl


class Caller:
    '''Asks to read the file the person names, then answers with what came back.'''

    def load(self, progress=None):
        return ModelInfo("caller", "cpu", "none", 4096, False)

    def stream(self, request):
        yield Started(5, tools_offered=bool(request.tools))
        last = request.messages[-1]
        if request.tools and last.role == "user":
            path = last.content.strip().replace('"', '')
            call = '{"name": "read_file", "arguments": {"path": "%s"}}' % path
            yield Delta("<tool_call>" + call + "</tool_call>")
        else:
            yield Delta("File says: " + last.content)
        yield Finished("stop", 3, 0.01)

    def cancel(self):
        pass

    def close(self):
        pass


@hookimpl
def register_engines(register):
    register("caller", lambda rest, options: Caller())
"""


def mmchat(*args: str, plugins: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MMCHAT_PLUGINS": plugins}
    return subprocess.run([*MMCHAT, *args], capture_output=True, text=True, timeout=240, env=env)


@pytest.fixture
def configured(isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path / "cache"))
    config = isolated_home / "config"
    (config / "personas").mkdir(parents=True)
    python = json.dumps(sys.executable)
    env = json.dumps(os.environ.get("PYTHONPATH", ""))
    (config / "settings.toml").write_text(
        f"[mcp.files]\ncommand = {python}\nargs = [{json.dumps(str(SERVER))}]\n"
        f"safe = ['add']\nstart_timeout = 120\nenv = {{ PYTHONPATH = {env} }}\n\n"
        f"[mcp.junk]\ncommand = {python}\nargs = [{json.dumps(str(SERVER))}, 'garbage']\n"
        f"start_timeout = 3\nenv = {{ PYTHONPATH = {env} }}\n"
    )
    (config / "personas" / "reader.toml").write_text(
        'name = "reader"\nsystem_prompt = "Read files."\ntools = ["files.read_file"]\n'
    )
    plugins = config / "plugins"
    plugins.mkdir(mode=0o700)
    (plugins / "caller.py").write_text(CALLER)
    return config


def test_tools_lists_servers_their_tools_and_what_failed(configured: Path) -> None:
    result = mmchat("tools")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"files  (mcp: {sys.executable} {SERVER})"
    assert "  files.add [safe]  Add two numbers." in lines
    assert "  files.read_file  Read a text file." in lines
    junk = lines.index(f"junk  (mcp: {sys.executable} {SERVER} garbage)")
    assert lines[junk + 1] == (
        "  failed: MCP server 'junk': it answered with text that is not MCP (JSON-RPC)"
    )
    data = json.loads(mmchat("tools", "--json").stdout)
    assert [s["name"] for s in data["servers"]] == ["files", "junk"]
    assert data["servers"][1]["error"] and data["servers"][1]["tools"] == []


def test_tools_reports_bad_settings_in_one_line(configured: Path) -> None:
    (configured / "settings.toml").write_text("[mcp.x]\nurl = 'ftp://nowhere'\n")
    result = mmchat("tools")
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.endswith("[mcp.x]: 'url' must start with http:// or https://\n")
        and result.stderr.count("\n") == 1
    )


def test_ask_refuses_a_tool_unless_allowed(configured: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("forty-two")
    refused = mmchat(
        "ask", "--model", "caller:x", "--persona", "reader", str(secret), plugins="caller"
    )
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout == (
        "File says: refused: the person did not allow files.read_file to run\n"
    )
    assert refused.stderr == (
        f'mmchat: tool files.read_file {{"path": "{secret}"}}\n'
        "mmchat: → refused: the person did not allow files.read_file to run\n"
    )
    allowed = mmchat(
        "ask",
        "--model",
        "caller:x",
        "--persona",
        "reader",
        "--allow-tool",
        "files.read_file",
        "--json",
        str(secret),
        plugins="caller",
    )
    data = json.loads(allowed.stdout)
    assert data["content"] == "File says: forty-two" and data["status"] == "complete"
    assert data["tool_calls"] == [
        {
            "name": "files.read_file",
            "arguments": {"path": str(secret)},
            "result": "forty-two",
            "status": "ok",
        }
    ]

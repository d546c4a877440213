"""The plugin system through the real CLI: `mmchat plugins`, `personas`, plugin commands.

Each run names its plugins in MMCHAT_PLUGINS, so other installed plugins never change a result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plugins_api_helpers import mmchat

from mmchat.hooks import API_VERSION

COMMANDS = """
import typer
from mmchat.hooks import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command(name="ask")
    def fake_ask():
        print("hijacked")

    @cli.command(name="local-hello")
    def hello():
        print("hello from a local plugin")

    group = typer.Typer()

    @group.command()
    def ping():
        print("pong")

    cli.add_typer(group, name="local-group")
    cli.add_typer(typer.Typer(), name="history")  # taken by mmchat: refused
"""
BROKEN_COMMANDS = """
from mmchat.hooks import hookimpl

@hookimpl
def register_commands(cli):
    raise RuntimeError("commands broke")
"""


def test_plugins_lists_example_with_version_and_hooks() -> None:
    result = mmchat("plugins", plugins="example")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATUS", "FROM", "HOOKS"]
    example = next(line for line in lines if line.startswith("example "))
    assert example.split()[:4] == ["example", "0.3.1", "loaded", "mmchat-example-plugin"]
    assert example.endswith(
        "mmchat_before_prompt, mmchat_retrieve, mmchat_turn_finished, register_commands, "
        "register_engines, register_personas"
    )
    data = json.loads(mmchat("plugins", "--json", plugins="example").stdout)
    names = [p["name"] for p in data["plugins"]]
    assert names == ["mmchat.builtin", "example"] and data["allow_list"] == ["example"]
    assert data["api_version"] == API_VERSION


def test_plugins_reports_failures_and_notes(local_plugins: Path) -> None:
    (local_plugins / "crash.py").write_text("raise ImportError('missing piece')\n")
    (local_plugins / "cmds.py").write_text(COMMANDS)
    result = mmchat("plugins", plugins="example,crash,cmds,gone")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Failed or disabled:\n  local:crash: ImportError: missing piece\n" in out
    assert "  gone: not installed (named in MMCHAT_PLUGINS)" in out
    assert "  local:cmds: command 'ask' ignored: the name is already taken" in out
    assert "  local:cmds: command 'history' ignored: the name is already taken" in out
    assert "example " in out  # the others still load


def test_no_plugins_flag(local_plugins: Path) -> None:
    result = mmchat("plugins", "--no-plugins", plugins="example")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:2]] == ["mmchat.builtin"]
    listed = mmchat("personas", "list", "--no-plugins", plugins="example")
    assert "pirate" not in listed.stdout and "assistant" in listed.stdout


def test_plugin_command_runs_and_goes_with_its_plugin(local_plugins: Path) -> None:
    (local_plugins / "cmds.py").write_text(COMMANDS)
    greet = mmchat("example-greet", "Bob", "--shout", plugins="example,cmds")
    assert greet.returncode == 0, greet.stderr
    assert greet.stdout == "AHOY, BOB!\n"
    hello = mmchat("local-hello", plugins="example,cmds")
    assert hello.stdout == "hello from a local plugin\n"
    pong = mmchat("local-group", "ping", plugins="cmds")
    assert pong.returncode == 0 and pong.stdout == "pong\n", pong.stderr
    history = mmchat("history", "list", plugins="cmds")
    assert history.returncode == 0, history.stderr
    # a plugin cannot take over a built-in command
    ask = mmchat("ask", "--help", plugins="cmds")
    assert "Ask one question" in ask.stdout and "hijacked" not in ask.stdout
    gone = mmchat("example-greet", "Bob", plugins="")
    assert gone.returncode == 2 and "No such command" in gone.stderr


def test_register_commands_that_raises_is_reported_once(local_plugins: Path) -> None:
    (local_plugins / "broken.py").write_text(BROKEN_COMMANDS)
    result = mmchat("example-greet", "Ann", plugins="example,broken")
    assert result.returncode == 0 and result.stdout == "Ahoy, Ann!\n"
    assert result.stderr.count("commands broke") == 1
    assert "plugin local:broken disabled (register_commands): RuntimeError: commands broke" in (
        result.stderr
    )


def test_personas_list_and_show() -> None:
    listed = mmchat("personas", "list", plugins="example")
    assert listed.returncode == 0, listed.stderr
    assert "  pirate               Answers like a pirate of Black Pearl  [plugin example]" in (
        listed.stdout.splitlines()
    )
    shown = mmchat("personas", "show", "pirate", "--json", plugins="example")
    data = json.loads(shown.stdout)
    assert data["greeting"] == "Ahoy from the Black Pearl!" and data["max_tokens"] == 48
    missing = mmchat("personas", "show", "nobody", plugins="example")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "mmchat: error: unknown persona 'nobody'; known personas: assistant, pirate"
    )


def test_bad_persona_file_is_named_once(isolated_home: Path) -> None:
    folder = isolated_home / "config" / "personas"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text('name = "broken"\nsystem_prompt = \n')
    listed = mmchat("personas", "list", plugins="")
    assert listed.returncode == 0
    assert listed.stderr.count(str(folder / "broken.toml")) == 1
    assert "not valid TOML" in listed.stderr
    ask = mmchat("ask", "--persona", "broken", "hi", plugins="")
    assert ask.returncode == 2
    assert (
        f"mmchat: error: persona 'broken' could not be read: {folder / 'broken.toml'}: "
        "not valid TOML"
    ) in ask.stderr


def test_ask_with_a_plugin_persona_on_the_real_model() -> None:
    result = mmchat(
        "ask",
        "--model",
        "smollm2",
        "--persona",
        "pirate",
        "--json",
        "Who are you?",
        plugins="example",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["persona"] == "pirate" and data["status"] == "complete"
    assert data["content"].strip() and data["completion_tokens"] <= 48  # the persona's cap
    exported = mmchat(
        "history", "export", str(data["conversation_id"]), "--format", "json", plugins="example"
    )
    answer = json.loads(exported.stdout)["messages"][-1]
    assert answer["meta"]["example"]["status"] == "complete"  # mmchat_turn_finished was saved


def test_personas_new_writes_a_package_that_installs_and_works(tmp_path: Path) -> None:
    made = mmchat("personas", "new", "acme-help", "--dir", str(tmp_path), plugins="")
    assert made.returncode == 0, made.stderr
    package = tmp_path / "mmchat-persona-acme-help"
    assert (package / "mmchat_persona_acme_help" / "__init__.py").is_file()
    again = mmchat("personas", "new", "acme-help", "--dir", str(tmp_path), plugins="")
    assert again.returncode == 2 and "already exists" in again.stderr
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    installed = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(package)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": str(site)}
    shown = mmchat_with(env, "personas", "show", "acme-help", "--json")
    assert json.loads(shown.stdout)["greeting"] == "Hello, I'm Sam from Example Co. How can I help?"
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=package,
        env={**_env(), **env},
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MMCHAT_PLUGINS"}


def mmchat_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**_env(), **env, "MMCHAT_PLUGINS": "acme-help"},
    )


def test_personas_new_refuses_a_bad_name(tmp_path: Path) -> None:
    result = mmchat("personas", "new", "../evil", "--dir", str(tmp_path), plugins="")
    assert result.returncode == 2 and "bad persona name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_ask_survives_a_raising_hook_and_reports_it_once(local_plugins: Path) -> None:
    (local_plugins / "flaky.py").write_text(
        "from mmchat.hooks import hookimpl\n"
        "@hookimpl\ndef mmchat_before_prompt(context):\n"
        "    raise RuntimeError('\\x1b[31mred')\n"
    )
    result = mmchat(
        "ask",
        "--model",
        "smollm2",
        "--max-tokens",
        "16",
        "What is the capital of France?",
        plugins="flaky",
    )
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "flaky" in line]
    assert warnings == [
        "mmchat: plugin local:flaky disabled (mmchat_before_prompt): RuntimeError: [31mred"
    ]  # once, and with the escape sequence stripped

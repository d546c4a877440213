"""`--json` outputs and the CLI lines that print stored strings pass no control character.

json.dumps(ensure_ascii=False) escapes C0 but lets DEL, 8-bit C1 (CSI, OSC) and bidi overrides
through; they must come out as \\uXXXX escapes, and the data must read back unchanged.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from hostile_text import control_count, run_in_pty

from mmchat.store import Store

pytestmark = pytest.mark.reliability

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
HOSTILE = "Acme\x1b]52;c;ZXZpbA==\x07 \x9b31mred\x9b0m \x9d52;c;ZWNobw==\x9c \u202eexe.gnp \x7f"


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, MMCHAT_HOME=str(home), NO_COLOR="1")
    for name in ("MMCHAT_DB", "MMCHAT_PLUGINS", "MMCHAT_NO_PLUGINS"):
        env.pop(name, None)
    return env


def private_config(home: Path) -> Path:
    config = home / "config"
    config.mkdir(parents=True, mode=0o700)
    return config


def test_personas_json_escapes_control_characters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    personas = private_config(home) / "personas"
    personas.mkdir()
    escaped = json.dumps(HOSTILE)  # TOML basic strings take JSON's escapes
    (personas / "acme.toml").write_text(
        f'name = "acme"\ndescription = {escaped}\nsystem_prompt = {escaped}\n', encoding="utf-8"
    )
    for argv in (["personas", "list", "--json"], ["personas", "show", "acme", "--json"]):
        result = run_in_pty([*MMCHAT, *argv, "--no-plugins"], env_for(home), timeout=30)
        assert result.exit_code == 0, result.output
        assert control_count(result.output) == 0, (argv, result.output)
        data = json.loads(result.output)
        row = next(r for r in data if r["name"] == "acme") if isinstance(data, list) else data
        assert row["description"] == HOSTILE  # the same data, only escaped


def test_plugins_json_escapes_control_characters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plugins = private_config(home) / "plugins"
    plugins.mkdir(mode=0o700)
    (plugins / "broken.py").write_text(f"raise RuntimeError({HOSTILE!r})\n", encoding="utf-8")
    os.chmod(plugins / "broken.py", 0o600)
    env = {**env_for(home), "MMCHAT_PLUGINS": "broken"}
    result = run_in_pty([*MMCHAT, "plugins", "--json"], env, timeout=30)
    assert result.exit_code == 0, result.output
    assert control_count(result.output) == 0, result.output
    data = json.loads(result.output)
    [broken] = [p for p in data["plugins"] if p["name"] == "local:broken"]
    assert HOSTILE in broken["error"]


def test_history_delete_question_shows_the_title_plainly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    db = home / "data" / "mmchat.db"
    with Store(db) as store:
        conv = store.create_conversation(title="plain")
    # Titles are cleaned when mmchat stores them; a database written by other tools is not.
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE conversations SET title = ? WHERE id = ?", (HOSTILE, conv.id))
    argv = [*MMCHAT, "history", "delete", str(conv.id)]
    result = run_in_pty(argv, env_for(home), timeout=30, stdin=b"n\n")
    assert "Delete conversation" in result.output
    assert control_count(result.output) == 0, result.output
    with Store(home / "data" / "mmchat.db") as store:
        assert store.conversation(conv.id).title == HOSTILE  # answered no: kept, unchanged

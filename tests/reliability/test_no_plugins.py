"""`--no-plugins` holds wherever it is written: before the subcommand or after it.

A local plugin file in the private plugins folder records every import; with the flag, no
command may import it (nor the installed example plugin, whose `example:echo` model and
`example-helper` persona then do not exist).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

COMMANDS = {
    "ask": ["ask", "--model", "example:echo", "Hello"],
    "models": ["models"],
    "personas": ["personas", "list"],
    "plugins": ["plugins"],
}


def spy(home: Path) -> Path:
    folder = home / "config" / "plugins"
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(home / "config", 0o700)
    marker = home / "spy-imported"
    (folder / "spy.py").write_text(f"open({str(marker)!r}, 'a').write('imported\\n')\n")
    os.chmod(folder / "spy.py", 0o600)
    return marker


def run(home: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MMCHAT_HOME": str(home)}
    env.pop("MMCHAT_PLUGINS", None)
    env.pop("MMCHAT_NO_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_the_spy_plugin_loads_without_the_flag(tmp_path: Path) -> None:
    marker = spy(tmp_path / "home")
    done = run(tmp_path / "home", COMMANDS["plugins"])
    assert done.returncode == 0, done.stderr
    assert "local:spy" in done.stdout and "example" in done.stdout
    assert marker.exists()


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_plugins_loads_none(tmp_path: Path, command: str, where: str) -> None:
    home = tmp_path / "home"
    marker = spy(home)
    args = COMMANDS[command]
    placed = ["--no-plugins", *args] if where == "before" else [*args, "--no-plugins"]
    if command == "ask" and where == "after":
        placed = [*args[:-1], "--no-plugins", args[-1]]
    done = run(home, placed)
    assert not marker.exists(), f"`mmchat {' '.join(placed)}` imported a plugin"
    if command == "ask":  # the plugin's model does not exist
        assert done.returncode != 0 and "example:" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert "example" not in done.stdout

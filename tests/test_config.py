from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmchat.config import (
    ConfigError,
    cache_dir,
    config_dir,
    data_dir,
    default_db_path,
    load_settings,
    settings_path,
)


def test_home_moves_every_dir(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMCHAT_CACHE_DIR")
    assert data_dir() == isolated_home / "data"
    assert config_dir() == isolated_home / "config"
    assert cache_dir() == isolated_home / "cache"
    assert default_db_path() == isolated_home / "data" / "mmchat.db"
    monkeypatch.setenv("MMCHAT_DB", "/tmp/elsewhere.db")
    assert default_db_path() == Path("/tmp/elsewhere.db")


def test_nothing_is_written_at_import(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    code = "import mmchat.cli, mmchat.config; mmchat.config.load_settings()"
    env = {"MMCHAT_HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    assert not home.exists()


def test_settings_file_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('model = "smollm2"\ntemperature = 0.7\nmax_tokens = 99\ncolour = "blue"\n')
    settings = load_settings()
    assert (settings.model, settings.temperature, settings.max_tokens) == ("smollm2", 0.7, 99)
    assert settings.extra == {"colour": "blue"}
    monkeypatch.setenv("MMCHAT_TEMPERATURE", "0.2")
    monkeypatch.setenv("MMCHAT_MODEL", "default")
    settings = load_settings()
    assert (settings.model, settings.temperature, settings.max_tokens) == ("default", 0.2, 99)


@pytest.mark.parametrize(
    ("content", "message"),
    [("model = [unclosed", "not valid TOML"), ("max_tokens = 'lots'", "'max_tokens' must be")],
)
def test_bad_settings_name_the_file(content: str, message: str) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value) and str(path) in str(info.value)


def test_bad_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCHAT_MAX_TOKENS", "many")
    with pytest.raises(ConfigError, match="MMCHAT_MAX_TOKENS"):
        load_settings()


def test_cli_reports_bad_settings_in_one_line() -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("model = [")
    result = subprocess.run(
        [sys.executable, "-m", "mmchat.cli", "ask", "hello"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not valid TOML" in result.stderr

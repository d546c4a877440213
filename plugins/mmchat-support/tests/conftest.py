"""mmchat-support's tests run with this plugin alone, in a home of their own.

The converted model cache is shared with mmchat's own tests (converting takes ~25 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def support_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MMCHAT_HOME", str(home))
    cache = REPO / ".mmchat-test" / "cache" if (REPO / "mmchat").is_dir() else home / "cache"
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(cache))
    monkeypatch.setenv("MMCHAT_PLUGINS", "support")  # whatever else is installed
    for name in (
        "MMCHAT_DATA_DIR",
        "MMCHAT_CONFIG_DIR",
        "MMCHAT_DB",
        "MMCHAT_MODEL",
        "MMCHAT_NO_PLUGINS",
        "MMCHAT_PERSONA",
    ):
        monkeypatch.delenv(name, raising=False)
    return home

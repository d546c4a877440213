"""Fixtures for the knowledge-base plugin: an isolated home per test, real files to ingest.

The embedder (all-MiniLM-L6-v2, real weights) is loaded once per test process and shared; the
converted chat model is shared through the same cache folder as mmchat's own tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SHARED_CACHE = Path(os.environ.get("MMCHAT_TEST_CACHE", REPO / ".mmchat-test" / "cache"))


@pytest.fixture(scope="session", autouse=True)
def owned_cache() -> Path:
    """Converted models are trusted by their `.complete` marker: only this user's folder."""
    from mmchat.config import ensure_owned_dir

    return ensure_owned_dir(SHARED_CACHE)


@pytest.fixture(autouse=True)
def kb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MMCHAT_HOME", str(home))
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(SHARED_CACHE))
    for name in (
        "MMCHAT_DATA_DIR",
        "MMCHAT_CONFIG_DIR",
        "MMCHAT_DB",
        "MMCHAT_MODEL",
        "MMCHAT_NO_PLUGINS",
        "MMCHAT_PERSONA",
        "MMCHAT_KB_TOP_K",
        "MMCHAT_KB_MIN_SIMILARITY",
        "MMCHAT_KB_PARSE_SECONDS",
        "MMCHAT_KB_MAX_FILE_MB",
        "MMCHAT_KB_PARSE_MEMORY_MB",
    ):
        monkeypatch.delenv(name, raising=False)
    # Subprocesses load only this plugin: other installed plugins must not change the answers.
    monkeypatch.setenv("MMCHAT_PLUGINS", "kb")
    return home


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A small folder of real documents in three formats, with one fact each."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "zorblax.md").write_text(
        "# Zorblax 3000 Guide\n\n"
        "## Warranty\n\n"
        "The Zorblax 3000 warranty lasts seven years. It covers parts and labour.\n\n"
        "## Resetting\n\n"
        "To reset the Zorblax 3000, hold the blue button for ten seconds.\n",
        encoding="utf-8",
    )
    (folder / "office.txt").write_text(
        "The cafeteria opens at 8 am and serves soup on Tuesdays.\n\n"
        "Visitors park for free on level B2 of the garage.\n",
        encoding="utf-8",
    )
    (folder / "returns.html").write_text(
        "<html><head><title>Returns policy</title></head><body><h1>Returns</h1>"
        "<p>Items can be returned within 30 days with a receipt.</p>"
        "<script>var hidden = 'never indexed';</script>"
        "<h2>Refunds</h2><p>Refunds reach your card in five business days.</p></body></html>",
        encoding="utf-8",
    )
    return folder

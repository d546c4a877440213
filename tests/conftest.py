"""Shared fixtures: every test gets its own data and config dirs; converted models are shared.

Converting the packaged GGUF takes ~25 s, so the cache dir is shared by the whole session (and
kept between local runs under .mmchat-test/, which git ignores). Data and config dirs are per
test, so no test sees another's conversations or settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmchat.config import ensure_owned_dir

# The held-out sets' shared checks assert in a helper module: show their values on failure.
pytest.register_assert_rewrite("bench_scripts")

REPO = Path(__file__).resolve().parent.parent
SHARED_CACHE = Path(os.environ.get("MMCHAT_TEST_CACHE", REPO / ".mmchat-test" / "cache"))


def install_npm_models() -> None:
    """`mmchat setup` put the npm-only models in the user's cache, not in the tests' shared
    one: install them there once, so a test run alone finds them as the full run does.
    Offline, the tests that need them fail with the reason, and the others run."""
    from mmchat.engine.assets import NPM_MODELS, AssetMissing

    for model in NPM_MODELS:
        try:
            model.install()
        except AssetMissing as exc:
            print(f"conftest: {model.package} not installed in the tests' cache: {exc}")


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """For module- and session-scoped fixtures (engine processes): never the real home."""
    home = tmp_path_factory.mktemp("session-home")
    # Converted models are trusted once their `.complete` marker is there: only a folder no
    # one else can write to may hold them.
    ensure_owned_dir(SHARED_CACHE)
    saved = {k: os.environ.get(k) for k in ("MMCHAT_HOME", "MMCHAT_CACHE_DIR")}
    os.environ["MMCHAT_HOME"] = str(home)
    os.environ["MMCHAT_CACHE_DIR"] = str(SHARED_CACHE)
    install_npm_models()
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MMCHAT_HOME", str(home))
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(SHARED_CACHE))
    for name in (
        "MMCHAT_DATA_DIR",
        "MMCHAT_CONFIG_DIR",
        "MMCHAT_DB",
        "MMCHAT_MODEL",
        "MMCHAT_PLUGINS",
        "MMCHAT_NO_PLUGINS",
        "MMCHAT_PERSONA",
    ):
        monkeypatch.delenv(name, raising=False)
    return home

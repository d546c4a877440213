"""TUI fixtures: a scripted engine (the Engine protocol, no model) and an app factory.

The scripted engine is for UI behaviour; test_real_model.py streams from the real model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from scripted_engine import ScriptedEngine

from mmchat.session import Session, open_session
from mmchat.tui.app import MMChatApp


@pytest.fixture
def session() -> Iterator[Session]:
    session = open_session(plugins=False)
    yield session
    session.close()


AppFactory = Callable[..., tuple[MMChatApp, list[ScriptedEngine]]]


@pytest.fixture
def make_app(session: Session) -> AppFactory:
    """Build the app with scripted engines; returns it and the engines it created."""

    def build(**engine_options: object) -> tuple[MMChatApp, list[ScriptedEngine]]:
        engines: list[ScriptedEngine] = []

        def factory(name: str) -> ScriptedEngine:
            engine = ScriptedEngine(name, **engine_options)  # type: ignore[arg-type]
            engines.append(engine)
            return engine

        app = MMChatApp(session, model="scripted", engine_factory=factory)
        return app, engines

    return build


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "red square.png"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(path)
    return path

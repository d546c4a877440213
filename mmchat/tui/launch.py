"""`mmchat` with no subcommand: open a session, pick the persona and model, run the TUI."""

from __future__ import annotations

import sys
from pathlib import Path

from mmchat.engine.base import Engine
from mmchat.text import one_line
from mmchat.tui.app import MMChatApp
from mmchat.tui.widgets.preview import enable_graphics


def run_tui(
    model: str | None = None,
    persona: str | None = None,
    db: Path | None = None,
    plugins: bool = True,
) -> None:
    """`mmchat` with no subcommand: open the TUI (errors before it starts are one line)."""
    from mmchat.config import ConfigError, engine_threads
    from mmchat.personas import PersonaError
    from mmchat.session import make_engine, open_session
    from mmchat.store import StoreError

    try:
        session = open_session(db, plugins=plugins)
    except (StoreError, ConfigError) as exc:
        print(f"mmchat: error: {one_line(str(exc))}", file=sys.stderr)
        raise SystemExit(1) from None
    settings = session.settings
    try:
        chosen = session.personas.get(persona or settings.persona or None)
    except PersonaError as exc:
        session.close()
        print(f"mmchat: error: {one_line(str(exc))}", file=sys.stderr)
        raise SystemExit(2) from None

    def factory(name: str) -> Engine:
        return make_engine(
            name,
            quant=settings.quant,
            threads=engine_threads(settings),
            engines=session.engines,
            servers=settings.servers,
        )

    enable_graphics()  # Kitty/Sixel previews, where the terminal says it draws them
    app = MMChatApp(
        session,
        model=model or chosen.model or settings.model,
        persona=chosen.name,
        engine_factory=factory,
    )
    try:
        app.run()
    finally:
        app.shutdown()
        session.close()

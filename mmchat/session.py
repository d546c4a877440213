"""What the CLI and the TUI both set up: settings, store, plugins, personas, an engine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mmchat.config import (
    ServerSettings,
    Settings,
    cache_dir,
    config_dir,
    default_db_path,
    load_settings,
)
from mmchat.engine.plugin import engine_owners
from mmchat.engine.process import ProcessEngine
from mmchat.engine.registry import resolve
from mmchat.engine.server import ServerEngine
from mmchat.personas import PersonaCatalog, collect_personas
from mmchat.plugin_manager import PluginManager, load_plugins
from mmchat.store import Store


@dataclass
class Session:
    settings: Settings
    store: Store
    plugins: PluginManager
    personas: PersonaCatalog
    engines: dict[str, str] = field(default_factory=dict)  # plugin engine prefix -> plugin

    def close(self) -> None:
        self.store.close()


def open_session(db: Path | None = None, *, plugins: bool = True) -> Session:
    settings = load_settings()
    store = Store(db or default_db_path())
    manager = load_plugins(enabled=plugins, local_dir=config_dir() / "plugins")
    personas = collect_personas(manager, config_dir() / "personas")
    return Session(settings, store, manager, personas, engine_owners(manager))


def make_engine(
    model: str,
    *,
    quant: str,
    threads: int | None,
    allow_pickle: bool = False,
    engines: Mapping[str, str] | None = None,
    servers: Mapping[str, ServerSettings] | None = None,
) -> ProcessEngine | ServerEngine:
    """`engines`: the plugin engine prefixes (Session.engines), for `--model PREFIX:REST`;
    `servers`: the model servers in settings (Settings.servers), for `--model NAME:MODEL`.

    A server's model runs on the server: its engine is a network client in this process
    (callers already read engines off their UI thread), not a model process."""
    servers = servers or {}
    spec = resolve(model, engines, {name: s.model for name, s in servers.items()})
    if spec.kind == "server":
        server = servers[spec.server]
        return ServerEngine(
            server.name,
            server.base_url,
            spec.location,
            api_key_env=server.api_key_env,
            timeout=server.timeout,
        )
    return ProcessEngine(
        spec,
        quant=quant,
        threads=threads,
        allow_pickle=allow_pickle,
        log_path=cache_dir() / "engine.log",
    )


def all_cores() -> int:
    return max(1, os.cpu_count() or 1)

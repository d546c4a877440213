"""The model picker's list: the built-in aliases, the current model, the model servers in
settings and plugin engine prefixes."""

from __future__ import annotations

from collections.abc import Mapping

from mmchat.config import ServerSettings
from mmchat.engine.plugin import describe, plugin_engines
from mmchat.engine.registry import ALIASES, UnknownModel, installed, resolve, setup_command
from mmchat.plugin_manager import PluginManager
from mmchat.tui.screens.picker import Choice


def model_choices(
    engines: Mapping[str, str],
    plugins: PluginManager,
    current: str,
    servers: Mapping[str, ServerSettings] | None = None,
) -> list[Choice]:
    """`engines` maps plugin engine prefixes to their plugins (Session.engines); `servers` are
    the model servers in settings (Settings.servers)."""
    servers = servers or {}
    defaults = {name: server.model for name, server in servers.items()}
    choices: list[Choice] = []
    for name in dict.fromkeys([*ALIASES.values(), current]):
        if not name:
            continue
        try:
            spec = resolve(name, engines, defaults)
        except UnknownModel:
            choices.append(Choice(name, name))
            continue
        here, _ = installed(spec)
        missing = f" - not installed: run {setup_command(spec)}"
        detail = spec.description + ("" if here else missing)
        choices.append(Choice(name, name, detail))
    for name, server in servers.items():
        # NAME alone is the server's default model; NAME:OTHER can be typed in the picker.
        value = f"{name}:{server.model}" if server.model else name
        if value != current:
            choices.append(Choice(value, value, f"model server {server.base_url}"))
    for prefix, (plugin, factory) in plugin_engines(plugins).items():
        if prefix in servers:
            continue  # the server of that name wins (engine/registry.py)
        detail = " - ".join(filter(None, [f"plugin {plugin}", describe(factory)]))
        choices.append(Choice(f"{prefix}:", f"{prefix}:", detail))
    return choices

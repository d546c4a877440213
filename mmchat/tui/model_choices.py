"""The model picker's list: the built-in aliases, the current model, and plugin engine prefixes."""

from __future__ import annotations

from collections.abc import Mapping

from mmchat.engine.plugin import describe, plugin_engines
from mmchat.engine.registry import ALIASES, UnknownModel, resolve
from mmchat.plugin_manager import PluginManager
from mmchat.tui.screens.picker import Choice


def model_choices(engines: Mapping[str, str], plugins: PluginManager, current: str) -> list[Choice]:
    """`engines` maps plugin engine prefixes to their plugins (Session.engines)."""
    choices: list[Choice] = []
    for name in dict.fromkeys([*ALIASES.values(), current]):
        if not name:
            continue
        try:
            choices.append(Choice(name, name, resolve(name, engines).description))
        except UnknownModel:
            choices.append(Choice(name, name))
    for prefix, (plugin, factory) in plugin_engines(plugins).items():
        detail = " - ".join(filter(None, [f"plugin {plugin}", describe(factory)]))
        choices.append(Choice(f"{prefix}:", f"{prefix}:", detail))
    return choices

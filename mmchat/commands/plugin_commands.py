"""Subcommands from plugins (`register_commands`): added to the typer CLI, first name wins."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import typer

from mmchat.plugin_manager import PluginManager

# Typer command and group infos that plugins added -> the plugin. Kept beside them, not on
# them: typer rebuilds its infos from their attributes.
_ADDED_BY: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def add_commands(manager: PluginManager, cli: Any, reserved: Iterable[str] = ()) -> None:
    """Let plugins add typer subcommands; a name already taken keeps its first owner.

    `reserved` names count as taken too (`mmchat plugins` checks on a scratch CLI).
    """
    for impl in manager.in_registration_order("register_commands"):
        plugin = impl.plugin_name
        before_commands = list(cli.registered_commands)
        before_groups = list(cli.registered_groups)
        taken = _command_names(before_commands, before_groups) | set(reserved)
        try:
            impl.function(cli=cli)
        except Exception as exc:
            cli.registered_commands[:] = before_commands
            cli.registered_groups[:] = before_groups
            manager.disable(plugin, "register_commands", exc)
            continue
        for kind, before in (
            ("registered_commands", before_commands),
            ("registered_groups", before_groups),
        ):
            kept = list(before)
            for added in getattr(cli, kind)[len(before) :]:
                name = _command_name(added)
                if name in taken:
                    manager.note(plugin, f"command '{name}' ignored: the name is already taken")
                    continue
                taken.add(name)
                _ADDED_BY[added] = plugin
                kept.append(added)
            getattr(cli, kind)[:] = kept


def _command_name(info: Any) -> str:
    name = getattr(info, "name", None)
    if name:
        return str(name)
    typer_instance = getattr(info, "typer_instance", None)
    if typer_instance is not None and typer_instance.info.name:
        return str(typer_instance.info.name)
    callback = getattr(info, "callback", None)
    return getattr(callback, "__name__", "").replace("_", "-")


def _command_names(commands: Iterable[Any], groups: Iterable[Any]) -> set[str]:
    return {_command_name(c) for c in commands} | {_command_name(g) for g in groups}


def core_command_names(ctx: typer.Context) -> set[str]:
    """The running CLI's own command names: its root group's, less those plugins added."""
    root = ctx.find_root().command
    list_commands = getattr(root, "list_commands", None)  # a group; typer has its own click
    names = set(list_commands(ctx)) if list_commands is not None else set()
    return names - {_command_name(info) for info in list(_ADDED_BY.keys())}

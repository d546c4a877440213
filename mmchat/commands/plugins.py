"""`mmchat plugins`: installed plugins, their hooks and versions, and which failed and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Annotated

import typer

from mmchat.commands.common import NoPluginsOption
from mmchat.plugin_manager import PluginManager
from mmchat.text import json_for_terminal, one_line


def check_plugins(
    no_plugins: bool, core_commands: Iterable[str]
) -> tuple[PluginManager, list[str]]:
    """Load plugins as a session does and run their registration hooks, to find failures."""
    from mmchat.commands.plugin_commands import add_commands
    from mmchat.config import config_dir
    from mmchat.engine.plugin import plugin_engines
    from mmchat.personas import collect_personas
    from mmchat.plugin_manager import load_plugins

    manager = load_plugins(enabled=not no_plugins, local_dir=config_dir() / "plugins")
    catalog = collect_personas(manager, config_dir() / "personas")
    # A scratch CLI with the real one's own names: shows failing hooks and name clashes.
    add_commands(manager, typer.Typer(), reserved=core_commands)
    plugin_engines(manager)  # notes prefixes registered twice and unusable factories
    return manager, catalog.problems


def plugins(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_plugins: NoPluginsOption = False,
) -> None:
    """List plugins: name, version, where from, hooks; then failures and notes."""
    from mmchat.commands.plugin_commands import core_command_names
    from mmchat.hooks import API_VERSION
    from mmchat.plugin_manager import allow_list

    manager, persona_problems = check_plugins(no_plugins, core_command_names(ctx))
    infos = list(manager.infos.values())
    if as_json:
        allowed = allow_list()
        data = {
            "api_version": API_VERSION,
            "plugins": [asdict(info) for info in infos],
            "persona_problems": persona_problems,
            "allow_list": sorted(allowed) if allowed is not None else None,
        }
        typer.echo(json_for_terminal(data))
        return
    typer.echo(f"{'NAME':<20} {'VERSION':<10} {'STATUS':<9} {'FROM':<28} HOOKS")
    for info in infos:
        origin = info.distribution if info.kind == "entry point" else info.kind
        if info.kind == "local file":
            origin = info.location
        name, version, origin = (one_line(v, 60) for v in (info.name, info.version, origin))
        hooks = ", ".join(info.hooks) or "-"
        typer.echo(f"{name:<20} {version or '-':<10} {info.status:<9} {origin:<28} {hooks}")
    failures = [info for info in infos if info.status != "loaded"]
    outside = [p for p in manager.problems if p.plugin not in manager.infos]
    if failures or outside:
        typer.echo("\nFailed or disabled:")
        for info in failures:
            typer.echo("  " + one_line(f"{info.name}: {info.error}"))
        for problem in outside:
            typer.echo("  " + one_line(f"{problem.plugin}: {problem.message}"))
    notes = [(info.name, note) for info in infos for note in info.notes]
    notes += [("personas", problem) for problem in persona_problems]
    if notes:
        typer.echo("\nNotes:")
        for name, note in notes:
            typer.echo("  " + one_line(f"{name}: {note}"))
    if manager.pm.get_plugin("mmchat.builtin") and len(infos) == 1:
        typer.echo("\n(no plugins installed, or all left out by --no-plugins / MMCHAT_PLUGINS)")

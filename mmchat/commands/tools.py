"""`mmchat tools`: the configured MCP servers and plugin tools, and what failed."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mmchat.commands.common import NoPluginsOption, fail


def tools(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_plugins: NoPluginsOption = False,
) -> None:
    """List tool servers ([mcp.NAME] in settings.toml), plugins' tools, and what failed."""
    from mmchat.config import ConfigError, config_dir, load_settings
    from mmchat.plugin_manager import load_plugins
    from mmchat.text import json_for_terminal, one_line
    from mmchat.tools.settings import ToolSettingsError
    from mmchat.tools.toolbox import open_toolbox

    try:
        settings = load_settings()
        plugins = load_plugins(enabled=not no_plugins, local_dir=config_dir() / "plugins")
        toolbox = open_toolbox(settings.extra, plugins)
    except (ConfigError, ToolSettingsError) as exc:
        fail(str(exc), 2)
    groups: list[dict[str, Any]] = []
    try:
        for name in toolbox.group_names():
            listed = toolbox.tools_of(name)
            config = toolbox.servers.get(name)
            groups.append(
                {
                    "name": name,
                    "kind": "mcp" if config else "plugin",
                    "where": config.where if config else f"plugin {name}",
                    "error": toolbox.failures.get(name),
                    "tools": [
                        {"name": t.name, "description": t.description, "safe": t.safe}
                        for t in listed
                    ],
                }
            )
    finally:
        toolbox.close()
    if as_json:
        print(json_for_terminal({"servers": groups}, indent=2))
        return
    if not groups:
        print("No tools: add an [mcp.NAME] table to settings.toml (see README, Tools (MCP)).")
        return
    for group in groups:
        where = f"mcp: {one_line(group['where'], 120)}" if group["kind"] == "mcp" else "plugin"
        print(f"{group['name']}  ({where})")
        if group["error"]:
            print(f"  failed: {one_line(group['error'])}")
        elif not group["tools"]:
            print("  (no tools)")
        for tool in group["tools"]:
            mark = " [safe]" if tool["safe"] else ""
            print(f"  {group['name']}.{tool['name']}{mark}  {one_line(tool['description'], 100)}")

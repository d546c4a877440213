"""The tools a turn may offer: MCP servers' and plugins', filtered by the persona, run with the
person's consent, their results made safe.

Servers start on first use and stay up for the session; one that fails is reported once (one
line) and its tools are left out. A persona's `tools` names groups ("calc": every tool of the
MCP server or plugin calc) or single tools ("files.read_file"); nothing else is offered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmchat.personas import Persona
from mmchat.plugin_manager import HookTimeout, PluginManager
from mmchat.text import one_line
from mmchat.tools.calls import ToolCall, bare_names
from mmchat.tools.mcp_client import McpClient, McpFailure
from mmchat.tools.output import clean_result
from mmchat.tools.settings import McpServerConfig


@dataclass(frozen=True)
class Tool:
    group: str  # the MCP server's name, or the plugin's
    name: str  # the tool's own name
    description: str
    schema: dict[str, Any]
    safe: bool = False  # runs without asking
    origin: str = "mcp"  # mcp or plugin

    @property
    def qualified(self) -> str:
        return f"{self.group}.{self.name}"


@dataclass(frozen=True)
class ToolOutcome:
    """One call as shown and saved: what was asked, and what came back."""

    name: str  # the tool's qualified name, or what the model called when there was none
    arguments: dict[str, Any]
    result: str  # what the model is given back
    status: str  # ok, error, refused

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "status": self.status,
        }


# Asked before a tool that is not safe runs: True lets it run.
Approve = Callable[[Tool, dict[str, Any]], bool]


@dataclass
class Offer:
    """The tools offered in one turn, under the names the model sees."""

    tools: dict[str, Tool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def schemas(self) -> list[dict[str, Any]]:
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": tool.description,
                    "parameters": without_titles(tool.schema)
                    or {"type": "object", "properties": {}},
                },
            }
            for name, tool in self.tools.items()
        ]

    def find(self, name: str) -> Tool | None:
        found = self.tools.get(name) or next(
            (t for t in self.tools.values() if t.qualified == name), None
        )
        if found is None and (full := bare_names(self.tools).get(name)) is not None:
            found = self.tools[full]
        return found


class Toolbox:
    """Every configured tool source, for a session; close() stops the servers."""

    def __init__(
        self,
        servers: Sequence[McpServerConfig],
        plugins: PluginManager | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.servers = {s.name: s for s in servers}
        self.plugins = plugins
        self.log_dir = log_dir
        self.clients: dict[str, McpClient] = {}
        self.failures: dict[str, str] = {}  # server -> why it is not usable
        self._reported: set[str] = set()

    # -- what there is ------------------------------------------------------------------------

    def group_names(self) -> list[str]:
        plugin_groups = {key.split(".", 1)[0] for key in self._plugin_tools()}
        return [*self.servers, *sorted(plugin_groups - set(self.servers))]

    def tools_of(self, group: str) -> list[Tool]:
        """A group's tools; a server that cannot start adds its reason to `failures`."""
        if group in self.servers:
            return self._server_tools(self.servers[group])
        return [
            Tool(
                plugin,
                tool.name,
                one_line(tool.description, 1000),
                tool.parameters,
                safe=tool.safe is True,
                origin="plugin",
            )
            for key, (plugin, tool) in self._plugin_tools().items()
            if key.split(".", 1)[0] == group
        ]

    def _plugin_tools(self) -> dict[str, Any]:
        return self.plugins.plugin_tools() if self.plugins is not None else {}

    def _server_tools(self, config: McpServerConfig) -> list[Tool]:
        if config.name in self.failures:
            return []
        client = self.clients.get(config.name)
        if client is None:
            log = self.log_dir / f"mcp-{config.name}.log" if self.log_dir else None
            client = self.clients[config.name] = McpClient(config, log)
            try:
                client.start()
            except McpFailure as exc:
                self.failures[config.name] = str(exc)
                client.close()
                return []
        return [
            Tool(config.name, t.name, t.description, t.schema, safe=t.name in config.safe)
            for t in client.tools
        ]

    # -- a persona's offer ----------------------------------------------------------------------

    def offer(self, persona: Persona) -> Offer:
        offer = Offer()
        chosen: list[Tool] = []
        for entry in persona.tools:
            group, _, single = entry.partition(".")
            if group not in self.servers and group not in self.group_names():
                offer.problems.append(
                    f"persona '{persona.name}': no tool server or plugin '{group}' "
                    "(mmchat tools lists them)"
                )
                continue
            tools = self.tools_of(group)
            if group in self.failures:
                if group not in self._reported:
                    self._reported.add(group)
                    offer.problems.append(f"{self.failures[group]}; its tools are left out")
                continue
            picked = [t for t in tools if not single or t.name == single]
            if single and not picked:
                offer.problems.append(f"persona '{persona.name}': '{group}' has no tool '{single}'")
            chosen += [t for t in picked if t not in chosen]
        names = [t.name for t in chosen]
        for tool in chosen:
            model_name = tool.name if names.count(tool.name) == 1 else f"{tool.group}_{tool.name}"
            offer.tools[model_name] = tool
        return offer

    # -- running --------------------------------------------------------------------------------

    def run(self, offer: Offer, call: ToolCall, approve: Approve | None) -> ToolOutcome:
        """Run one call the model made; whatever happens, an outcome for the model and person."""
        tool = offer.find(call.name)
        shown = tool.qualified if tool else one_line(call.name or "?", 80)
        if call.problem:
            return ToolOutcome(shown, call.arguments, f"error: {call.problem}", "error")
        if tool is None:
            known = ", ".join(offer.tools) or "none"
            text = f"error: there is no tool '{one_line(call.name, 80)}'; tools: {known}"
            return ToolOutcome(shown, call.arguments, text, "error")
        if problem := argument_problem(tool.schema, call.arguments):
            return ToolOutcome(shown, call.arguments, f"error: {problem}", "error")
        if not tool.safe and (approve is None or not approve(tool, call.arguments)):
            text = f"refused: the person did not allow {tool.qualified} to run"
            return ToolOutcome(shown, call.arguments, text, "refused")
        try:
            text, failed = self._call(tool, call.arguments)
        except (McpFailure, HookTimeout) as exc:
            return ToolOutcome(shown, call.arguments, f"error: {one_line(str(exc))}", "error")
        return ToolOutcome(shown, call.arguments, clean_result(text), "error" if failed else "ok")

    def _call(self, tool: Tool, arguments: dict[str, Any]) -> tuple[str, bool]:
        if tool.origin == "mcp":
            client = self.clients.get(tool.group)
            if client is None:
                raise McpFailure(f"MCP server '{tool.group}' is not running")
            result = client.call(tool.name, arguments)
            return result.text, result.is_error
        assert self.plugins is not None
        plugin, registered = self._plugin_tools()[tool.qualified]
        try:
            value = self.plugins.run_tool(registered.run, arguments)
        except ValueError as exc:
            return f"error: {one_line(str(exc))}", True
        except HookTimeout as exc:
            return f"error: {tool.qualified} {exc}", True
        except Exception as exc:  # a plugin's bug: the model hears it failed, the turn goes on
            return f"error: {tool.qualified} failed ({type(exc).__name__}: {exc})", True
        if not isinstance(value, str):
            return f"error: {tool.qualified} returned {type(value).__name__}, not text", True
        return value, False

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


def without_titles(schema: Any) -> Any:
    """A JSON Schema without its "title" keys: generated ones ("addArguments") only mislead a
    small model, which then calls the title as if it were a tool."""
    if isinstance(schema, dict):
        return {
            key: without_titles(value)
            for key, value in schema.items()
            if not (key == "title" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [without_titles(value) for value in schema]
    return schema


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def argument_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` do not fit the tool's schema (the common parts of it), or None."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        if name not in arguments:
            return f"missing argument '{name}'"
    if schema.get("additionalProperties") is False:
        for name in arguments:
            if name not in properties:
                return f"unknown argument '{one_line(str(name), 60)}'"
    for name, value in arguments.items():
        spec = properties.get(name)
        kind = spec.get("type") if isinstance(spec, dict) else None
        kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
        allowed = tuple(t for k in kinds for t in _JSON_TYPES.get(k, ()))
        if not allowed:
            continue
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and bool not in allowed):
            shown = one_line(json.dumps(value, ensure_ascii=False), 60)
            return f"argument '{name}' must be {' or '.join(kinds)}, got {shown}"
    return None


def open_toolbox(extra: dict[str, Any], plugins: PluginManager | None) -> Toolbox:
    """The session's toolbox from the settings' `[mcp]` tables (Settings.extra) and plugins;
    raises ToolSettingsError (one line) for a table that cannot be used."""
    from mmchat.config import cache_dir
    from mmchat.tools.settings import mcp_servers

    return Toolbox(mcp_servers(extra), plugins, log_dir=cache_dir())

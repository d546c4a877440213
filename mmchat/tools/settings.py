"""The `[mcp.NAME]` tables of settings.toml: which MCP servers mmchat may start or reach."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmchat.personas import NAME_PATTERN

DEFAULT_TIMEOUT = 30.0
DEFAULT_START_TIMEOUT = 60.0  # a first `npx`/`uvx` run may download the server
_KEYS = ("command", "args", "url", "timeout", "start_timeout", "safe", "env", "cwd")


class ToolSettingsError(Exception):
    """A `[mcp.NAME]` table cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: a program spoken to over stdio, or a streamable-HTTP URL."""

    name: str
    command: str = ""
    args: tuple[str, ...] = ()
    url: str = ""
    timeout: float = DEFAULT_TIMEOUT  # seconds for each call
    start_timeout: float = DEFAULT_START_TIMEOUT  # seconds to start and list its tools
    safe: tuple[str, ...] = ()  # tools that run without asking the person
    env: tuple[tuple[str, str], ...] = ()  # extra environment for a stdio server
    cwd: str = ""

    @property
    def where(self) -> str:
        return self.url or " ".join((self.command, *self.args))


def mcp_servers(extra: dict[str, Any], source: str = "settings.toml") -> list[McpServerConfig]:
    """The servers of the `[mcp]` table (Settings.extra), in the file's order."""
    table = extra.get("mcp", {})
    if not isinstance(table, dict):
        raise ToolSettingsError(f"{source}: 'mcp' must be a table of servers ([mcp.NAME])")
    return [server_config(name, value, source) for name, value in table.items()]


def server_config(name: str, raw: object, source: str = "settings.toml") -> McpServerConfig:
    where = f"{source}: [mcp.{name}]"
    if not NAME_PATTERN.fullmatch(name) or "." in name:
        raise ToolSettingsError(f"{where}: the name may hold letters, digits, '_' and '-'")
    if not isinstance(raw, dict):
        raise ToolSettingsError(f"{where} must be a table (command = ... or url = ...)")
    if unknown := sorted(set(raw) - set(_KEYS)):
        raise ToolSettingsError(f"{where}: unknown key '{unknown[0]}' (keys: {', '.join(_KEYS)})")
    command, url = raw.get("command", ""), raw.get("url", "")
    if not isinstance(command, str) or not isinstance(url, str):
        raise ToolSettingsError(f"{where}: 'command' and 'url' must be text")
    if bool(command.strip()) == bool(url.strip()):
        raise ToolSettingsError(f"{where}: give 'command' (a program) or 'url', one of the two")
    if url and not url.startswith(("http://", "https://")):
        raise ToolSettingsError(f"{where}: 'url' must start with http:// or https://")
    args = _texts(raw.get("args", []), f"{where}: 'args'")
    if url and args:
        raise ToolSettingsError(f"{where}: 'args' go with 'command', not 'url'")
    timeout = _seconds(raw, "timeout", DEFAULT_TIMEOUT, where)
    start_timeout = _seconds(raw, "start_timeout", DEFAULT_START_TIMEOUT, where)
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ToolSettingsError(f"{where}: 'env' must map names to text")
    cwd = raw.get("cwd", "")
    if not isinstance(cwd, str):
        raise ToolSettingsError(f"{where}: 'cwd' must be text")
    return McpServerConfig(
        name=name,
        command=command.strip(),
        args=args,
        url=url.strip(),
        timeout=timeout,
        start_timeout=start_timeout,
        safe=_texts(raw.get("safe", []), f"{where}: 'safe'"),
        env=tuple((str(k), v) for k, v in env.items()),
        cwd=cwd,
    )


def _seconds(raw: dict[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ToolSettingsError(f"{where}: '{key}' must be seconds, more than 0")
    return float(value)


def _texts(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolSettingsError(f"{what} must be a list of text")
    return tuple(value)

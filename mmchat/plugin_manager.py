"""Finding, loading and calling plugins: mmchat's side of the plugin API (mmchat.hooks).

Plugins come from the entry-point group "mmchat" (installed distributions) and from .py files
in the config dir's private plugins folder; MMCHAT_PLUGINS is an allow-list. Each hook
implementation runs on its own: one that raises, hangs or returns the wrong type is reported
once and disabled for the session, and the app goes on.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from mmchat.hooks import Passage, PluginTool, Reply, Specs, hookspec

PROJECT = hookspec.project_name
BUILTIN = "mmchat.builtin"
# A per-turn hook that has not returned by then is disabled and the turn goes on without it.
# Generous: a retrieval plugin's first call may load an embedding model, which takes seconds.
HOOK_TIMEOUT_SECONDS = 60.0
# Hooks an earlier plugin API had: a plugin that still implements one is told what replaced it.
RETIRED_HOOKS = {
    "register_retrievers": "removed in plugin API 1.0: return passages from mmchat_retrieve",
}


@dataclass
class PluginProblem:
    plugin: str
    where: str  # "load" or the hook's name
    message: str


@dataclass
class PluginInfo:
    """What `mmchat plugins` shows about one plugin."""

    name: str
    kind: str  # built-in, entry point, local file
    distribution: str = ""
    version: str = ""
    location: str = ""  # the entry point's target or the file's path
    hooks: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded, failed, disabled
    error: str = ""
    notes: list[str] = field(default_factory=list)  # not fatal: unknown hooks, dropped names


def first_line(exc: BaseException | str) -> str:
    message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    lines = message.strip().splitlines() or [type(exc).__name__]
    return lines[0][:300]


class PluginManager:
    """pluggy's manager plus error isolation: each hook implementation runs on its own."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(Specs)
        self.problems: list[PluginProblem] = []  # plugins that failed or were disabled
        self.disabled: set[str] = set()
        self.infos: dict[str, PluginInfo] = {}
        self.hook_timeout = _timeout_from_env()
        self.registries: dict[str, dict[str, tuple[str, Any]]] = {}  # see registered()
        self._tools: dict[str, tuple[str, PluginTool]] | None = None

    # -- registration -------------------------------------------------------------------------

    def register(self, plugin: Any, name: str, info: PluginInfo | None = None) -> bool:
        """Register a module; a clash or an invalid hook is reported, never raised."""
        info = info or PluginInfo(name, "module", location=getattr(plugin, "__name__", ""))
        existing = self.infos.get(name)
        if existing is not None and existing.status == "loaded":
            owner = existing.distribution or existing.location or existing.kind
            self.failed(info, f"the name '{name}' is already used by {owner}")
            return False
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            # pluggy's message spreads the useful part (which argument) over several lines
            self.failed(info, "; ".join(str(exc).splitlines())[:300])
            return False
        except ValueError as exc:  # the same module under two names
            self.failed(info, first_line(exc))
            return False
        callers = self.pm.get_hookcallers(plugin) or []
        info.hooks = sorted(c.name for c in callers)
        info.notes += [
            f"hook '{c.name}' {RETIRED_HOOKS[c.name]}"
            if c.name in RETIRED_HOOKS
            else f"unknown hook '{c.name}' is never called (a typo?)"
            for c in callers
            if not c.has_spec()
        ]
        if not info.hooks:
            info.notes.append("no @hookimpl functions found")
        self.infos[name] = info
        return True

    def failed(self, info: PluginInfo, error: str) -> None:
        """A plugin that could not be loaded: listed with its reason, reported once."""
        info.status, info.error = "failed", error
        key = info.name
        if key in self.infos:  # a clash: keep the loaded one's entry, list this one beside it
            key = f"{info.name} ({info.distribution or info.location})"
        self.infos[key] = info
        self.problems.append(PluginProblem(key, "load", error))
        if self.pm.get_plugin(info.name) is None:
            self.disabled.add(info.name)

    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin() if name]

    # -- failures -----------------------------------------------------------------------------

    def report(self, plugin: str, where: str, exc: BaseException | str) -> None:
        self.problems.append(PluginProblem(plugin, where, first_line(exc)))

    def note(self, plugin: str, message: str) -> None:
        """Something not fatal about a plugin (a name it registered was dropped)."""
        info = self.infos.setdefault(plugin, PluginInfo(plugin, "unknown"))
        info.notes.append(first_line(message))

    def disable(self, plugin: str, where: str, exc: BaseException | str) -> None:
        """Report once, then stop calling the plugin for the rest of the session."""
        if plugin in self.disabled:
            return
        self.report(plugin, where, exc)
        self.disabled.add(plugin)
        if (info := self.infos.get(plugin)) is not None:
            info.status, info.error = "disabled", f"{where}: {self.problems[-1].message}"
        module = self.pm.get_plugin(plugin)
        if module is not None:
            self.pm.unregister(module)

    # -- calling ------------------------------------------------------------------------------

    def call_each(
        self, hook: str, *, expect: Callable[[Any], bool] | None = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call every implementation of `hook` in pluggy's order (tryfirst/trylast honoured).

        One that raises, or returns something `expect` rejects, is disabled; the rest go on.
        None results are dropped.
        """
        results: list[tuple[str, Any]] = []
        caller = getattr(self.pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):  # pluggy's order: tryfirst, newest, ...
            if impl.plugin_name in self.disabled:
                continue
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                value = _call_with_deadline(impl.function, args, self.hook_timeout)
            except (Exception, SystemExit) as exc:  # sys.exit() in a plugin must not end mmchat
                self.disable(impl.plugin_name, hook, exc)
                continue
            if value is None:
                continue
            if expect is not None and not expect(value):
                self.disable(impl.plugin_name, hook, f"returned {_kind(value)}, not {_WANT[hook]}")
                continue
            results.append((impl.plugin_name, value))
        return results

    def in_registration_order(self, hook: str) -> list[Any]:
        """Hook implementations, built-ins first: for register_* hooks, where the first wins."""
        order = {name: i for i, (name, _) in enumerate(self.pm.list_name_plugin())}
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        return sorted(impls, key=lambda impl: order.get(impl.plugin_name, len(order)))

    def registered(
        self, hook: str, check: Callable[[str, Any], str | None] | None = None
    ) -> dict[str, tuple[str, Any]]:
        """Run a `register_*(register)` hook that registers (name, thing) pairs, once a session
        (what plugins registered keeps its state): {name: (plugin, thing)} of enabled plugins.
        """
        if hook not in self.registries:
            self.registries[hook] = self._collect(hook, check)
        return {k: v for k, v in self.registries[hook].items() if v[0] not in self.disabled}

    def _collect(
        self, hook: str, check: Callable[[str, Any], str | None] | None
    ) -> dict[str, tuple[str, Any]]:
        """A name registered twice keeps the first and notes the
        second against its plugin; a thing `check` finds a problem with is noted and dropped.
        """
        found: dict[str, tuple[str, Any]] = {}
        for impl in self.in_registration_order(hook):
            plugin = impl.plugin_name
            if plugin in self.disabled:
                continue

            def register(name: str, thing: Any, _plugin: str = plugin) -> None:
                if not isinstance(name, str) or not name:
                    self.note(_plugin, f"{hook}: ignored a registration without a name")
                elif name in found:
                    self.note(
                        _plugin,
                        f"{hook}: '{name}' ignored: already registered by plugin {found[name][0]}",
                    )
                elif check is not None and (problem := check(name, thing)) is not None:
                    self.note(_plugin, f"{hook}: '{name}' ignored: {problem}")
                else:
                    found[name] = (_plugin, thing)

            try:
                impl.function(register=register)
            except Exception as exc:
                self.disable(plugin, hook, exc)
                for key in [k for k, (owner, _) in found.items() if owner == plugin]:
                    del found[key]
        return found

    def plugin_tools(self) -> dict[str, tuple[str, PluginTool]]:
        """The tools of `register_tools`, collected once a session: {"PLUGIN.NAME": (plugin,
        tool)} of enabled plugins. A malformed or repeated tool is noted and dropped."""
        if self._tools is None:
            self._tools = {}
            for impl in self.in_registration_order("register_tools"):
                plugin = impl.plugin_name
                if plugin in self.disabled:
                    continue

                def register(tool: PluginTool, _plugin: str = plugin) -> None:
                    assert self._tools is not None
                    key = f"{_plugin}.{getattr(tool, 'name', '')}"
                    if (problem := tool_problem(tool)) is not None:
                        self.note(_plugin, f"register_tools: a tool ignored: {problem}")
                    elif key in self._tools:
                        self.note(_plugin, f"register_tools: '{key}' ignored: registered twice")
                    else:
                        self._tools[key] = (_plugin, tool)

                try:
                    impl.function(register=register)
                except Exception as exc:
                    self.disable(plugin, "register_tools", exc)
        return {k: v for k, v in self._tools.items() if v[0] not in self.disabled}

    def run_tool(self, function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """A plugin tool's call, with the hooks' deadline (HookTimeout when it passes)."""
        return _call_with_deadline(lambda: function(arguments), {}, self.hook_timeout)


_TOOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def tool_problem(tool: object) -> str | None:
    """Why a registered tool cannot be offered, or None."""
    if not isinstance(tool, PluginTool):
        return f"not a PluginTool: {type(tool).__name__}"
    if not isinstance(tool.name, str) or not _TOOL_NAME.fullmatch(tool.name):
        return f"bad name {tool.name!r:.70} (letters, digits, '_', '-'; at most 64)"
    if not isinstance(tool.description, str):
        return f"'{tool.name}': the description must be text"
    if not callable(tool.run):
        return f"'{tool.name}': run must be a function"
    if not isinstance(tool.parameters, dict) or not is_json_safe(tool.parameters):
        return f"'{tool.name}': parameters must be a JSON Schema object"
    return None


class HookTimeout(Exception):
    """A hook did not return in time; it may still be running, but nothing waits for it."""


def _timeout_from_env() -> float:
    try:
        return float(os.environ.get("MMCHAT_HOOK_TIMEOUT", HOOK_TIMEOUT_SECONDS))
    except ValueError:
        return HOOK_TIMEOUT_SECONDS


def _call_with_deadline(function: Callable[..., Any], args: dict[str, Any], seconds: float) -> Any:
    """Run a hook in a daemon thread and wait at most `seconds` (0: no limit, same thread).

    Python cannot stop a thread: a hung hook keeps its thread, but the turn goes on.
    """
    if seconds <= 0:
        return function(**args)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = function(**args)
        except BaseException as exc:  # handed to the caller, which decides
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="mmchat-plugin-hook", daemon=True).start()
    if not done.wait(seconds):
        raise HookTimeout(f"did not return within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _kind(value: object) -> str:
    return type(value).__name__


_WANT = {
    "mmchat_retrieve": "a list of Passage",
    "mmchat_before_prompt": "a Reply with JSON-safe meta",
    "mmchat_turn_finished": "a JSON-safe dict",
}


def is_json_safe(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def is_passages(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(p, Passage) for p in value)


def is_reply(value: object) -> bool:
    return (
        isinstance(value, Reply)
        and isinstance(value.text, str)
        and isinstance(value.notice, str)
        and isinstance(value.meta, dict)
        and is_json_safe(value.meta)
    )


def is_meta(value: object) -> bool:
    return isinstance(value, dict) and is_json_safe(value)


# -- loading ------------------------------------------------------------------------------------


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in {"", "0", "false", "no", "off"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def allow_list(allow: Iterable[str] | None = None) -> set[str] | None:
    """The names plugins are allowed by (None: all); MMCHAT_PLUGINS='' allows none."""
    if allow is None and (env := os.environ.get("MMCHAT_PLUGINS")) is not None:
        allow = env.split(",")
    if allow is None:
        return None
    return {_normal(name.strip()) for name in allow if name.strip()}


def load_plugins(
    *,
    enabled: bool = True,
    allow: Iterable[str] | None = None,
    local_dir: Path | None = None,
) -> PluginManager:
    """Built-ins, then entry points, then local files; honours MMCHAT_PLUGINS (an allow-list).

    Names in the allow-list match an entry point's name, its distribution's name, or a local
    file's name (with or without the "local:" prefix).
    """
    manager = PluginManager()
    from mmchat import builtin_personas

    manager.register(builtin_personas, BUILTIN, _builtin_info())
    if not enabled or _truthy(os.environ.get("MMCHAT_NO_PLUGINS")):
        return manager
    allowed = allow_list(allow)
    seen: set[str] = set()
    entries = importlib.metadata.entry_points(group=PROJECT)
    for entry in sorted(entries, key=lambda e: (_dist_name(e), e.name)):
        names = {_normal(entry.name), _normal(_dist_name(entry))}
        if allowed is not None and not names & allowed:
            continue
        seen |= names
        _load_entry_point(manager, entry)
    if local_dir is not None:
        seen |= _load_local(manager, local_dir, allowed)
    for name in sorted((allowed or set()) - seen):
        manager.report(name, "load", "not installed (named in MMCHAT_PLUGINS)")
    return manager


def _builtin_info() -> PluginInfo:
    try:
        version = importlib.metadata.version("mmchat")
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return PluginInfo(BUILTIN, "built-in", "mmchat", version, "mmchat.builtin_personas")


def _dist_name(entry: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    return dist.name if dist is not None else ""


def _load_entry_point(manager: PluginManager, entry: importlib.metadata.EntryPoint) -> None:
    dist = getattr(entry, "dist", None)
    info = PluginInfo(
        entry.name,
        "entry point",
        dist.name if dist is not None else "",
        dist.version if dist is not None else "",
        entry.value,
    )
    try:
        module = entry.load()
    except Exception as exc:  # a broken plugin must never stop mmchat
        manager.failed(info, first_line(exc))
        return
    manager.register(module, entry.name, info)


def _private_folder_problem(folder: Path) -> str | None:
    status = folder.stat()
    if status.st_uid != os.getuid():
        return "the folder belongs to another user"
    if status.st_mode & 0o077:
        return f"the folder must be private (chmod 700), it is {status.st_mode & 0o777:o}"
    return None


def _load_local(manager: PluginManager, folder: Path, allowed: set[str] | None) -> set[str]:
    """Python files in the private plugins folder; returns the allow-list names they match."""
    if not folder.is_dir():
        return set()
    files: dict[Path, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        names = {_normal(f"local:{path.stem}"), _normal(path.stem)}
        if allowed is None or names & allowed:
            files[path] = names
    seen = set().union(*files.values())
    if (problem := _private_folder_problem(folder)) is not None:
        # Files others can write or swap must not run as this user.
        manager.report(str(folder), "load", f"local plugins skipped: {problem}")
        return seen
    for path in files:
        info = PluginInfo(f"local:{path.stem}", "local file", location=str(path))
        status = path.stat()
        if status.st_mode & 0o022 or status.st_uid != os.getuid():
            manager.failed(info, "the file is writable by others or not yours; not loaded")
            continue
        try:
            module = _import_file(path)
        except Exception as exc:
            manager.failed(info, first_line(exc))
            continue
        manager.register(module, info.name, info)
    return seen


def _import_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mmchat_local_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module

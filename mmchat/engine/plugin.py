"""Model backends from plugins: `register_engines(register)` -> register(prefix, factory).

`--model PREFIX:REST` resolves to a ModelSpec of kind "plugin" in the UI's process, which only
checks that some plugin registered PREFIX. The engine process (worker.py) loads that plugin
again, calls `factory(REST, EngineOptions)` and wraps the engine it returns in PluginEngine,
so a plugin's model runs where the built-in ones do, and a broken one is one line that names
the plugin, never a crash of the engine process.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from mmchat.engine.base import (
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
    event_to_json,
)
from mmchat.engine.registry import ENGINE_PREFIX, ModelSpec
from mmchat.plugin_manager import BUILTIN, PluginManager, first_line, load_plugins

HOOK = "register_engines"
ENGINE_METHODS = ("load", "stream", "cancel", "close")
_EVENTS = (Started, Delta, Finished, Failed, Progress)


def _factory_problem(prefix: str, factory: Any) -> str | None:
    if not ENGINE_PREFIX.fullmatch(prefix):
        return "a prefix is letters, digits, '.', '_' or '-' (at most 64), without ':'"
    if not callable(factory):
        return f"the factory is {type(factory).__name__}, not callable"
    return None


def plugin_engines(manager: PluginManager) -> dict[str, tuple[str, EngineFactory]]:
    """{prefix: (plugin, factory)} from every loaded plugin; the first to register wins."""
    return manager.registered(HOOK, _factory_problem)


def engine_owners(manager: PluginManager) -> dict[str, str]:
    """{prefix: plugin}: what `registry.resolve` needs to recognise PREFIX:REST."""
    return {prefix: plugin for prefix, (plugin, _) in plugin_engines(manager).items()}


def describe(factory: Any) -> str:
    """The first line of the factory's docstring: what `mmchat models` shows for it."""
    doc = (getattr(factory, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


# -- in the engine process -----------------------------------------------------------------------


def load_plugin_engine(spec: ModelSpec, options: EngineOptions) -> PluginEngine:
    """Load the plugin that owns the spec's prefix (only that one) and build its engine."""
    from mmchat.config import config_dir

    prefix = spec.name.partition(":")[0]
    allow = [] if spec.plugin == BUILTIN else [spec.plugin]
    manager = load_plugins(allow=allow, local_dir=config_dir() / "plugins")
    entry = plugin_engines(manager).get(prefix)
    if entry is None or entry[0] != spec.plugin:
        why = "; ".join(f"{p.plugin}: {p.message}" for p in manager.problems)
        raise EngineError(
            f"plugin {spec.plugin}: the engine prefix '{prefix}:' is not registered in the "
            f"engine process{f' ({why})' if why else ''}"
        )
    plugin, factory = entry
    try:
        engine = factory(spec.location, options)
    except EngineError as exc:  # the factory's own one-line message for a person
        raise EngineError(f"plugin {plugin}: {exc}") from None
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() must not end the worker
        traceback.print_exc()
        raise EngineError(
            f"plugin {plugin}: engine factory for '{prefix}:' failed: {first_line(exc)}"
        ) from None
    missing = [m for m in ENGINE_METHODS if not callable(getattr(engine, m, None))]
    if missing:
        raise EngineError(
            f"plugin {plugin}: engine factory for '{prefix}:' returned "
            f"{type(engine).__name__}, not an Engine (no {', '.join(missing)})"
        )
    return PluginEngine(plugin, engine)


class PluginEngine:
    """A plugin's engine, checked: errors become one line naming the plugin.

    Every answer ends with exactly one Finished or Failed event, whatever the plugin's stream
    does, so the UI never waits for an end that never comes.
    """

    def __init__(self, plugin: str, engine: Engine) -> None:
        self.plugin = plugin
        self.engine = engine
        self._cancelled = threading.Event()

    def _error(self, what: str) -> str:
        return f"plugin {self.plugin}: {what}"[:400]

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        try:
            info = self.engine.load(progress)
        except EngineError as exc:
            raise EngineError(self._error(str(exc))) from None
        except (Exception, SystemExit) as exc:
            traceback.print_exc()
            raise EngineError(self._error(f"engine load failed: {first_line(exc)}")) from None
        if not isinstance(info, ModelInfo):
            raise EngineError(self._error(f"load() returned {type(info).__name__}, not ModelInfo"))
        return info

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        self._cancelled.clear()  # the worker cancels the previous answer before each request
        started = time.monotonic()
        first: float | None = None
        deltas = 0
        events: Iterator[Any] | None = None
        try:
            events = iter(self.engine.stream(_api_1_request(request)))
            for event in events:
                if (problem := _event_problem(event)) is not None:
                    yield Failed(self._error(problem))
                    return
                if isinstance(event, Failed):
                    yield Failed(self._error(event.message))
                    return
                if isinstance(event, Delta):
                    deltas += 1
                    first = time.monotonic() - started if first is None else first
                yield event
                if isinstance(event, Finished):
                    return
                if self._cancelled.is_set():
                    break
        except (Exception, SystemExit) as exc:
            traceback.print_exc()
            yield Failed(self._error(f"engine failed: {first_line(exc)}"))
            return
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()
        reason: Literal["stop", "cancelled"] = "cancelled" if self._cancelled.is_set() else "stop"
        yield Finished(reason, deltas, time.monotonic() - started, first)

    def cancel(self) -> None:
        self._cancelled.set()
        try:
            self.engine.cancel()
        except Exception:
            traceback.print_exc()  # the stream stops at its next event anyway

    def close(self) -> None:
        try:
            self.engine.close()
        except Exception:
            traceback.print_exc()


def _api_1_request(request: GenerationRequest) -> GenerationRequest:
    """Plugin engines were promised floats for temperature and top_p: a value mmchat leaves to
    the model's default reaches them as API 1.0's default (0 = greedy, top_p 1)."""
    return replace(
        request,
        temperature=0.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
    )


def _event_problem(event: object) -> str | None:
    if not isinstance(event, _EVENTS):
        return f"the engine yielded {type(event).__name__}, not an event (Delta, Finished...)"
    if isinstance(event, Delta) and not isinstance(event.text, str):
        return f"the engine yielded Delta({type(event.text).__name__}), not Delta(str)"
    try:
        json.dumps(event_to_json(event))
    except (TypeError, ValueError):
        return f"the engine yielded {type(event).__name__} with values that are not JSON"
    return None

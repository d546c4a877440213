"""Personas: who the assistant is in a conversation.

A persona sets the system prompt, greeting, model and sampling overrides, the knowledge bases
to search and escalation rules; `{variables}` such as a company or product name are filled into
its prompts. Personas come from plugins (`register_personas`) and from TOML files in the config
dir's personas folder, so a person can write one, or adapt a plugin's, without Python.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from mmchat.config import sampling_problem

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TOOL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[A-Za-z0-9][A-Za-z0-9_-]{0,63})?")
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PersonaError(Exception):
    """A persona is unknown or malformed; the message names it and the cause."""


@dataclass(frozen=True)
class Persona:
    name: str
    description: str = ""
    system_prompt: str = ""
    greeting: str = ""
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    knowledge_bases: tuple[str, ...] = ()
    # Tools the model may call: "SERVER" (all its tools) or "SERVER.TOOL"; nothing else is
    # offered (mmchat.tools).
    tools: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    escalation: dict[str, Any] = field(default_factory=dict)  # rules read by plugins
    source: str = "built-in"

    def fill(self, text: str) -> str:
        """Replace {name} with the persona's variable; anything else stays as written."""
        return _VARIABLE.sub(lambda m: self.variables.get(m.group(1), m.group(0)), text)

    def render_system_prompt(self) -> str:
        return self.fill(self.system_prompt)

    def render_greeting(self) -> str:
        return self.fill(self.greeting)

    def with_variables(self, **values: str) -> Persona:
        return replace(self, variables={**self.variables, **values})


DEFAULT_PERSONA = Persona(
    name="assistant",
    description="A helpful general assistant",
    system_prompt="",  # the model's own default system prompt
    greeting="",
)


def persona_problem(persona: object) -> str | None:
    """Why `persona` cannot be used, or None; plugins build Personas by hand, so check them."""
    if not isinstance(persona, Persona):
        return f"not a Persona: {type(persona).__name__}"
    if not isinstance(persona.name, str) or not NAME_PATTERN.fullmatch(persona.name):
        return f"bad name {persona.name!r:.70} (letters, digits, '.', '_', '-'; at most 64)"
    for name in ("description", "system_prompt", "greeting"):
        if not isinstance(getattr(persona, name), str):
            return f"persona '{persona.name}': '{name}' must be text"
    if not isinstance(persona.knowledge_bases, tuple) or not all(
        isinstance(k, str) for k in persona.knowledge_bases
    ):
        return f"persona '{persona.name}': 'knowledge_bases' must be a tuple of names"
    if not isinstance(persona.tools, tuple) or not all(
        isinstance(t, str) and TOOL_PATTERN.fullmatch(t) for t in persona.tools
    ):
        return f"persona '{persona.name}': 'tools' must be a tuple of SERVER or SERVER.TOOL names"
    if not isinstance(persona.variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in persona.variables.items()
    ):
        return f"persona '{persona.name}': 'variables' must map names to text"
    if not isinstance(persona.escalation, dict):
        return f"persona '{persona.name}': 'escalation' must be a table"
    for key in ("temperature", "top_p"):
        if problem := sampling_problem(key, getattr(persona, key)):
            return f"persona '{persona.name}': '{key}' {problem}"
    return None


# -- TOML files ---------------------------------------------------------------------------------

_TOML_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "extends": str,
    "description": str,
    "system_prompt": str,
    "greeting": str,
    "model": str,
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": int,
    "knowledge_bases": list,
    "tools": list,
    "variables": dict,
    "escalation": dict,
}


def read_persona_toml(path: Path) -> dict[str, Any]:
    """One persona file's checked fields; raise PersonaError naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise PersonaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    data = raw["persona"] if isinstance(raw.get("persona"), dict) else raw
    for key, value in data.items():
        expected = _TOML_FIELDS.get(key)
        if expected is None:
            known = ", ".join(_TOML_FIELDS)
            raise PersonaError(f"{path}: unknown field '{key}' (fields: {known})")
        if isinstance(value, bool) or not isinstance(value, expected):
            raise PersonaError(f"{path}: field '{key}' has the wrong type")
    required = ("name",) if "extends" in data else ("name", "system_prompt")
    for key in required:
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise PersonaError(f"{path}: missing required field '{key}'")
    if not NAME_PATTERN.fullmatch(data["name"]):
        raise PersonaError(f"{path}: bad name {data['name']!r:.70}")
    values = dict(data)
    if "knowledge_bases" in values:
        values["knowledge_bases"] = tuple(str(k) for k in values["knowledge_bases"])
    if "tools" in values:
        tools = values["tools"]
        if not all(isinstance(t, str) and TOOL_PATTERN.fullmatch(t) for t in tools):
            raise PersonaError(f"{path}: field 'tools' must list SERVER or SERVER.TOOL names")
        values["tools"] = tuple(tools)
    if "variables" in values:
        values["variables"] = {str(k): str(v) for k, v in values["variables"].items()}
    for key in ("temperature", "top_p"):
        if key in values:
            values[key] = float(values[key])
            if problem := sampling_problem(key, values[key]):
                raise PersonaError(f"{path}: field '{key}' {problem}")
    return values


def persona_from_toml(path: Path, base: Persona | None = None) -> Persona:
    """A persona from a file; with `extends`, the file's fields override `base`'s."""
    return _build(path, read_persona_toml(path), base)


def _build(path: Path, values: dict[str, Any], base: Persona | None) -> Persona:
    values = dict(values)
    parent = values.pop("extends", None)
    if parent is None:
        return Persona(**values, source=str(path))
    if base is None or base.name != parent:
        raise PersonaError(f"{path}: extends unknown persona '{parent}'")
    variables = {**base.variables, **values.pop("variables", {})}
    escalation = {**base.escalation, **values.pop("escalation", {})}
    return replace(base, **values, variables=variables, escalation=escalation, source=str(path))


# -- the catalog ---------------------------------------------------------------------------------


@dataclass
class PersonaCatalog:
    personas: dict[str, Persona] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)  # file stem -> why it was skipped

    def add(self, persona: Persona, origin: str = "") -> bool:
        if (problem := persona_problem(persona)) is not None:
            self.problems.append(f"{origin or 'a plugin'}: persona ignored: {problem}")
            return False
        existing = self.personas.get(persona.name)
        if existing is not None:
            self.problems.append(
                f"persona '{persona.name}' from {persona.source} ignored: "
                f"already defined by {existing.source}"
            )
            return False
        self.personas[persona.name] = persona
        return True

    def get(self, name: str | None) -> Persona:
        if not name:
            return self.personas.get(DEFAULT_PERSONA.name, DEFAULT_PERSONA)
        if name in self.personas:
            return self.personas[name]
        if name in self.broken:
            raise PersonaError(f"persona '{name}' could not be read: {self.broken[name]}")
        known = ", ".join(sorted(self.personas)) or "none"
        raise PersonaError(f"unknown persona '{name}'; known personas: {known}")


class RegisterHooks(Protocol):
    """What collect_personas uses of mmchat.plugin_manager.PluginManager (not imported here:
    that module imports this one, through mmchat.hooks)."""

    disabled: set[str]

    def in_registration_order(self, hook: str) -> list[Any]: ...

    def disable(self, plugin: str, where: str, exc: BaseException | str) -> None: ...


def collect_personas(manager: RegisterHooks, folder: Path | None) -> PersonaCatalog:
    """Personas from every plugin (built-ins first), then from TOML files in `folder`."""
    catalog = PersonaCatalog()
    for impl in manager.in_registration_order("register_personas"):  # built-ins first
        plugin = impl.plugin_name
        if plugin in manager.disabled:
            continue

        def register(persona: Persona, _plugin: str = plugin) -> None:
            if isinstance(persona, Persona) and _plugin != "mmchat.builtin":
                persona = replace(persona, source=f"plugin {_plugin}")
            catalog.add(persona, origin=f"plugin {_plugin}")

        try:
            impl.function(register=register)
        except Exception as exc:
            manager.disable(plugin, "register_personas", exc)
    if folder is not None and folder.is_dir():
        _add_toml_personas(catalog, sorted(folder.glob("*.toml")))
    return catalog


def _add_toml_personas(catalog: PersonaCatalog, paths: Iterable[Path]) -> None:
    pending: dict[Path, dict[str, Any]] = {}
    for path in paths:
        try:
            pending[path] = read_persona_toml(path)
        except PersonaError as exc:
            catalog.problems.append(str(exc))
            catalog.broken[path.stem] = str(exc)
    # A file may extend a persona defined by another file: add in dependency order.
    progress = True
    while pending and progress:
        progress = False
        for path, values in list(pending.items()):
            parent = values.get("extends")
            if parent is not None and any(
                v["name"] == parent for p, v in pending.items() if p != path
            ):
                continue  # another file defines (or adapts) the parent: take that one
            del pending[path]
            progress = True
            try:
                persona = _build(path, values, catalog.personas.get(parent or ""))
            except PersonaError as exc:
                catalog.problems.append(str(exc))
                catalog.broken[values["name"]] = str(exc)
                continue
            if persona.name == parent:  # a file may adapt a plugin's persona in place
                catalog.personas[persona.name] = persona
            else:
                catalog.add(persona, origin=str(path))
    for path, values in pending.items():  # extends a cycle of files
        catalog.problems.append(f"{path}: extends '{values['extends']}' in a cycle")

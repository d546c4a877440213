"""Personas: who the assistant is in a conversation.

A persona sets the system prompt, greeting, model and sampling overrides and the knowledge
bases to search. Personas come from plugins (`register_personas`) and from TOML files in the
config dir's personas folder, so a person can write one without Python.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


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
    max_tokens: int | None = None
    knowledge_bases: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    escalation: dict[str, Any] = field(default_factory=dict)  # rules read by plugins
    source: str = "built-in"

    def _fill(self, text: str) -> str:
        # safe_substitute-like formatting with {name}: unknown fields stay as written.
        class _Keep(dict[str, str]):
            def __missing__(self, key: str) -> str:
                return "{" + key + "}"

        try:
            return string.Formatter().vformat(text, (), _Keep(self.variables))
        except (ValueError, IndexError):
            return text  # stray braces: use the text as written

    def render_system_prompt(self) -> str:
        return self._fill(self.system_prompt)

    def render_greeting(self) -> str:
        return self._fill(self.greeting)


DEFAULT_PERSONA = Persona(
    name="assistant",
    description="A helpful general assistant",
    system_prompt="",  # the model's own default system prompt
    greeting="",
)


_TOML_FIELDS = {
    "name": str,
    "description": str,
    "system_prompt": str,
    "greeting": str,
    "model": str,
    "temperature": (int, float),
    "max_tokens": int,
    "knowledge_bases": list,
    "variables": dict,
    "escalation": dict,
}


def persona_from_toml(path: Path) -> Persona:
    """Read one persona file; raise PersonaError naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise PersonaError(f"{path}: cannot read ({exc.strerror or exc})") from None
    data = raw.get("persona", raw)
    for key in ("name", "system_prompt"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise PersonaError(f"{path}: missing required field '{key}'")
    for key, value in data.items():
        expected = _TOML_FIELDS.get(key)
        if expected is None:
            raise PersonaError(f"{path}: unknown field '{key}'")
        if not isinstance(value, expected):
            raise PersonaError(f"{path}: field '{key}' has the wrong type")
    values = dict(data)
    values["knowledge_bases"] = tuple(str(k) for k in values.get("knowledge_bases", ()))
    values["variables"] = {str(k): str(v) for k, v in values.get("variables", {}).items()}
    if "temperature" in values:
        values["temperature"] = float(values["temperature"])
    return Persona(**values, source=str(path))


@dataclass
class PersonaCatalog:
    personas: dict[str, Persona] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, persona: Persona) -> None:
        if not isinstance(persona, Persona):
            self.problems.append(f"ignored a persona that is not a Persona: {persona!r:.80}")
            return
        existing = self.personas.get(persona.name)
        if existing is not None:
            self.problems.append(
                f"persona '{persona.name}' from {persona.source} ignored: "
                f"already defined by {existing.source}"
            )
            return
        self.personas[persona.name] = persona

    def get(self, name: str | None) -> Persona:
        if not name:
            return self.personas.get(DEFAULT_PERSONA.name, DEFAULT_PERSONA)
        if name not in self.personas:
            known = ", ".join(sorted(self.personas)) or "none"
            raise PersonaError(f"unknown persona '{name}'; known personas: {known}")
        return self.personas[name]


def collect_personas(manager: Any, folder: Path | None) -> PersonaCatalog:
    """Personas from every plugin (built-ins first), then from TOML files in `folder`."""
    catalog = PersonaCatalog()

    for impl in reversed(manager.pm.hook.register_personas.get_hookimpls()):

        def register(persona: Persona, _source: str = impl.plugin_name) -> None:
            if (
                isinstance(persona, Persona)
                and persona.source == "built-in"
                and _source != "mmchat.builtin"
            ):
                persona = replace(persona, source=f"plugin {_source}")
            catalog.add(persona)

        try:
            impl.function(register=register)
        except Exception as exc:
            manager.disable(impl.plugin_name, "register_personas", exc)
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                catalog.add(persona_from_toml(path))
            except PersonaError as exc:
                catalog.problems.append(str(exc))
    return catalog

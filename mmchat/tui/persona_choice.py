"""Choosing the persona and the model: the pickers' lists and what a switch tells the person."""

from __future__ import annotations

from mmchat.personas import Persona, PersonaCatalog
from mmchat.text import one_line
from mmchat.tui.screens.picker import Choice, PickerScreen

MODEL_HINT = "Filter, or type a folder, .gguf path, hub id or plugin:name; Enter"


def persona_picker(personas: PersonaCatalog, current: str) -> PickerScreen:
    choices = [Choice(p.name, p.name, p.fill(p.description)) for p in personas.personas.values()]
    return PickerScreen("Persona", choices, current=current)


def model_picker(choices: list[Choice], current: str) -> PickerScreen:
    return PickerScreen("Model", choices, current=current, accept_typed=MODEL_HINT)


def switched_note(persona: Persona) -> str:
    return f"Persona: {one_line(persona.name, 40)}"

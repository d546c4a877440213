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


def switched_note(persona: Persona, model: str) -> str:
    note = f"Persona: {one_line(persona.name, 40)}"
    if persona.model and persona.model != model:
        # Loading another model takes a while: say so rather than start it unasked.
        note += f" (it suggests model {one_line(persona.model, 40)}; ctrl+l switches)"
    return note

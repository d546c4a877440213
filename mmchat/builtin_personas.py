"""mmchat's own personas, registered through the same hook as any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from mmchat.hooks import hookimpl
from mmchat.personas import DEFAULT_PERSONA, Persona


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    """The general assistant; more personas come from plugins and TOML files."""
    register(DEFAULT_PERSONA)

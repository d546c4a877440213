"""mmchat's own personas, registered through the same hook as any plugin's."""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from mmchat.personas import DEFAULT_PERSONA, Persona

hookimpl = pluggy.HookimplMarker("mmchat")


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    register(DEFAULT_PERSONA)

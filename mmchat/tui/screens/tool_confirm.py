"""Asks the person before a tool that is not marked safe runs: its name and its arguments."""

from __future__ import annotations

import json
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Label, Static

from mmchat.text import strip_control
from mmchat.tui.screens.dialogs import ConfirmScreen

_SHOWN = 2000  # characters of the arguments shown; the model wrote them, they may be long


class ToolConfirmScreen(ConfirmScreen):
    """y or Run: the tool runs; Esc or Refuse: the model is told it was refused."""

    def __init__(self, tool: str, arguments: dict[str, Any]) -> None:
        super().__init__(f"Run the tool {tool}?", confirm="Run")
        text = strip_control(json.dumps(arguments, ensure_ascii=False, indent=2))
        self.arguments = text if len(text) <= _SHOWN else text[:_SHOWN] + "\n…"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.question), classes="dialog-title")
            yield Static(Content(self.arguments), id="tool-arguments")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm, variant="warning", id="yes")
                yield Button("Refuse", id="no")

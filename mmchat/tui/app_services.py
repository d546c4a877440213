"""What the screens and widgets may use from the app, as a Protocol.

Widgets reach the app through `services(self)` rather than importing the app class, so the app
can import its screens without an import cycle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, cast

from textual.dom import DOMNode

from mmchat.config import Settings
from mmchat.personas import PersonaCatalog
from mmchat.plugin_manager import PluginManager
from mmchat.store import Store
from mmchat.tools.toolbox import Toolbox
from mmchat.tui.model_host import ModelHost
from mmchat.tui.screens.picker import Choice


class AppServices(Protocol):
    host: ModelHost
    stream_interval: float
    load_stage: str
    load_fraction: float | None

    @property
    def store(self) -> Store: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def plugins(self) -> PluginManager: ...

    @property
    def personas(self) -> PersonaCatalog: ...

    @property
    def db_path(self) -> Path: ...

    @property
    def tools(self) -> Toolbox | None: ...

    def report_plugin_problems(self) -> None: ...

    def model_choices(self) -> list[Choice]: ...

    def load_model(self, name: str) -> None: ...

    def cancel_load(self) -> None: ...


def services(node: DOMNode) -> AppServices:
    """The running app, seen through the services it offers."""
    return cast(AppServices, node.app)

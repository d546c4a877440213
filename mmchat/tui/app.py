"""The mmchat Textual app: owns the session and the model; the chat screen does the rest.

The model loads in a thread worker (model_loading.py) while history can be browsed. On quit,
SIGTERM or SIGHUP a streaming answer is stopped (saved as stopped) and the engine process is
closed: no orphan is left behind.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, SystemCommand
from textual.screen import Screen

from mmchat.config import Settings
from mmchat.personas import PersonaCatalog
from mmchat.plugin_manager import PluginManager
from mmchat.session import Session
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tools.settings import ToolSettingsError
from mmchat.tools.toolbox import Toolbox, open_toolbox
from mmchat.tui.coalesce import DEFAULT_INTERVAL
from mmchat.tui.code_lexers import COMMON, warm
from mmchat.tui.events import LoadProgress, ModelFailed, ModelReady
from mmchat.tui.idle_gc import EVERY_SECONDS, IdleCollector
from mmchat.tui.model_choices import model_choices
from mmchat.tui.model_host import EngineFactory, ModelHost
from mmchat.tui.model_loading import ModelLoading
from mmchat.tui.palette import chat_commands
from mmchat.tui.screens.chat import ChatScreen
from mmchat.tui.screens.picker import Choice

SHUTDOWN_WAIT_SECONDS = 2.0


class MMChatApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mmchat"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        session: Session,
        *,
        model: str,
        persona: str | None = None,
        engine_factory: EngineFactory,
        stream_interval: float = DEFAULT_INTERVAL,
    ) -> None:
        super().__init__()
        self.session = session
        self.initial_model = model
        self.initial_persona = session.personas.get(persona)
        self.host = ModelHost(engine_factory)
        self.collector = IdleCollector()
        self.loading = ModelLoading(self, self.host)
        self.stream_interval = stream_interval
        self.load_stage = ""
        self.load_fraction: float | None = None
        self._shut_down = False
        self._chat: ChatScreen | None = None
        self._problems_reported = 0
        self._toolbox: Toolbox | None = None
        self._toolbox_failed = False

    # -- session shortcuts -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.session.store

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def plugins(self) -> PluginManager:
        return self.session.plugins

    @property
    def personas(self) -> PersonaCatalog:
        return self.session.personas

    @property
    def db_path(self) -> Path:
        return Path(self.session.store.path)

    @property
    def tools(self) -> Toolbox | None:
        """The tools' sources, made on the first turn that needs them ([mcp] settings that
        cannot be used: said once, and no tools)."""
        if self._toolbox is None and not self._toolbox_failed:
            try:
                self._toolbox = open_toolbox(self.settings.extra, self.plugins)
            except ToolSettingsError as exc:
                self._toolbox_failed = True
                self.notify(one_line(str(exc)), severity="warning", markup=False, timeout=10)
        return self._toolbox

    @property
    def chat(self) -> ChatScreen:
        if self._chat is None:
            raise RuntimeError("the chat screen is not installed yet")
        return self._chat

    # -- lifecycle ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._chat = ChatScreen(self.initial_persona)  # kept: shutdown needs it after unmount
        self.install_screen(self._chat, "chat")
        self.push_screen("chat")
        self.report_plugin_problems()
        for problem in self.personas.problems:
            self.notify(one_line(problem), severity="warning", markup=False)
        if message := self.store.newer_schema_message:
            self.notify(one_line(message), severity="warning", markup=False, timeout=15)
        self._install_signal_handlers()
        self.load_model(self.initial_model)

    def report_plugin_problems(self) -> None:
        """Plugins that raised (at start or during a turn) were disabled: say so once each."""
        problems = self.plugins.problems
        for problem in problems[self._problems_reported :]:
            self.notify(
                one_line(f"plugin {problem.plugin} disabled ({problem.where}): {problem.message}"),
                severity="warning",
                markup=False,
                timeout=10,
            )
        self._problems_reported = len(problems)

    def on_ready(self) -> None:
        self.collector.start()
        self.set_interval(EVERY_SECONDS, self.collector.tick, name="idle gc")
        self.run_worker(partial(warm, COMMON), thread=True, description="code lexers")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.collector.input_seen()
        await super().on_event(event)

    def _install_signal_handlers(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not on the main thread (tests) or not supported here

    def on_unmount(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop a streaming answer (saved as stopped) and close the engine process."""
        if self._shut_down:
            return
        self._shut_down = True
        self.collector.stop()
        runner = self._chat.runner if self._chat is not None else None
        if runner is not None:
            runner.cancel()
            runner.done.wait(SHUTDOWN_WAIT_SECONDS)
        engine = self.host.cancel()
        if engine is not None:
            engine.close()
        if self._toolbox is not None:
            self._toolbox.close()  # stops the MCP servers it started

    # -- the model ---------------------------------------------------------------------------

    def model_choices(self) -> list[Choice]:
        return model_choices(
            self.session.engines, self.plugins, self.host.name, self.session.settings.servers
        )

    def load_model(self, name: str) -> None:
        self.load_stage, self.load_fraction = "starting", None
        self.loading.start(name)
        self._refresh_status()

    def cancel_load(self) -> None:
        self.loading.cancel()
        self.notify("Model loading cancelled; pick a model with ctrl+l")
        self._refresh_status()

    @on(LoadProgress)
    def _load_progress(self, event: LoadProgress) -> None:
        self.load_stage, self.load_fraction = event.stage, event.fraction
        self._refresh_status()

    @on(ModelReady)
    async def _model_ready(self, event: ModelReady) -> None:
        # The status line says it is ready; no toast to cover the chat.
        if self._chat is not None and self._chat.is_mounted:
            await self._chat.model_settled()

    @on(ModelFailed)
    async def _model_failed(self, event: ModelFailed) -> None:
        self.notify(
            f"{one_line(event.name, 60)} failed to load: {event.error}",
            severity="error",
            markup=False,
            timeout=15,
        )
        if self._chat is not None and self._chat.is_mounted:
            await self._chat.model_settled()

    def _refresh_status(self) -> None:
        try:
            self.chat.update_status()
        except Exception:  # the screen is not mounted yet; on_mount shows the status
            pass

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, ChatScreen):
            yield from chat_commands(screen)

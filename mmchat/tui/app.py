"""The mmchat Textual app: owns the session and the model; the chat screen does the rest.

The model loads in a thread worker that only waits on the engine process's pipe, so history can
be browsed meanwhile. On quit, SIGTERM or SIGHUP a streaming answer is stopped (saved as
stopped) and the engine process is closed: no orphan is left behind.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen

from mmchat.config import Settings
from mmchat.engine.base import Engine, Progress
from mmchat.personas import PersonaCatalog
from mmchat.plugin_manager import PluginManager
from mmchat.session import Session
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tui.coalesce import DEFAULT_INTERVAL
from mmchat.tui.events import LoadProgress, ModelFailed, ModelReady
from mmchat.tui.model_host import EngineFactory, LoadCancelled, ModelHost
from mmchat.tui.screens.chat import ChatScreen
from mmchat.tui.screens.picker import Choice
from mmchat.tui.widgets.preview import enable_graphics

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
        self.stream_interval = stream_interval
        self.load_stage = ""
        self.load_fraction: float | None = None
        self._shut_down = False
        self._chat: ChatScreen | None = None
        self._problems_reported = 0

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
        # Everything alive now (modules, widgets, styles) lives as long as the app: take it out
        # of the collector's view. Full collections over it paused the UI visibly while an
        # answer streamed; after freezing they scan only new objects.
        gc.collect()
        gc.freeze()

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
        runner = self._chat.runner if self._chat is not None else None
        if runner is not None:
            runner.cancel()
            runner.done.wait(SHUTDOWN_WAIT_SECONDS)
        engine = self.host.cancel()
        if engine is not None:
            engine.close()

    # -- the model ---------------------------------------------------------------------------

    def model_choices(self) -> list[Choice]:
        from mmchat.engine.plugin import describe, plugin_engines
        from mmchat.engine.registry import ALIASES, UnknownModel, resolve

        engines = self.session.engines
        choices: list[Choice] = []
        for name in dict.fromkeys([*ALIASES.values(), self.host.name]):
            if not name:
                continue
            try:
                choices.append(Choice(name, name, resolve(name, engines).description))
            except UnknownModel:
                choices.append(Choice(name, name))
        for prefix, (plugin, factory) in plugin_engines(self.plugins).items():
            detail = " - ".join(filter(None, [f"plugin {plugin}", describe(factory)]))
            choices.append(Choice(f"{prefix}:", f"{prefix}:", detail))
        return choices

    def load_model(self, name: str) -> None:
        ticket, old = self.host.begin(name)
        self.load_stage, self.load_fraction = "starting", None
        if old is not None:
            self._close_engine(old)
        self._refresh_status()
        self._load(ticket)

    @work(thread=True, group="model", name="load-model", exit_on_error=False)
    def _load(self, ticket: int) -> None:
        def progress(event: Progress) -> None:
            self.post_message(LoadProgress(event.stage, event.fraction))

        name = self.host.name
        try:
            info = self.host.load(ticket, progress)
        except LoadCancelled:
            return
        except Exception as exc:  # a failed load is a notification, never a crash
            if self.host.failed(ticket, one_line(str(exc) or type(exc).__name__)):
                self.post_message(ModelFailed(name, self.host.error))
            return
        self.post_message(ModelReady(name, info, self.host.engine))

    def cancel_load(self) -> None:
        engine = self.host.cancel()
        if engine is not None:
            self._close_engine(engine)
        self.notify("Model loading cancelled; pick a model with ctrl+l")
        self._refresh_status()

    @work(thread=True, group="close", name="close-engine", exit_on_error=False)
    def _close_engine(self, engine: Engine) -> None:
        engine.close()

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, ChatScreen):
            return
        commands = [
            ("New chat", "Start a new conversation (ctrl+n)", screen.action_new_chat),
            (
                "Attach image",
                "Attach an image file to the next message (ctrl+o)",
                screen.action_attach,
            ),
            (
                "Switch persona",
                "Choose the persona for this chat (ctrl+t)",
                screen.action_pick_persona,
            ),
            ("Switch model", "Load another model (ctrl+l)", screen.action_pick_model),
            (
                "Regenerate answer",
                "Answer the last message again (ctrl+r)",
                screen.action_regenerate,
            ),
            ("Stop", "Stop the answer or the model load (esc)", screen.action_stop),
            (
                "Copy last answer",
                "Copy the last answer to the clipboard (f3)",
                screen.action_copy_last,
            ),
            (
                "Edit last message",
                "Edit and resend your last message (f4)",
                screen.action_edit_last,
            ),
            ("Rename chat", "Rename the current chat (f2)", screen.action_rename_chat),
            ("Delete chat", "Delete the current chat (f8)", screen.action_delete_chat),
            ("Search chats", "Search titles and messages (ctrl+f)", screen.action_search),
            ("Toggle chat list", "Show or hide the sidebar (ctrl+b)", screen.action_toggle_sidebar),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def run_tui(
    model: str | None = None,
    persona: str | None = None,
    db: Path | None = None,
    plugins: bool = True,
) -> None:
    """`mmchat` with no subcommand: open the TUI (errors before it starts are one line)."""
    from mmchat.config import ConfigError, engine_threads
    from mmchat.personas import PersonaError
    from mmchat.session import make_engine, open_session
    from mmchat.store import StoreError

    try:
        session = open_session(db, plugins=plugins)
    except (StoreError, ConfigError) as exc:
        print(f"mmchat: error: {one_line(str(exc))}", file=sys.stderr)
        raise SystemExit(1) from None
    settings = session.settings
    try:
        chosen = session.personas.get(persona or settings.persona or None)
    except PersonaError as exc:
        session.close()
        print(f"mmchat: error: {one_line(str(exc))}", file=sys.stderr)
        raise SystemExit(2) from None

    def factory(name: str) -> Engine:
        return make_engine(
            name,
            quant=settings.quant,
            threads=engine_threads(settings),
            engines=session.engines,
        )

    enable_graphics()  # Kitty/Sixel previews, where the terminal says it draws them
    app = MMChatApp(
        session,
        model=model or chosen.model or settings.model,
        persona=chosen.name,
        engine_factory=factory,
    )
    try:
        app.run()
    finally:
        app.shutdown()
        session.close()

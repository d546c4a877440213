"""The answer being generated: a message box that runs its turn and streams into itself.

The turn runs in a thread worker (the engine is another process: the thread only waits on its
pipe) and reports back to this box in coalesced messages; the box posts `Finished` at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable
from functools import partial
from typing import Any

from textual import on
from textual.message import Message

from mmchat.engine.base import Engine
from mmchat.plugin_manager import PluginManager
from mmchat.store import Message as StoredMessage
from mmchat.tools.toolbox import Tool
from mmchat.tui.app_services import services
from mmchat.tui.events import AnswerChunk, AnswerDone, AnswerNotice, AnswerStats, AnswerTool
from mmchat.tui.notify import warn
from mmchat.tui.runner import AnswerJob, TurnRunner
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.message_box import MessageBox


class StreamingAnswer(MessageBox):
    class Finished(Message):
        """The turn ended (complete, stopped or failed); `message` is the saved answer or None."""

        def __init__(
            self, message: StoredMessage | None, error: str | None, tokens_per_second: float | None
        ) -> None:
            super().__init__()
            self.message = message
            self.error = error
            self.tokens_per_second = tokens_per_second

    def __init__(
        self, job: AnswerJob, engine: Engine, plugins: PluginManager, *, label: str, interval: float
    ) -> None:
        super().__init__("assistant", label=label)
        self.job = job
        self.runner = TurnRunner(engine, plugins, self.post_message, interval=interval)
        self.tokens_per_second: float | None = None

    def run(self) -> None:
        """Start the turn; call once the box is mounted."""
        self.runner.tools = services(self).tools
        self.runner.approve = self._approve
        self.start_stream()
        self.run_worker(
            partial(self.runner.run, self.job),
            name="answer",
            group="answer",
            thread=True,
            exit_on_error=False,
            description=f"answer in conversation {self.job.conversation_id}",
        )

    def cancel(self) -> None:
        """Stop generating; the turn saves what it has as stopped."""
        self.runner.cancel()

    def _approve(self, tool: Tool, arguments: dict[str, Any]) -> bool:
        """From the turn's thread: ask in a dialog and wait; stopping the answer refuses."""
        from mmchat.tui.screens.tool_confirm import ToolConfirmScreen

        answered = threading.Event()
        allowed: list[bool] = []

        def done(ok: bool | None) -> None:
            allowed.append(bool(ok))
            answered.set()

        def ask() -> None:
            self.app.push_screen(ToolConfirmScreen(tool.qualified, arguments), done)

        self.app.call_from_thread(ask)
        while not answered.wait(0.1):
            if self.runner.stopping:
                return False
        return allowed[0]

    @on(AnswerTool)
    def _tool(self, event: AnswerTool) -> None:
        self.add_tool_line(event.line)

    async def _following(self, change: Awaitable[None]) -> None:
        # Scroll along only when the reader was at the bottom already.
        log = self.query_ancestor(ChatLog)
        follow = log.near_bottom
        await change
        log.follow(follow)

    @on(AnswerChunk)
    async def _chunk(self, event: AnswerChunk) -> None:
        await self._following(self.append(event.text))

    @on(AnswerStats)
    def _stats(self, event: AnswerStats) -> None:
        self.tokens_per_second = event.tokens_per_second or self.tokens_per_second

    @on(AnswerNotice)
    def _notice(self, event: AnswerNotice) -> None:
        warn(self, event.text)

    @on(AnswerDone)
    async def _done(self, event: AnswerDone) -> None:
        await self._following(self.finish(event.message))
        self.post_message(self.Finished(event.message, event.error, self.tokens_per_second))

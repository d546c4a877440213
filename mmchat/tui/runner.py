"""One turn run in a thread worker, reporting to the UI in small coalesced messages.

The turn opens its own Store: SQLite connections belong to the thread that made them, and
the UI thread keeps reading history through its own connection meanwhile (WAL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message

from mmchat.chat import Notice, ToolFinished, ToolStarted, Turn, TurnDone, TurnOptions
from mmchat.engine.base import Delta, Engine, Finished
from mmchat.images import CheckedImage
from mmchat.personas import Persona
from mmchat.plugin_manager import PluginManager
from mmchat.store import Message as StoredMessage
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tools.output import call_line, result_line
from mmchat.tools.toolbox import Approve, Toolbox
from mmchat.tui.coalesce import DEFAULT_INTERVAL, Coalescer
from mmchat.tui.events import (
    AnswerChunk,
    AnswerDone,
    AnswerNotice,
    AnswerStats,
    AnswerTool,
)
from mmchat.tui.turn_stats import DROPPED, PERF, TurnClock, engine_rss


@dataclass
class AnswerJob:
    db_path: Path
    conversation_id: int
    persona: Persona
    options: TurnOptions
    text: str | None = None  # None: answer the last user message (regenerate, edit)
    images: Sequence[CheckedImage] = field(default_factory=list)
    context_window: int | None = None  # the model's, for the answer's context-fill figure


class TurnRunner:
    def __init__(
        self,
        engine: Engine,
        plugins: PluginManager,
        post: Callable[[Message], object],
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self.post = post
        self.interval = interval
        self.turn: Turn | None = None
        self.tools: Toolbox | None = None  # the app's, set before run()
        self.approve: Approve | None = None
        self.done = threading.Event()
        self._stop = threading.Event()

    def cancel(self) -> None:
        """Stop the answer; the turn saves what was generated as stopped."""
        self._stop.set()
        if self.turn is not None:
            self.turn.cancel()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, job: AnswerJob) -> None:
        saved: StoredMessage | None = None
        error: str | None = None
        store: Store | None = None
        try:
            store = Store(job.db_path)
            self.turn = Turn(
                store,
                self.engine,
                self.plugins,
                job.persona,
                job.options,
                tools=self.tools,
                approve=self.approve,
            )
            if self._stop.is_set():
                self.turn.cancel()
            saved = self._drive(job, store)
        except Exception as exc:  # shown as a notification; the app stays up
            error = one_line(str(exc) or type(exc).__name__)
        finally:
            self.turn = None
            if store is not None:
                store.close()
            self.post(AnswerDone(saved, error))
            self.done.set()

    def _drive(self, job: AnswerJob, store: Store) -> StoredMessage | None:
        assert self.turn is not None
        clock = TurnClock.start()
        if job.text is not None:
            events = self.turn.send(job.conversation_id, job.text, job.images)
        else:
            events = self.turn.answer(job.conversation_id)
        coalescer = Coalescer(self.interval)
        saved = None
        for event in events:
            clock.see(event)
            if isinstance(event, Delta):
                if chunk := coalescer.add(event.text):
                    self.post(AnswerChunk(chunk))
                continue
            if chunk := coalescer.flush():
                self.post(AnswerChunk(chunk))
            if isinstance(event, Notice) and event.about != "dropped":
                # Left-out messages are noted under the answer instead (turn_stats.py).
                self.post(AnswerNotice(event.text))
            elif isinstance(event, Finished):
                self.post(AnswerStats(event.tokens_per_second))
            elif isinstance(event, ToolStarted):
                self.post(AnswerTool(call_line(event.name, event.arguments)))
            elif isinstance(event, ToolFinished):
                self.post(AnswerTool(result_line(event.outcome.result)))
            elif isinstance(event, TurnDone):
                saved = event.message
        if saved is not None and saved.role == "assistant" and saved.model is not None:
            saved = self._keep_figures(store, saved, clock, job)
        return saved

    def _keep_figures(
        self, store: Store, saved: StoredMessage, clock: TurnClock, job: AnswerJob
    ) -> StoredMessage:
        """Save the turn's figures in the answer's meta, so reopening the chat shows them."""
        picture = any(m.attachments for m in store.messages(job.conversation_id))
        figures = clock.figures(
            picture=picture, context_window=job.context_window, engine_rss=engine_rss(self.engine)
        )
        meta = {**saved.meta, PERF: figures}
        if clock.dropped:
            meta[DROPPED] = clock.dropped
        return store.finish(
            saved.id,
            content=saved.content,
            status=saved.status,
            error=saved.error,
            prompt_tokens=saved.prompt_tokens,
            completion_tokens=saved.completion_tokens,
            meta=meta,
        )

"""Loading a model, and closing a replaced one, in thread workers of the app.

The load only waits on the engine process's pipe, so history can be browsed meanwhile; how it
went comes back to the app as LoadProgress, ModelReady or ModelFailed messages.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.app import App

from mmchat.engine.base import Engine, Progress
from mmchat.text import one_line
from mmchat.tui.events import LoadProgress, ModelFailed, ModelReady
from mmchat.tui.model_host import LoadCancelled, ModelHost


class ModelLoading:
    def __init__(self, app: App[Any], host: ModelHost) -> None:
        self.app = app
        self.host = host

    def start(self, name: str) -> None:
        """Load `name` in place of the current model (closed in the background)."""
        ticket, old = self.host.begin(name)
        if old is not None:
            self.close(old)
        self.app.run_worker(
            partial(self._load, ticket),
            name="load-model",
            group="model",
            thread=True,
            exit_on_error=False,
            description=f"load model {name}",
        )

    def cancel(self) -> None:
        """Abandon the current load and stop its engine process."""
        engine = self.host.cancel()
        if engine is not None:
            self.close(engine)

    def close(self, engine: Engine) -> None:
        self.app.run_worker(
            engine.close, name="close-engine", group="close", thread=True, exit_on_error=False
        )

    def _load(self, ticket: int) -> None:
        def progress(event: Progress) -> None:
            self.app.post_message(LoadProgress(event.stage, event.fraction))

        name = self.host.name
        try:
            info = self.host.load(ticket, progress)
        except LoadCancelled:
            return
        except Exception as exc:  # a failed load is a notification, never a crash
            if self.host.failed(ticket, one_line(str(exc) or type(exc).__name__)):
                self.app.post_message(ModelFailed(name, self.host.error))
            return
        self.app.post_message(ModelReady(name, info, self.host.engine))

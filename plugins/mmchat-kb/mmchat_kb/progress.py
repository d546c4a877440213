"""Ingest progress on stderr: a bar for files and one for chunks, one line per problem file."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from mmchat.hooks import one_line
from mmchat_kb.walk import Outcome


class BarProgress:
    """Bars only on a terminal; the per-file problem lines always (they are the record)."""

    def __init__(self, console: Console | None = None, verbose: bool = False) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.verbose = verbose
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
            transient=True,
        )
        self._files = self._bars.add_task("files", total=0)
        self._chunks = self._bars.add_task("chunks embedded", total=0)

    def __enter__(self) -> BarProgress:
        self._bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bars.stop()

    def files(self, total: int) -> None:
        self._bars.update(self._files, total=total)

    def chunks(self, total: int) -> None:
        task = self._bars.tasks[self._chunks]
        self._bars.update(self._chunks, total=(task.total or 0) + total)

    def chunks_done(self, n: int) -> None:
        self._bars.advance(self._chunks, n)

    def file_done(self, outcome: Outcome) -> None:
        self._bars.advance(self._files)
        if outcome.status in ("added", "updated", "unchanged") and not self.verbose:
            return
        where = f": {outcome.message}" if outcome.message else ""
        # Text(...), not markup, and control characters stripped: file names are untrusted.
        line = one_line(f"{outcome.status}: {outcome.path}{where}", 1000)
        self.console.print(Text(line), soft_wrap=True)  # one line per file, for grep

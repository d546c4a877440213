"""The export dialog: a path whose extension names the format (.md, .json, .html).

A refusal (unknown extension, a folder, an unwritable place) is shown in the dialog, which stays
open with the path as typed; an existing file is replaced only after a confirm.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mmchat.export import ExportError, format_for, in_the_way, write_export
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tui.screens.dialogs import ConfirmScreen


def suggested_path(conversation_id: int) -> str:
    """A new Markdown file in the folder mmchat runs in, written short (~) where it can be."""
    path = Path.cwd() / f"mmchat-chat-{conversation_id}.md"
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):  # outside home, or no home to speak of
        return str(path)


class ExportScreen(ModalScreen[Path | None]):
    """Dismissed with the written file's path, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, db_path: Path, conversation_id: int) -> None:
        super().__init__(classes="dialog-screen")
        self.db_path = db_path
        self.conversation_id = conversation_id
        self.suggestion = suggested_path(conversation_id)
        self.writing = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Export chat", classes="dialog-title")
            yield Input(self.suggestion, id="export-path")
            yield Label("", id="export-error")
            hint = ".md (images in a folder beside it), .json or .html · Enter · Esc to cancel"
            yield Label(Content.styled(hint, "dim"))

    def on_mount(self) -> None:
        self.query_one("#export-error", Label).display = False

    def show_error(self, text: str, style: str = "bold $error") -> None:
        label = self.query_one("#export-error", Label)
        label.update(Content.styled(one_line(text, 300), style))
        label.display = True

    def action_cancel(self) -> None:
        if not self.writing:  # once writing, the dialog stays to say how it went
            self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() and not self.writing:
            self.export(Path(event.value.strip()).expanduser().absolute())

    @work(group="export", exclusive=True)
    async def export(self, path: Path) -> None:
        try:
            if path.is_dir():
                raise ExportError(f"{path} is a folder; name a file in it")
            format_for(path)
        except ExportError as exc:
            self.show_error(str(exc))
            return
        existing = in_the_way(path)
        if existing:
            names = " and ".join(p.name for p in existing)
            verb = "exist. Replace them?" if len(existing) > 1 else "exists. Replace it?"
            question = f"{names} {verb}"
            if not await self.app.push_screen_wait(ConfirmScreen(question, confirm="Replace")):
                return
        self.writing = True
        self.show_error("Exporting…", style="dim")
        self.write(path, force=bool(existing))

    @work(thread=True, group="export-write", exit_on_error=False, description="export a chat")
    def write(self, path: Path, *, force: bool) -> None:
        """Off the UI thread: a long chat with photos is megabytes of base64. The store's
        connection belongs to the UI thread, so this reads through one of its own, read-only."""
        try:
            with Store(self.db_path, readonly=True) as store:
                write_export(store, self.conversation_id, path, force=force)
        except Exception as exc:  # ExportError, or the store failed: say so, keep the dialog
            self.app.call_from_thread(self._failed, str(exc) or type(exc).__name__)
        else:
            self.app.call_from_thread(self.dismiss, path)

    def _failed(self, text: str) -> None:
        self.writing = False
        self.show_error(text)

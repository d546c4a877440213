"""The main screen: its keys, and the status line kept current. The work lives in widgets:
`OpenChat` (conversation, persona), `TurnFlow` (the turn), `Draft` (attachments), `Sidebar`.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from mmchat.export import citations
from mmchat.personas import Persona
from mmchat.text import one_line
from mmchat.tui.answer_again import edit_and_resend, regenerate
from mmchat.tui.app_services import AppServices, services
from mmchat.tui.notify import fail, warn
from mmchat.tui.runner import TurnRunner
from mmchat.tui.screens.citations import CitationScreen
from mmchat.tui.screens.export import ExportScreen
from mmchat.tui.turn_stats import context_fill
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.draft import Draft
from mmchat.tui.widgets.message_box import MessageBox
from mmchat.tui.widgets.open_chat import OpenChat
from mmchat.tui.widgets.sidebar import Sidebar
from mmchat.tui.widgets.status import StatusLine
from mmchat.tui.widgets.turn_flow import TurnFlow


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+n", "new_chat", "New"),
        Binding("ctrl+o", "attach", "Attach"),
        Binding("ctrl+t", "pick_persona", "Persona"),
        Binding("ctrl+l", "pick_model", "Model"),
        Binding("f5,ctrl+comma", "chat_settings", "Settings", show=False),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+b", "toggle_sidebar", "Chats", show=False),
        Binding("ctrl+f", "search", "Search", show=False),
        Binding("f2", "rename_chat", "Rename", show=False),
        Binding("f8", "delete_chat", "Delete", show=False),
        Binding("f3", "copy_last", "Copy answer", show=False),
        Binding("f4", "edit_last", "Edit last", show=False),
        Binding("ctrl+s", "export_chat", "Export", show=False),
        Binding("f9", "toggle_perf", "Figures", show=False),
        Binding("ctrl+g", "compact", "Compact", show=False),
        Binding("ctrl+q", "app.quit", "Quit"),
        # The transcript from anywhere; Home/End and PageUp/PageDown in the composer are
        # the composer's (Composer passes PageUp/PageDown on: its few lines need no paging).
        Binding("ctrl+home", "scroll_log('top')", "Top", show=False),
        Binding("ctrl+end", "scroll_log('bottom')", "Bottom", show=False),
        Binding("pageup", "scroll_log('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_log('page_down')", "Page down", show=False),
        Binding("alt+up", "focus_message('prev')", "Previous message", show=False),
        Binding("alt+down", "focus_message('next')", "Next message", show=False),
    ]

    def __init__(self, persona: Persona) -> None:
        super().__init__(id="chat-screen")
        # Held here, not only queried: the app stops a streaming answer after unmount.
        self.chat = OpenChat(persona)
        self.turns = self.chat.turns

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            yield self.chat
        yield StatusLine(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        # settings.toml's `perf_line = false` starts with the figures under answers hidden.
        shown = self.mm.settings.extra.get("perf_line", True) is not False
        self.query_one(ChatLog).set_class(not shown, "hide-perf")
        self.query_one(Sidebar).reload(None)
        await self.chat.show_new()
        self.query_one(Draft).focus_composer()

    @property
    def mm(self) -> AppServices:
        return services(self)

    @property
    def conversation_id(self) -> int | None:
        return self.chat.state.conversation_id

    @property
    def persona(self) -> Persona:
        return self.chat.state.persona

    @property
    def runner(self) -> TurnRunner | None:
        """The streaming answer's runner (None when no answer streams)."""
        return self.turns.answer.runner if self.turns.answer is not None else None

    async def open_conversation(self, conv_id: int) -> None:
        await self.chat.open(conv_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None shows the key dimmed in the footer: there is nothing to stop or regenerate yet.
        if action == "stop":
            return True if self.turns.streaming or self.mm.host.state == "loading" else None
        if action == "regenerate":
            return None if self.turns.streaming or self.conversation_id is None else True
        return True

    def update_status(self) -> None:
        self.refresh_bindings()
        host, mm = self.mm.host, self.mm
        self.query_one(StatusLine).show(
            model=host.name,
            state=host.state,
            info=host.info,
            persona=self.persona.name,
            stage=mm.load_stage,
            fraction=mm.load_fraction,
            tokens_per_second=self.turns.tokens_per_second,
            context=self._context_fill(),
            error=host.error,
        )

    def _context_fill(self) -> str:
        """The last answer's prompt against the loaded model's window, e.g. "ctx 1.2k/8k 15%"."""
        info, tokens = self.mm.host.info, self.turns.prompt_tokens
        if info is None or not tokens or info.context_window <= 0:
            return ""
        return context_fill(tokens, info.context_window)

    async def model_settled(self) -> None:
        """The model finished loading (or failed): send a draft queued meanwhile."""
        self.update_status()
        await self.turns.model_settled()

    @on(OpenChat.Switched)
    def _switched(self) -> None:
        self.query_one(Sidebar).highlight(self.conversation_id)
        self.update_status()

    @on(TurnFlow.Changed)
    def _turn_changed(self, event: TurnFlow.Changed) -> None:
        if event.conversations:
            self.query_one(Sidebar).reload(self.conversation_id)
        self.update_status()

    # -- moving through the transcript -------------------------------------------------------

    def action_compact(self) -> None:
        self.turns.compact()

    def action_toggle_perf(self) -> None:
        """Show or hide the figures line under each answer."""
        log = self.query_one(ChatLog)
        log.toggle_class("hide-perf")
        shown = not log.has_class("hide-perf")
        self.notify("Answer figures shown" if shown else "Answer figures hidden")

    def action_scroll_log(self, where: str) -> None:
        for log in self.query(ChatLog).results(ChatLog):  # none left while the app closes
            log.scroll_by_key(where)

    def _focused_box(self) -> MessageBox | None:
        return next(
            (
                n
                for n in (self.focused, *(self.focused.ancestors if self.focused else ()))
                if isinstance(n, MessageBox)
            ),
            None,
        )

    def action_focus_message(self, where: str) -> None:
        """Focus another message; down past the last one goes back to the composer."""
        current = self._focused_box()
        moved = self.query_one(ChatLog).step_focus(current, where)
        if not moved and current is not None and where == "next":
            self.query_one(Draft).focus_composer()

    # -- the turn ----------------------------------------------------------------------------

    def action_attach(self) -> None:
        self.query_one(Draft).pick_file()

    def action_stop(self) -> None:
        if not self.turns.stop() and self.mm.host.state == "loading":
            self.mm.cancel_load()

    async def action_regenerate(self) -> None:
        await regenerate(self.turns)

    def edit_message(self, box: MessageBox) -> None:
        self.run_worker(edit_and_resend(self.turns, box), group="dialogs")

    @on(MessageBox.Action)
    async def _message_action(self, event: MessageBox.Action) -> None:
        if event.action == "edit":
            self.edit_message(event.box)
        elif event.action == "regenerate":
            await regenerate(self.turns, event.box.message)
        elif event.action == "branch":
            await self.turns.switch_branch(event.box.message, event.step)
        elif event.action == "undo_summary" and event.box.message is not None:
            await self.turns.undo_summary(event.box.message)
        elif event.action == "sources":
            saved = event.box.message  # None while the answer streams: no sources yet
            if cites := citations(saved.meta) if saved else []:
                self.app.push_screen(CitationScreen(cites))
            else:
                self.notify("This message cites no sources", severity="warning")

    async def action_branch(self, step: int) -> None:
        """The palette's previous (-1) / next (1) branch: of the focused message, else of the
        newest message shown that has another branch."""
        if self.turns.streaming:
            warn(self, "An answer is streaming: wait for it (or press Esc) to switch branches")
            return
        box = self._focused_box()
        if box is None:
            box = next((b for b in reversed(self.query_one(ChatLog).boxes) if _branched(b)), None)
        if box is None or box.message is None:
            warn(self, "No message here has another branch: e edits, r answers again")
            return
        await self.turns.switch_branch(box.message, step)

    async def action_copy_last(self) -> None:
        log = self.query_one(ChatLog)
        await log.show_end()  # scrolled far up, the newest messages may not be mounted
        if box := log.last("assistant"):
            box.action_copy()

    async def action_edit_last(self) -> None:
        log = self.query_one(ChatLog)
        await log.show_end()
        if box := log.last("user"):
            self.edit_message(box)

    # -- conversations, persona and model ----------------------------------------------------

    @on(Sidebar.Selected)
    def _selected(self, event: Sidebar.Selected) -> None:
        if event.branch_hit is None:
            self.chat.select(event.conversation_id)
        else:
            self.run_worker(self._open_at(event.conversation_id, event.branch_hit))

    async def _open_at(self, conv_id: int, message_id: int) -> None:
        """Open a chat that the search found on a branch it does not show, on that branch,
        with the message found focused."""
        if self.chat.busy():
            return
        try:
            self.mm.store.show_message(message_id)
        except Exception as exc:
            fail(self, exc)
            return
        await self.chat.open(conv_id)
        self.notify("Found on another branch of this chat: that branch is shown now")
        await self.query_one(ChatLog).focus_message(message_id)

    async def action_new_chat(self) -> None:
        await self.chat.new_chat()
        self.query_one(Draft).focus_composer()

    def action_search(self) -> None:
        self.query_one(Sidebar).start_search()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display

    def action_rename_chat(self) -> None:
        self.query_one(Sidebar).rename_target(self.conversation_id)

    def action_delete_chat(self) -> None:
        streaming = self.conversation_id if self.turns.streaming else None
        self.query_one(Sidebar).delete_target(self.conversation_id, streaming)

    @on(Sidebar.Deleted)
    async def _deleted(self, event: Sidebar.Deleted) -> None:
        if event.conversation_id == self.conversation_id:
            await self.chat.show_new()

    def action_export_chat(self) -> None:
        if self.conversation_id is None:
            self.notify("Nothing to export yet: this chat has no messages", severity="warning")
            return
        screen = ExportScreen(self.mm.store.path, self.conversation_id)
        self.app.push_screen(screen, self._exported)

    def _exported(self, path: Path | None) -> None:
        if path is not None:
            self.notify(f"Exported to {one_line(str(path), 200)}", markup=False)

    def action_pick_persona(self) -> None:
        self.chat.pick_persona()

    def action_pick_model(self) -> None:
        self.chat.pick_model()

    def action_chat_settings(self) -> None:
        self.chat.edit_settings()


def _branched(box: MessageBox) -> bool:
    return box.message is not None and box.message.branches > 1

"""The conversation list: newest first, searchable; new, rename and delete from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, OptionList
from textual.widgets.option_list import Option

from mmchat.store import Conversation
from mmchat.text import one_line
from mmchat.tui.screens.dialogs import ConfirmScreen, TextPrompt

if TYPE_CHECKING:
    from mmchat.store import Store

TITLE_WIDTH = 22  # one line in the 30-column sidebar (borders and padding take 8)


class ConversationList(OptionList):
    BINDINGS = [
        Binding("delete", "screen.delete_chat", "Delete"),
        Binding("f2", "screen.rename_chat", "Rename", show=False),
    ]


class Sidebar(Vertical):
    """Lists conversations; posts `Selected` when one is picked and `Deleted` after a delete."""

    class Selected(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class Deleted(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.search = ""
        self.current: int | None = None

    def compose(self) -> ComposeResult:
        yield Button("+ New chat", id="new-chat", compact=True, action="screen.new_chat")
        yield Input(placeholder="Search chats", id="search", compact=True)
        yield ConversationList(id="conversations")

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined, no-any-return]

    @property
    def options(self) -> ConversationList:
        return self.query_one(ConversationList)

    def fail(self, exc: BaseException) -> None:
        self.notify(one_line(str(exc) or type(exc).__name__), severity="error", markup=False)

    def reload(self, current: int | None) -> None:
        """Show the conversations matching the search, newest first, `current` highlighted."""
        try:
            conversations = self.store.conversations(self.search)
        except Exception as exc:
            self.fail(exc)
            return
        self.show(conversations, current)

    def show(self, conversations: list[Conversation], current: int | None) -> None:
        options = self.options
        options.clear_options()
        options.add_options(
            Option(Content(one_line(c.title or "Untitled", TITLE_WIDTH)), id=str(c.id))
            for c in conversations
        )
        if not conversations:
            options.add_option(Option(Content.styled("No chats yet", "dim"), disabled=True))
        self.highlight(current)

    def highlight(self, current: int | None) -> None:
        self.current = current
        options = self.options
        if current is None:
            options.highlighted = None
            return
        try:
            options.highlighted = options.get_option_index(str(current))
        except Exception:  # not in the (filtered) list
            options.highlighted = None

    @property
    def highlighted_id(self) -> int | None:
        options = self.options
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return int(option.id) if option.id else None

    def start_search(self) -> None:
        self.display = True
        self.query_one("#search").focus()

    def _target(self, current: int | None, verb: str) -> int | None:
        """The chat a key acts on: the highlighted one while the list has focus, else `current`."""
        if self.options.has_focus and self.highlighted_id is not None:
            return self.highlighted_id
        if current is None:
            self.notify(f"Open a chat to {verb} it", severity="warning")
        return current

    def rename_target(self, current: int | None) -> None:
        if (conv_id := self._target(current, "rename")) is not None:
            self.rename(conv_id)

    def delete_target(self, current: int | None, streaming: int | None) -> None:
        """Delete the targeted chat, unless it is `streaming` (the one an answer streams into)."""
        if (conv_id := self._target(current, "delete")) is None:
            return
        if conv_id == streaming:
            self.notify("An answer is streaming: press Esc to stop it first", severity="warning")
        else:
            self.delete(conv_id)

    @work(group="dialogs")
    async def rename(self, conv_id: int) -> None:
        try:
            conv = self.store.conversation(conv_id)
        except Exception as exc:
            self.fail(exc)
            return
        title = await self.app.push_screen_wait(TextPrompt("Rename chat", conv.title))
        if title is None or not title.strip():
            return
        try:
            self.store.update_conversation(conv_id, title=one_line(title, 120))
        except Exception as exc:
            self.fail(exc)
        self.reload(self.current)

    @work(group="dialogs")
    async def delete(self, conv_id: int) -> None:
        try:
            conv = self.store.conversation(conv_id)
        except Exception as exc:
            self.fail(exc)
            return
        question = f"Delete “{one_line(conv.title or 'Untitled', 60)}” and its messages?"
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        try:
            self.store.delete_conversation(conv_id)
        except Exception as exc:
            self.fail(exc)
            return
        self.post_message(self.Deleted(conv_id))
        self.reload(None if conv_id == self.current else self.current)
        self.notify("Chat deleted")

    @on(OptionList.OptionSelected, "#conversations")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Selected(int(event.option.id)))

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value
        self.reload(self.current)

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.options
        options.focus()
        if options.highlighted is None and options.option_count:
            options.highlighted = 0  # Enter again opens the best match

"""The conversation list: newest first, searchable; new, rename and delete from here.

It lists every conversation, a page at a time as the person moves down the list; search goes
through the store's full-text index.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Input, OptionList

from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tui.app_services import services
from mmchat.tui.screens.dialogs import ConfirmScreen, TextPrompt
from mmchat.tui.widgets.conversation_list import ConversationList

PAGE = 100  # conversations loaded at a time: a page lists in a few milliseconds


class Sidebar(Vertical):
    """Lists conversations; posts `Selected` when one is picked and `Deleted` after a delete."""

    class Selected(Message):
        def __init__(self, conversation_id: int, branch_hit: int | None = None) -> None:
            super().__init__()
            self.conversation_id = conversation_id
            # The search found this chat on a branch it does not show: this message of it.
            self.branch_hit = branch_hit

    class Deleted(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.search = ""

    def compose(self) -> ComposeResult:
        yield Button("+ New chat", id="new-chat", compact=True, action="screen.new_chat")
        yield Input(placeholder="Search chats", id="search", compact=True)
        yield ConversationList(id="conversations")

    @property
    def store(self) -> Store:
        return services(self).store

    @property
    def options(self) -> ConversationList:
        return self.query_one(ConversationList)

    def fail(self, exc: BaseException) -> None:
        self.notify(one_line(str(exc) or type(exc).__name__), severity="error", markup=False)

    def reload(self, current: int | None, *, keep_loaded: bool = True) -> None:
        """Show the conversations matching the search, newest first, `current` highlighted
        (as many as were listed before, unless `keep_loaded` is False)."""
        count = max(PAGE, self.options.loaded if keep_loaded else 0)
        try:
            conversations = self.store.conversations(self.search, limit=count + 1)
        except Exception as exc:
            self.fail(exc)
            return
        empty = "No chat matches" if self.search.strip() else "No chats yet"
        self.options.show(conversations[:count], current, len(conversations) > count, empty)

    @on(ConversationList.NearEnd)
    def _load_more(self, event: ConversationList.NearEnd) -> None:
        event.stop()
        options = self.options
        if not options.more:
            return  # a second NearEnd from the same page
        try:
            page = self.store.conversations(self.search, limit=PAGE + 1, offset=options.loaded)
        except Exception as exc:
            options.more = False
            self.fail(exc)
            return
        options.append(page[:PAGE], more=len(page) > PAGE)

    def highlight(self, current: int | None) -> None:
        self.options.highlight(current)

    def start_search(self) -> None:
        self.display = True
        self.query_one("#search").focus()

    def _target(self, current: int | None, verb: str) -> int | None:
        """The chat a key acts on: the highlighted one while the list has focus, else `current`."""
        if self.options.has_focus and self.options.highlighted_id is not None:
            return self.options.highlighted_id
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
        self.reload(self.options.current)

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
        self.reload(None if conv_id == self.options.current else self.options.current)
        self.notify("Chat deleted")

    @on(OptionList.OptionSelected, "#conversations")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            conv_id = int(event.option.id)
            hit = self.options.branch_hits.get(conv_id) if self.search.strip() else None
            self.post_message(self.Selected(conv_id, hit))

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value
        self.reload(self.options.current, keep_loaded=False)

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.options
        options.focus()
        if options.highlighted is None and options.option_count:
            options.highlighted = 0  # Enter again opens the best match

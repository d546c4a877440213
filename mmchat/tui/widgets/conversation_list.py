"""The conversation titles, newest first; remembers which one is open and highlights it."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mmchat.store import Conversation
from mmchat.text import one_line

TITLE_WIDTH = 22  # one line in the 30-column sidebar (borders and padding take 8)


class ConversationList(OptionList):
    BINDINGS = [
        Binding("delete", "screen.delete_chat", "Delete"),
        Binding("f2", "screen.rename_chat", "Rename", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: int | None = None  # the open conversation

    def show(self, conversations: list[Conversation], current: int | None) -> None:
        self.clear_options()
        self.add_options(
            Option(Content(one_line(c.title or "Untitled", TITLE_WIDTH)), id=str(c.id))
            for c in conversations
        )
        if not conversations:
            self.add_option(Option(Content.styled("No chats yet", "dim"), disabled=True))
        self.highlight(current)

    def highlight(self, current: int | None) -> None:
        self.current = current
        if current is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(str(current))
        except Exception:  # not in the (filtered) list
            self.highlighted = None

    @property
    def highlighted_id(self) -> int | None:
        if self.highlighted is None:
            return None
        option = self.get_option_at_index(self.highlighted)
        return int(option.id) if option.id else None

"""The conversation titles, newest first; remembers which one is open and highlights it.

Every conversation can be reached: the list holds pages of them and posts `NearEnd` when the
highlight or the scroll comes near the last one loaded, so the sidebar appends the next page.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mmchat.store import Conversation
from mmchat.text import one_line

TITLE_WIDTH = 22  # one line in the 30-column sidebar (borders and padding take 8)
BRANCH_HIT = "  on another branch"  # under a search hit's title
NEAR_END = 10  # rows from the last loaded one that ask for the next page


class ConversationList(OptionList):
    BINDINGS = [
        Binding("delete", "screen.delete_chat", "Delete"),
        Binding("f2", "screen.rename_chat", "Rename", show=False),
    ]

    class NearEnd(Message):
        """The person reached the last loaded conversations and more are in the store."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: int | None = None  # the open conversation
        self.loaded = 0  # conversations listed
        self.more = False  # the store has more than are listed
        # Search hits only on a branch a chat does not show: conversation id -> message id.
        self.branch_hits: dict[int, int] = {}

    def show(
        self, conversations: list[Conversation], current: int | None, more: bool, empty: str
    ) -> None:
        """`empty`: what the list says when there is nothing to show."""
        self.clear_options()
        self.loaded = 0
        self.branch_hits = {}
        self.append(conversations, more)
        if not conversations:
            self.add_option(Option(Content.styled(empty, "dim"), disabled=True))
        self.highlight(current)

    def append(self, conversations: list[Conversation], more: bool) -> None:
        self.add_options(Option(_label(c), id=str(c.id)) for c in conversations)
        self.branch_hits.update(
            {c.id: c.branch_hit for c in conversations if c.branch_hit is not None}
        )
        self.loaded += len(conversations)
        self.more = more

    def _check_near_end(self) -> None:
        if not self.more:
            return
        near_by_highlight = (
            self.highlighted is not None and self.highlighted >= self.loaded - NEAR_END
        )
        near_by_scroll = self.scroll_y >= self.max_scroll_y - self.size.height
        if near_by_highlight or (near_by_scroll and self.max_scroll_y > 0):
            self.post_message(self.NearEnd())

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        self._check_near_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._check_near_end()

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


def _label(conversation: Conversation) -> Content:
    title = Content(one_line(conversation.title or "Untitled", TITLE_WIDTH))
    if conversation.branch_hit is None:
        return title
    # Found on a branch the chat does not show; opening it shows that branch.
    return Content.assemble(title, "\n", (BRANCH_HIT, "dim italic"))

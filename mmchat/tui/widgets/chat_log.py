"""The scrolling list of messages; follows a streaming answer only while it is at the bottom.

Long conversations open with their newest messages only (each message is a Markdown widget,
and mounting a hundred takes seconds); "Show earlier messages" mounts the rest in pages. A
long chat shows a placeholder while its messages are read, then its newest boxes first and the
rest of the page a few at a time, so no single step holds the event loop for long.
Keys scroll it from anywhere (the screen's bindings) and move the focus from message to message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import on
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from mmchat.compaction import UNDONE, active_summary, is_covered, is_summary
from mmchat.store import Message as StoredMessage
from mmchat.text import strip_control
from mmchat.tui.widgets.message_box import MessageBox

FOLLOW_MARGIN = 3  # lines from the bottom that still count as "at the bottom"
PAGE = 20  # messages mounted at a time: a page mounts in well under a second
AT_ONCE = 4  # a chat this short opens in one step; longer ones in batches of BATCH boxes
BATCH = 1  # boxes mounted per step: each step lays out the whole log once more
BATCH_PAUSE = 0.02  # between steps: the screen lays out and keys are handled meanwhile


class ChatLog(VerticalScroll):
    can_focus = False

    def __init__(self) -> None:
        super().__init__(id="chat-log")
        self._earlier: list[StoredMessage] = []
        self._blob: Callable[[str], bytes] = lambda sha: b""
        self._label: Callable[[StoredMessage], str] = lambda m: m.persona or "assistant"
        self._summary: StoredMessage | None = None  # the one later turns send (compaction.py)

    @property
    def near_bottom(self) -> bool:
        return self.max_scroll_y - self.scroll_y <= FOLLOW_MARGIN

    @property
    def boxes(self) -> list[MessageBox]:
        return [b for b in self.query_children(MessageBox) if not b.has_class("greeting")]

    def step_focus(self, current: MessageBox | None, where: str) -> bool:
        """Focus the message `where` ("prev", "next", "first", "last") of `current` (None: from
        below the log); False when there is none that way. Going up past the first message
        focuses "Show earlier messages" when some are not shown."""
        boxes = list(self.query_children(MessageBox))
        if not boxes:
            return False
        index = boxes.index(current) if current in boxes else len(boxes)
        target = {"prev": index - 1, "next": index + 1, "first": 0, "last": len(boxes) - 1}[where]
        if target < 0:
            for button in self.query_children("#show-earlier").results(Button):
                button.focus()
                self.scroll_home(animate=False)
                return True
            target = 0
        if target >= len(boxes) or (current is None and where == "next"):
            return False
        box = boxes[target]
        self.release_anchor()
        box.focus(scroll_visible=False)
        # Its top: where reading a long message starts.
        self.scroll_to_widget(box, animate=False, top=True, immediate=True)
        return True

    def scroll_by_key(self, where: str) -> None:
        """ "page_up", "page_down", "top" or "bottom"; keeps following answers only at the end."""
        if where in ("page_up", "top"):
            self.release_anchor()
        if where == "page_up":
            self.scroll_page_up(animate=False)
        elif where == "page_down":
            self.scroll_page_down(animate=False)
        elif where == "top":
            self.scroll_home(animate=False)
        else:
            self.scroll_end(animate=False)

    def last(self, role: str) -> MessageBox | None:
        boxes = [b for b in self.boxes if b.role == role]
        return boxes[-1] if boxes else None

    async def show(
        self,
        messages: list[StoredMessage],
        blob: Callable[[str], bytes],
        *,
        label: Callable[[StoredMessage], str],
        greeting: str = "",
        greeter: str = "assistant",
        empty_hint: str = "",
        current: Callable[[], bool] = lambda: True,
    ) -> None:
        old = list(self.children)
        self._blob, self._label = blob, label
        self._summary = active_summary(messages)
        messages = shown(messages)
        self._earlier, recent = messages[:-PAGE], messages[-PAGE:]
        widgets: list[Static | Button | MessageBox] = []
        if self._earlier:
            widgets.append(self._more_button())
        if greeting:
            box = MessageBox("assistant", greeting, label=greeter)
            box.add_class("greeting")
            widgets.append(box)
        widgets += [self._box(m) for m in recent]
        if not widgets and empty_hint:
            widgets.append(
                Static(Content.styled(strip_control(empty_hint), "dim"), id="empty-hint")
            )
        await self.remove_children(old)
        if not current():
            return  # another opening took over meanwhile: its boxes, not these
        await self.mount_all(widgets)
        # Anchored: the Markdown bodies lay out after mounting and grow the log; the view stays
        # at the newest message until the person scrolls away (Textual releases it then).
        self.anchor()

    async def show_placeholder(self, count: int) -> Static:
        """A light placeholder in place of what is shown while a long chat's messages are read;
        `show_in_steps` fills it in. Mounted before the old boxes go (no await between), so of
        two openings the later one always removes what the earlier one mounted."""
        old = list(self.children)
        self._earlier = []
        note = Content.styled(f"Opening the chat ({count:,} messages)…", "dim")
        placeholder = Static(note, classes="loading")
        mounted = self.mount(placeholder)
        await self.remove_children(old)
        await mounted
        return placeholder

    async def show_in_steps(
        self,
        placeholder: Static,
        messages: list[StoredMessage],
        blob: Callable[[str], bytes],
        *,
        label: Callable[[StoredMessage], str],
        current: Callable[[], bool],
    ) -> bool:
        """Replace the placeholder with the newest page: the newest boxes first, then the older
        ones above them a few at a time. Stops (False) as soon as `current()` is False: another
        chat was opened meanwhile. Boxes added meanwhile (a turn sent then) stay below."""
        if not current():
            return False
        self._blob, self._label = blob, label
        self._summary = active_summary(messages)
        messages = shown(messages)
        earlier, page = messages[:-PAGE], messages[-PAGE:]
        above: MessageBox | Static = placeholder
        while page:
            # Checked right before mounting, with no await between: a stale load stops here.
            if not current():
                return False
            batch, page = page[-BATCH:], page[:-BATCH]
            boxes = [self._box(m) for m in batch]
            await self.mount_all(boxes, before=above)
            if above is placeholder:
                self.anchor()  # the view stays at the newest as older boxes mount above
            above = boxes[0]
            await asyncio.sleep(BATCH_PAUSE)
        if not current():
            return False
        self._earlier = earlier
        if earlier:
            await self.mount(self._more_button(), before=above)
        await placeholder.remove()
        self.anchor()
        return True

    def _more_button(self) -> Button:
        return Button(
            f"Show {min(PAGE, len(self._earlier))} earlier messages "
            f"({len(self._earlier)} not shown)",
            id="show-earlier",
            compact=True,
        )

    def _box(self, message: StoredMessage) -> MessageBox:
        blobs = {a.sha256: _blob(self._blob, a.sha256) for a in message.attachments}
        return MessageBox(
            message.role,
            message.content,
            message=message,
            label=self._label(message),
            attachments=message.attachments,
            blobs={k: v for k, v in blobs.items() if v is not None},
            summarised=is_covered(message, self._summary) or superseded(message, self._summary),
        )

    @on(Button.Pressed, "#show-earlier")
    async def _show_earlier(self, event: Button.Pressed) -> None:
        event.stop()
        had_focus = event.button.has_focus
        boxes = await self._mount_earlier()
        if had_focus and boxes:  # pressed from the keyboard: go on from the oldest shown
            boxes[0].focus(scroll_visible=False)
        self.scroll_home(animate=False)

    async def _mount_earlier(self) -> list[MessageBox]:
        """Mount the next page of earlier messages above the shown ones."""
        page, self._earlier = self._earlier[-PAGE:], self._earlier[:-PAGE]
        for button in self.query_children("#show-earlier"):
            await button.remove()
        first = self.query_children(MessageBox).first()
        boxes = [self._box(m) for m in page]
        await self.mount_all(boxes, before=first)
        if self._earlier:
            await self.mount(self._more_button(), before=self.children[0])
        return boxes

    async def focus_message(self, message_id: int) -> bool:
        """Focus the box of this stored message, mounting earlier pages until it is shown;
        False when the log does not show it."""
        while True:
            box = next((b for b in self.boxes if b.message and b.message.id == message_id), None)
            if box is not None or not self._earlier:
                break
            await self._mount_earlier()
        if box is None:
            return False
        self.release_anchor()
        box.focus(scroll_visible=False)
        self.scroll_to_widget(box, animate=False, top=True, immediate=True)
        return True

    async def add(self, *boxes: MessageBox) -> None:
        for hint in self.query("#empty-hint"):
            await hint.remove()
        await self.mount_all(boxes)
        self.scroll_end(animate=False)

    def learn_ids(self, messages: list[StoredMessage]) -> None:
        """Boxes mounted before their message was stored learn it (for edit and regenerate)."""
        stored = shown(messages)
        # Older messages may not be mounted: match from the newest end.
        for box, message in zip(reversed(self.boxes), reversed(stored), strict=False):
            if box.message is None and box.role == message.role:
                box.message = message

    def follow(self, was_near_bottom: bool) -> None:
        if was_near_bottom:
            self.scroll_end(animate=False, immediate=True)


def superseded(message: StoredMessage, summary: StoredMessage | None) -> bool:
    """An older summary: the newest one folded it in and is sent instead."""
    return is_summary(message) and summary is not None and message.id < summary.id


def shown(messages: list[StoredMessage]) -> list[StoredMessage]:
    """The messages the transcript shows: system ones only when they are live summaries."""
    return [m for m in messages if m.role != "system" or (is_summary(m) and not m.meta.get(UNDONE))]


def _blob(blob: Callable[[str], bytes], sha: str) -> bytes | None:
    try:
        return blob(sha)
    except Exception:  # a missing blob shows as a name only
        return None

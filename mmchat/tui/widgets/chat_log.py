"""The scrolling list of messages; follows a streaming answer only while it is at the bottom.

Every mount lays out the whole screen again, so a saved message's body is drawn folded (one
widget, folded_body.py, where Textual's Markdown widget is a tree of them) and only the boxes
near the view are mounted: a long chat shows a placeholder while its
messages are read, then its newest boxes one at a time until they fill two screens; older ones
are mounted one at a time as the view nears them (so scrolling up reaches the first message),
and boxes far from the view are unmounted again (their messages kept, mounted again when the
view comes back). "Show earlier messages" mounts a page of older ones at once.
Keys scroll it from anywhere (the screen's bindings) and move the focus from message to message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual import on
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from mmchat.compaction import UNDONE, active_summary, is_covered, is_summary
from mmchat.store import Message as StoredMessage
from mmchat.text import strip_control
from mmchat.tui.widgets.folded_body import FoldedBody, draw_ahead
from mmchat.tui.widgets.message_box import MessageBox

FOLLOW_MARGIN = 3  # lines from the bottom that still count as "at the bottom"
PAGE = 20  # messages "Show earlier messages" mounts at a time
AT_ONCE = 4  # a chat this short opens in one step; longer ones a box at a time
FIRST_SCREENS = 2  # a long chat opens with its newest boxes until they fill this many screens
AHEAD_SCREENS = 1  # more boxes are mounted while the view is this close to the mounted edge
KEEP_SCREENS = 1.5  # boxes further than this from the view are unmounted (messages are kept)
KEEP_BOXES = 24  # ... once more than this many are mounted
FILL = 1  # boxes mounted a step as the view nears the mounted edge (3: longer steps, 76 ms CPU)
JUMP = 6  # boxes mounted at once when Ctrl+Home / Ctrl+End jump past unmounted messages
STEP_PAUSE = 0.05  # between steps: the screen lays out and keys are handled meanwhile


class ChatLog(VerticalScroll):
    can_focus = False

    def __init__(self) -> None:
        super().__init__(id="chat-log")
        # The shown messages not mounted: above the boxes and below them, oldest first. Every
        # box lays out again whenever one is mounted, so only those near the view are mounted.
        self._earlier: list[StoredMessage] = []
        self._later: list[StoredMessage] = []
        self._blob: Callable[[str], bytes] = lambda sha: b""
        self._label: Callable[[StoredMessage], str] = lambda m: m.persona or "assistant"
        self._summary: StoredMessage | None = None  # the one later turns send (compaction.py)
        self._changing = asyncio.Lock()  # one change to the boxes at a time
        self._filling = False  # the fill worker runs (it stops when nothing is left to do)
        self._opening = 0  # show_in_steps mounting the first screens: no fill meanwhile

    @property
    def near_bottom(self) -> bool:
        return self.max_scroll_y - self.scroll_y <= FOLLOW_MARGIN

    @property
    def boxes(self) -> list[MessageBox]:
        return [b for b in self.query_children(MessageBox) if not b.has_class("greeting")]

    @property
    def at_end(self) -> bool:
        """The newest message is mounted (scrolled up far, it may not be)."""
        return not self._later

    def step_focus(self, current: MessageBox | None, where: str) -> bool:
        """Focus the message `where` ("prev", "next", "first", "last") of `current` (None: from
        below the log); False when there is none that way. Going up past the first message
        mounted focuses "Show earlier messages"; "first" and "last" are the chat's (mounted
        first, in a worker, when they are not)."""
        boxes = list(self.query_children(MessageBox))
        if not boxes:
            return False
        if (where == "first" and self._earlier) or (where == "last" and self._later):
            self.run_worker(self._jump_and_focus(to_end=where == "last"), group="chat-log-jump")
            return True
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

    async def _jump_and_focus(self, to_end: bool) -> None:
        """The first (or the newest) message, mounted if need be, focused."""
        await self._jump_to(to_end)
        boxes = self.boxes
        if boxes:
            self.step_focus(None, "last" if to_end else "first")

    def scroll_by_key(self, where: str) -> None:
        """ "page_up", "page_down", "top" or "bottom"; keeps following answers only at the end.
        "top" and "bottom" go to the first and the newest message, mounting them (in a worker:
        the keys after it are handled meanwhile) when they are not mounted."""
        if where in ("page_up", "top"):
            self.release_anchor()
        if where == "page_up":
            self.scroll_page_up(animate=False)
        elif where == "page_down":
            self.scroll_page_down(animate=False)
        elif where == "top" and self._earlier:
            self.run_worker(self._jump_to(to_end=False), group="chat-log-jump")
        elif where == "top":
            self.scroll_home(animate=False)
        elif self._later:
            self.run_worker(self._jump_to(to_end=True), group="chat-log-jump")
        else:
            self.scroll_end(animate=False)

    async def _jump_to(self, to_end: bool) -> None:
        async with self._changing:
            if self._later if to_end else self._earlier:  # not done by a jump before it
                await self._jump(to_end)
        if to_end:
            self.scroll_end(animate=False)
        else:
            self.scroll_home(animate=False)

    async def show_end(self) -> None:
        """Scroll to the newest message (mounting it first when the view is far above it)."""
        if self._later:
            async with self._changing:
                await self._jump(to_end=True)
        self.scroll_end(animate=False)

    def last(self, role: str) -> MessageBox | None:
        """The newest mounted box of `role` (show_end first mounts the newest messages)."""
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
        async with self._changing:
            old = list(self.children)
            self._blob, self._label = blob, label
            self._summary = active_summary(messages)
            messages = shown(messages)
            self._earlier, recent = messages[:-PAGE], messages[-PAGE:]
            self._later = []
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
            # Anchored: the Markdown bodies lay out after mounting and grow the log; the view
            # stays at the newest message until the person scrolls away (Textual releases it).
            self.anchor()

    async def show_placeholder(self, count: int) -> Static:
        """A light placeholder in place of what is shown while a long chat's messages are read;
        `show_in_steps` fills it in. Mounted before the old boxes go (no await between), so of
        two openings the later one always removes what the earlier one mounted."""
        async with self._changing:
            old = list(self.children)
            self._earlier, self._later = [], []
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
        """Replace the placeholder with the newest messages, a box at a time from the newest up,
        until they fill FIRST_SCREENS screens; older ones are mounted as the view nears them.
        Stops (False) as soon as `current()` is False: another chat was opened meanwhile.
        Boxes added meanwhile (a turn sent then) stay below."""
        if not current():
            return False
        self._blob, self._label = blob, label
        self._summary = active_summary(messages)
        rest = shown(messages)
        self._opening += 1
        try:
            return await self._first_screens(placeholder, rest, current)
        finally:
            self._opening -= 1
            self._start_fill()

    async def _first_screens(
        self, placeholder: Static, rest: list[StoredMessage], current: Callable[[], bool]
    ) -> bool:
        above: MessageBox | Static = placeholder
        mounted = 0
        while rest and mounted < PAGE and not self._filled(FIRST_SCREENS):
            box = self._box(rest[-1])
            await self._draw_ahead([box])
            async with self._changing:
                # Checked right before mounting, with no await between: a stale load stops here.
                if not current():
                    return False
                rest = rest[:-1]
                await self.mount(box, before=above)
                if above is placeholder:
                    self.anchor()  # the view stays at the newest as older boxes mount above
                above = box
            mounted += 1
            await self._refreshed()
            await asyncio.sleep(STEP_PAUSE)
        async with self._changing:
            if not current():
                return False
            self._earlier = rest
            await placeholder.remove()
            await self._sync_button()
            self.anchor()
        return True

    def _filled(self, screens: float) -> bool:
        height = self.size.height
        return height > 0 and self.virtual_size.height >= screens * height

    async def _refreshed(self) -> None:
        """Wait until the screen has laid out and drawn what changed (a second at most)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        if self.call_after_refresh(resolve):
            try:
                await asyncio.wait_for(done, 1.0)
            except TimeoutError:
                pass

    # -- mounting what the view nears, unmounting what it left far behind ---------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._start_fill()

    def _start_fill(self) -> None:
        if self._filling or self._opening or not self.is_mounted:
            return
        if not (self._earlier or self._later or len(self.children) > PAGE // 2):
            return
        self._filling = True
        self.run_worker(
            self._fill(), group="chat-log-fill", exit_on_error=False, description="chat log fill"
        )

    async def _fill(self) -> None:
        """One box at a time (each mount lays the whole log out again), until the view has
        what is near it mounted and nothing far from it."""
        try:
            while True:
                async with self._changing:
                    if not await self._fill_step():
                        return
                await asyncio.sleep(STEP_PAUSE)
        finally:
            self._filling = False

    async def _fill_step(self) -> bool:
        boxes = self.boxes
        height = self.size.height
        if not boxes or height <= 0 or self._opening:
            return False
        top, bottom = self.scroll_y, self.scroll_y + height
        # Unmounting comes first: while a fast scroll keeps the view near the mounted edge,
        # mounting first would grow the log past KEEP_BOXES for as long as the keys come.
        if far := self._far(boxes, lambda b: b.virtual_region.bottom < top - KEEP_SCREENS * height):
            self._earlier += [b.message for b in far if b.message is not None]
            await self._keeping_view(boxes[len(far)], self.remove_children(far))
        elif far := self._far(
            boxes[::-1], lambda b: b.virtual_region.y > bottom + KEEP_SCREENS * height
        ):
            self._later[:0] = [b.message for b in reversed(far) if b.message is not None]
            await self.remove_children(far)
        elif self._earlier and top < AHEAD_SCREENS * height:
            older = [self._box(self._earlier.pop()) for _ in range(min(FILL, len(self._earlier)))]
            older.reverse()
            await self._draw_ahead(older)
            await self._keeping_view(boxes[0], self.mount_all(older, before=boxes[0]))
        elif self._later and self.max_scroll_y - top < AHEAD_SCREENS * height:
            newer, self._later = self._later[:FILL], self._later[FILL:]
            later = await self._draw_ahead([self._box(m) for m in newer])
            await self.mount_all(later, after=boxes[-1])
        else:
            return False
        await self._sync_button()
        return True

    async def _keeping_view(self, ref: MessageBox, change: Awaitable[object]) -> None:
        """Make a change above the view without moving what it shows: scroll by as much as
        `ref` (a box below the change) moved."""
        before = ref.virtual_region.y
        await change
        await self._refreshed()
        moved = ref.virtual_region.y - before
        if moved and not (self.is_anchored and self.near_bottom):
            self.scroll_to(y=self.scroll_y + moved, animate=False, immediate=True)

    async def _draw_ahead(self, boxes: list[MessageBox]) -> list[MessageBox]:
        """Draw the folded bodies of boxes about to be mounted in a thread, at the width the
        mounted ones have: the layout that brings them in finds them drawn."""
        width = next((b.content_region.width for b in self.query(FoldedBody) if b.size.width), 0)
        if width:
            texts = [b.text for b in boxes if b.folded]
            dark = self.app.current_theme.dark
            await asyncio.to_thread(draw_ahead, self.app.console, texts, width, dark)
        return boxes

    def _far(self, boxes: list[MessageBox], far: Callable[[MessageBox], bool]) -> list[MessageBox]:
        """The run of `boxes` from its start that are far from the view and may go, leaving
        KEEP_BOXES (so scrolling back and forth a few pages mounts nothing again)."""
        run: list[MessageBox] = []
        for box in boxes[: max(0, len(boxes) - KEEP_BOXES)]:
            if not (far(box) and self._removable(box)):
                break
            run.append(box)
        return run

    def _removable(self, box: MessageBox) -> bool:
        """Not a box being answered or written into, nor the focused one."""
        focused = self.screen.focused
        if focused is not None and box in focused.ancestors_with_self:
            return False
        return box.message is not None

    async def _jump(self, to_end: bool) -> None:
        """Mount the newest (or the first) JUMP messages in place of the boxes shown."""
        boxes = self.boxes
        if any(b.message is None for b in boxes):
            return  # an answer is being written: the newest are mounted already
        every = self._earlier + [b.message for b in boxes if b.message] + self._later
        if to_end:
            self._earlier, window, self._later = every[:-JUMP], every[-JUMP:], []
        else:
            self._earlier, window, self._later = [], every[:JUMP], every[JUMP:]
        focused = self.screen.focused
        had_focus = focused is not None and self in focused.ancestors
        mounted = await self._draw_ahead([self._box(m) for m in window])
        await self.remove_children(list(self.children))
        await self.mount_all(mounted)
        await self._sync_button()
        if had_focus and mounted:  # the focus stays in the log (not off to the next widget)
            mounted[-1 if to_end else 0].focus(scroll_visible=False)
        if to_end:
            self.anchor()
        else:
            self.scroll_home(animate=False, immediate=True)

    async def _sync_button(self) -> None:
        """ "Show earlier messages" above the boxes while some are not mounted."""
        found = list(self.query_children("#show-earlier").results(Button))
        if not self._earlier:
            for button in found:
                await button.remove()
        elif found:
            found[0].label = self._more_label()
        elif self.children:
            await self.mount(self._more_button(), before=self.children[0])
        else:
            await self.mount(self._more_button())

    def _more_label(self) -> str:
        count = len(self._earlier)
        return f"Show {min(PAGE, count)} earlier messages ({count} not shown)"

    def _more_button(self) -> Button:
        return Button(self._more_label(), id="show-earlier", compact=True)

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
            folded=True,  # one widget for the body: every mount lays out every widget
        )

    @on(Button.Pressed, "#show-earlier")
    async def _show_earlier(self, event: Button.Pressed) -> None:
        event.stop()
        had_focus = event.button.has_focus
        async with self._changing:
            boxes = await self._mount_earlier()
            # At the top before the lock goes: a fill step seeing the old place (the bottom)
            # would unmount the oldest boxes just mounted as far above the view.
            self.release_anchor()
            self.scroll_home(animate=False, immediate=True)
        if had_focus and boxes:  # pressed from the keyboard: go on from the oldest shown
            boxes[0].focus(scroll_visible=False)

    async def _mount_earlier(self) -> list[MessageBox]:
        """Mount the next page of earlier messages above the shown ones."""
        page, self._earlier = self._earlier[-PAGE:], self._earlier[:-PAGE]
        first = self.query_children(MessageBox).first()
        boxes = [self._box(m) for m in page]
        await self.mount_all(boxes, before=first)
        await self._sync_button()
        return boxes

    async def focus_message(self, message_id: int) -> bool:
        """Focus the box of this stored message, mounting earlier pages until it is shown;
        False when the log does not show it."""
        async with self._changing:
            if any(m.id == message_id for m in self._later):
                await self._jump(to_end=True)
            return await self._focus_message(message_id)

    async def _focus_message(self, message_id: int) -> bool:
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
        async with self._changing:
            if self._later:  # scrolled far up: the newest go back first, then these below them
                await self._jump(to_end=True)
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

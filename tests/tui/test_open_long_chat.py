"""Opening a long chat: its messages are read off the UI thread and shown in steps, so typing
goes on meanwhile, and picking another chat before it is shown shows that one only. Only the
boxes near the view are mounted: scrolling up mounts older ones (every message reachable, in
order) and unmounts those left far below; Ctrl+End brings the newest back."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Button, TextArea
from tui_helpers import wait_for

from mmchat.store import Store
from mmchat.tui.widgets.chat_log import PAGE, ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.sidebar import Sidebar


def seed_chat(store: Store, title: str, pairs: int) -> int:
    conv = store.create_conversation(title=title, model="scripted")
    for n in range(pairs):
        store.add_message(conv.id, "user", f"{title} question {n}")
        store.add_message(
            conv.id, "assistant", f"{title} answer {n}\n\n```python\nrows.sort()\n```\n- stable"
        )
    return conv.id


def settled(log: ChatLog) -> bool:
    return not log.query(".loading") and bool(log.query("#show-earlier"))


def mounted_ids(log: ChatLog) -> list[int]:
    return [b.message.id for b in log.boxes if b.message is not None]


def in_order(log: ChatLog, every: list[int]) -> bool:
    """The mounted boxes are a run of the chat's messages, in their order, none missing."""
    ids = mounted_ids(log)
    start = every.index(ids[0])
    return ids == every[start : start + len(ids)]


async def test_a_long_chat_opens_newest_first_and_typing_goes_on_meanwhile(
    make_app, session
) -> None:
    conv_id = seed_chat(session.store, "long", 300)  # 600 messages
    seen: list[tuple[str, int]] = []  # the composer's text and the boxes shown then
    app, _ = make_app()

    def hook(message: Message) -> None:
        if isinstance(message, TextArea.Changed) and isinstance(message.text_area, Composer):
            log = app.screen.query_one(ChatLog)
            seen.append((message.text_area.text, len(log.boxes)))

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.pause()
        app.screen.query_one(Sidebar).post_message(Sidebar.Selected(conv_id))
        await pilot.press("x")  # typed right after picking the chat
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: settled(log), timeout=30)
        assert seen and seen[0][0] == "x"
        assert seen[0][1] < PAGE  # the key was handled before the page was shown
        assert composer.has_focus and composer.text == "x"
        assert app.screen.conversation_id == conv_id
        every = [m.id for m in session.store.messages(conv_id)]
        texts = [b.text for b in log.boxes]
        assert texts[-1].startswith("long answer 299") and in_order(log, every)
        assert 1 < len(texts) <= PAGE  # the newest screens only, not 600 boxes
        button = log.query_one("#show-earlier", Button)
        assert f"{600 - len(texts)} not shown" in str(button.label)
        first = every.index(mounted_ids(log)[0])
        button.press()  # a page of older messages at once
        await wait_for(pilot, lambda: every.index(mounted_ids(log)[0]) <= first - PAGE)
        assert in_order(log, every)


async def test_scrolling_up_a_long_chat_reaches_its_first_message(make_app, session) -> None:
    conv_id = seed_chat(session.store, "long", 40)  # 80 messages
    every = [m.id for m in session.store.messages(conv_id)]
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one(Sidebar).post_message(Sidebar.Selected(conv_id))
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: settled(log), timeout=30)
        most = len(log.boxes)
        for _ in range(3000):  # PageUp until the first message is mounted and in view
            if mounted_ids(log)[0] == every[0] and log.scroll_y == 0:
                break
            await pilot.press("pageup")
            await pilot.pause(0.02)
            assert in_order(log, every)
            most = max(most, len(log.boxes))
        assert log.boxes[0].text == "long question 0"
        # The button goes in the fill step that mounted the first message, after the mount.
        await wait_for(pilot, lambda: not log.query("#show-earlier"))
        # The boxes left far below were unmounted on the way up (their messages kept).
        assert most < len(every) // 2 and mounted_ids(log)[-1] != every[-1]
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: mounted_ids(log)[-1] == every[-1])
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
        assert in_order(log, every) and log.boxes[-1].text.startswith("long answer 39")
        # Back at the top with Ctrl+Home, and down again with PageDown: all in order.
        await pilot.press("ctrl+home")
        await wait_for(pilot, lambda: mounted_ids(log)[0] == every[0] and log.scroll_y == 0)
        for _ in range(3000):
            if mounted_ids(log)[-1] == every[-1] and log.scroll_y == log.max_scroll_y:
                break
            await pilot.press("pagedown")
            await pilot.pause(0.02)
            assert in_order(log, every)
        assert log.boxes[-1].text.startswith("long answer 39")


async def test_picking_another_chat_while_one_loads_shows_that_one_only(make_app, session) -> None:
    first = seed_chat(session.store, "first", 300)
    second = seed_chat(session.store, "second", 15)
    app, _ = make_app()
    picked_second = False
    stale: list[str] = []  # boxes of the first chat seen after the second was picked

    def hook(message: Message) -> None:
        if picked_second:
            for box in (b for log in app.screen.query(ChatLog) for b in log.boxes):
                if box.message is not None and box.message.conversation_id == first:
                    stale.append(box.text)

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        sidebar = app.screen.query_one(Sidebar)
        sidebar.post_message(Sidebar.Selected(first))
        sidebar.post_message(Sidebar.Selected(second))
        picked_second = True
        log = app.screen.query_one(ChatLog)
        await wait_for(
            pilot, lambda: settled(log) and app.screen.conversation_id == second, timeout=30
        )
        await pilot.pause(0.2)
        assert stale == []
        assert {b.message.conversation_id for b in log.boxes if b.message} == {second}
        assert log.boxes[-1].text.startswith("second answer 14")
        assert in_order(log, [m.id for m in session.store.messages(second)])
        assert not log.query(".loading")
        assert app.screen.conversation_id == second

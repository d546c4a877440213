"""Opening a long chat: its messages are read off the UI thread and shown in steps, so typing
goes on meanwhile, and picking another chat before it is shown shows that one only."""

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
        texts = [b.text for b in log.boxes]
        assert len(texts) == PAGE
        assert texts[-1].startswith("long answer 299") and texts[0] == "long question 290"
        button = log.query_one("#show-earlier", Button)
        assert "580 not shown" in str(button.label)
        button.press()  # paging older messages works as before
        await wait_for(pilot, lambda: len(log.boxes) == 2 * PAGE)
        assert log.boxes[0].text == "long question 280"


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
        assert len(log.boxes) == PAGE and not log.query(".loading")
        assert app.screen.conversation_id == second

"""Moving through a long chat and a long chat list with the keyboard alone."""

from __future__ import annotations

from textual import events
from textual.widgets import OptionList
from tui_helpers import wait_for, wait_ready

from mmchat.store import Store
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.message_box import MessageBox

PARAGRAPH = "\n\n".join(f"Paragraph {i} of a long answer." for i in range(6))


def long_chat(store: Store, turns: int = 15) -> int:
    conv = store.create_conversation(title="Long chat", model="scripted")
    for i in range(turns):
        store.add_message(conv.id, "user", f"question {i}")
        store.add_message(conv.id, "assistant", f"answer {i}\n\n{PARAGRAPH}")
    return conv.id


async def test_page_keys_scroll_the_transcript_while_typing(make_app, session) -> None:
    conv = long_chat(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(conv)
        log = app.screen.query_one(ChatLog)
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"draft")
        await wait_for(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        newest = log.boxes[-1]

        def below_view() -> int:  # where the newest box is, from the view's top
            return newest.virtual_region.y - log.scroll_y

        before = below_view()
        await pilot.press("pageup")
        await wait_for(pilot, lambda: below_view() > before)
        # A page, not a line (older boxes mounted above meanwhile do not move the view).
        assert below_view() - before >= log.size.height - 2
        up = below_view()
        await pilot.press("pagedown")  # a page back down
        await wait_for(pilot, lambda: up - below_view() >= log.size.height - 2)
        await pilot.press("ctrl+home")  # the first message, mounted if it was not
        await wait_for(pilot, lambda: log.scroll_y == 0 and log.boxes[0].text == "question 0")
        # Home and End stay the composer's: they move along the line being typed.
        await pilot.press("home")
        assert composer.cursor_location == (0, 0) and log.scroll_y == 0
        await pilot.press("end", "ctrl+end")
        assert composer.cursor_location == (0, 5)
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
        assert composer.text == "draft" and composer.has_focus


async def test_keys_move_the_focus_between_messages(make_app, session) -> None:
    conv = long_chat(session.store)  # 30 messages: only the newest are mounted at first
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(conv)
        composer = app.screen.query_one(Composer)
        composer.focus()
        log = app.screen.query_one(ChatLog)

        def focused_text() -> str:
            focused = app.focused
            return focused.text.split("\n")[0] if isinstance(focused, MessageBox) else ""

        await pilot.press("alt+up")
        assert focused_text() == "answer 14"
        await pilot.press("up", "k")
        assert focused_text() == "answer 13"
        await pilot.press("j")
        assert focused_text() == "question 14"
        box = app.focused
        assert isinstance(box, MessageBox)
        assert log.scroll_y <= box.virtual_region.y <= log.scroll_y + log.size.height
        await pilot.press("home")  # the chat's first message, mounted for it
        await wait_for(pilot, lambda: focused_text() == "question 0")
        await pilot.press("up")  # nothing before it: it stays
        assert focused_text() == "question 0"
        await pilot.press("alt+down")
        assert focused_text() == "answer 0"
        await pilot.press("end")  # the newest again
        await wait_for(pilot, lambda: focused_text() == "answer 14")
        await pilot.press("alt+down")  # down past the last message: back to typing
        assert composer.has_focus


async def test_new_line_keys_in_the_composer(make_app) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c", "alt+enter", "d")
        assert composer.text == "a\nb\nc\nd"
        assert app.screen.query_one(ChatLog).boxes == []
        # Keys arriving in one burst, as from tmux or a fast typist: the new line lands
        # where it was typed, not after the keys queued behind it.
        composer.clear()
        for key, char in [("x", "x"), ("ctrl+j", "\n"), ("y", "y"), ("z", "z")]:
            app.post_message(events.Key(key, char))
        await wait_for(pilot, lambda: "z" in composer.text)
        assert composer.text == "x\nyz"


async def test_the_sidebar_reaches_every_conversation(make_app, session) -> None:
    store = session.store
    oldest = store.create_conversation(title="The very first chat", model="scripted")
    store.add_message(oldest.id, "user", "remember the aardvark")
    for i in range(249):
        store.create_conversation(title=f"chat {i}", model="scripted")
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        options = app.screen.query_one("#conversations", OptionList)
        assert 0 < options.option_count < 250  # a page, not everything at once
        options.focus()
        for _ in range(5):  # End on the list: the last loaded; the next page follows
            await pilot.press("end")
            await pilot.pause()
        await wait_for(pilot, lambda: options.option_count == 250)
        last = options.get_option_at_index(options.option_count - 1)
        assert str(last.prompt) == "The very first chat"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.conversation_id == oldest.id)

        # Search finds it from the index, by a word of its messages.
        await pilot.press("ctrl+f", *"aardv")
        await wait_for(pilot, lambda: options.option_count == 1)
        assert str(options.get_option_at_index(0).prompt) == "The very first chat"
        await pilot.press("ctrl+a", "ctrl+k")  # the search cleared: every chat is back
        await wait_for(pilot, lambda: options.option_count > 1)

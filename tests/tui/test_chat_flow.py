"""The chat screen under Pilot with a scripted engine: send, stream, stop, regenerate, edit."""

from __future__ import annotations

import time

from textual import events
from textual.message import Message
from textual.widgets import TextArea
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.tui.events import AnswerChunk
from mmchat.tui.screens.dialogs import EditScreen
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.message_box import MessageBox

LONG = " ".join(f"word{i}" for i in range(400))


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    composer = pilot.app.screen.query_one(Composer)
    composer.text = text
    composer.focus()
    await pilot.press("enter")


async def test_composer_types_new_lines_and_plain_pastes_without_sending(make_app) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.focus()
        await pilot.press("h", "i", "alt+enter", "x", "ctrl+j", "y")
        app.post_message(events.Paste(" and pasted text"))  # as the terminal driver does
        await wait_for(pilot, lambda: composer.text.endswith("pasted text"))
        assert composer.text == "hi\nx\ny and pasted text"
        assert app.screen.query_one(ChatLog).boxes == []  # only Enter sends
        await pilot.press("enter")
        await wait_answered(pilot)
        assert app.screen.query_one(ChatLog).boxes[0].text == "hi\nx\ny and pasted text"


async def test_send_streams_a_coalesced_answer_and_saves_it(make_app, session) -> None:
    app, engines = make_app(answers=[LONG], token_delay=0.003)
    chunks: list[AnswerChunk] = []

    def hook(message: Message) -> None:
        if isinstance(message, AnswerChunk):
            chunks.append(message)

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await wait_ready(pilot)
        began = time.monotonic()
        await send(pilot, "Tell me a story")
        await wait_answered(pilot)
        elapsed = time.monotonic() - began
        boxes = app.screen.query_one(ChatLog).boxes
        assert [b.role for b in boxes] == ["user", "assistant"]
        assert boxes[1].text == LONG
        assert app.screen.query_one(Composer).text == ""
    # the hook sees a message when posted and when handled: count each once
    unique = list({id(c): c for c in chunks}.values())
    # 400 tokens became UI updates at the coalescer's pace (10 a second), not one per token;
    # counted against the answer's own duration, which a loaded machine stretches
    assert 1 <= len(unique) <= 10 * elapsed + 3 and len(unique) < 400 / 4
    assert "".join(c.text for c in unique) == LONG
    [conv] = session.store.conversations()
    user, answer = session.store.messages(conv.id)
    assert (user.role, user.content) == ("user", "Tell me a story")
    assert (answer.status, answer.content) == ("complete", LONG)
    assert conv.title == "Tell me a story"


async def test_escape_stops_and_keeps_the_partial_answer(make_app, session) -> None:
    app, engines = make_app(answers=[LONG], token_delay=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Go on")
        box = app.screen.query_one(ChatLog).boxes[-1]
        await wait_for(pilot, lambda: len(box.text) > 20)
        await pilot.press("escape")
        await wait_answered(pilot)
        assert "stopped" in str(box.query_one(".message-header").render())
    [conv] = session.store.conversations()
    answer = session.store.messages(conv.id)[-1]
    assert answer.status == "stopped"
    assert 0 < len(answer.content) < len(LONG)
    assert LONG.startswith(answer.content)


async def test_regenerate_replaces_the_last_answer(make_app, session) -> None:
    app, engines = make_app(answers=["first answer", "second answer"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        texts = [b.text for b in app.screen.query_one(ChatLog).boxes]
    assert texts == ["Hi", "second answer"]
    [conv] = session.store.conversations()
    assert [m.content for m in session.store.messages(conv.id)] == ["Hi", "second answer"]


async def test_edit_and_resend_drops_later_messages(make_app, session) -> None:
    app, engines = make_app(answers=["one", "two", "three"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "first question")
        await wait_answered(pilot)
        await send(pilot, "second question")
        await wait_answered(pilot)
        first = app.screen.query_one(ChatLog).boxes[0]
        first.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        app.screen.query_one(TextArea).text = "edited question"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.get_screen("chat").runner is None)
        await wait_answered(pilot)
        texts = [b.text for b in app.get_screen("chat").query_one(ChatLog).boxes]
    assert texts == ["edited question", "three"]
    [conv] = session.store.conversations()
    assert [m.content for m in session.store.messages(conv.id)] == ["edited question", "three"]
    # the model saw the edited question only
    assert [m.content for m in engines[0].requests[-1].messages] == ["edited question"]


async def test_copy_puts_the_answer_on_the_clipboard(make_app) -> None:
    app, engines = make_app(answers=["copy me"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        box = app.screen.query_one(ChatLog).boxes[-1]
        box.focus()
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == "copy me"
        assert isinstance(box, MessageBox)


async def test_quit_while_streaming_saves_stopped_and_closes_the_engine(make_app, session) -> None:
    app, engines = make_app(answers=[LONG], token_delay=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Go on")
        box = app.screen.query_one(ChatLog).boxes[-1]
        await wait_for(pilot, lambda: len(box.text) > 10)
        await pilot.press("ctrl+q")
    assert engines[0].closed
    [conv] = session.store.conversations()
    answer = session.store.messages(conv.id)[-1]
    assert answer.status == "stopped"
    assert answer.content


async def test_enter_while_loading_sends_when_the_model_is_ready(make_app, session) -> None:
    import threading

    gate = threading.Event()
    app, engines = make_app(load_gate=gate, answers=["ready now"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.host.state == "loading")
        await send(pilot, "queued question")
        await pilot.pause()
        assert session.store.conversations() == []  # nothing sent yet
        assert app.screen.query_one(Composer).text == "queued question"
        gate.set()
        await wait_for(pilot, lambda: bool(session.store.conversations()))
        await wait_answered(pilot)
        assert [b.text for b in app.screen.query_one(ChatLog).boxes] == [
            "queued question",
            "ready now",
        ]


async def test_links_are_not_opened_but_copied(make_app, monkeypatch) -> None:
    from textual.widgets import Markdown

    app, _ = make_app(answers=["see [the docs](https://example.com/x)"])
    opened: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        monkeypatch.setattr(app, "open_url", lambda url, **kw: opened.append(url))
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        body = app.screen.query_one(ChatLog).boxes[-1].body
        body.post_message(Markdown.LinkClicked(body, "https://example.com/x"))
        await wait_for(pilot, lambda: app.clipboard == "https://example.com/x")
    assert opened == []


async def test_a_plugin_that_raises_is_reported_and_the_answer_still_comes(
    make_app, session
) -> None:
    import pluggy

    hookimpl = pluggy.HookimplMarker("mmchat")

    class Broken:
        @hookimpl
        def mmchat_retrieve(self, query, persona):  # type: ignore[no-untyped-def]
            raise RuntimeError("index [/] is gone")

    session.plugins.register(Broken(), "broken")
    app, _ = make_app(answers=["still here"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        assert app.screen.query_one(ChatLog).boxes[-1].text == "still here"
        messages = [n.message for n in app._notifications]
        assert any("plugin broken disabled" in m and "index [/] is gone" in m for m in messages)


async def test_a_failed_answer_shows_its_error_and_keeps_the_text(make_app, session) -> None:
    app, _ = make_app(answers=["partial words here"], fail_stream="the model process was killed")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        box = app.screen.query_one(ChatLog).boxes[-1]
        header = str(box.query_one(".message-header").render())
        assert "failed: the model process was killed" in header
        assert any("the model process was killed" in n.message for n in app._notifications)
        assert app.is_running
    [conv] = session.store.conversations()
    answer = session.store.messages(conv.id)[-1]
    assert (answer.status, answer.content) == ("failed", "partial")
    assert answer.error == "the model process was killed"

"""Branches on the chat screen under Pilot (scripted engine): answering again and editing keep
the old continuation as a branch; [ and ] (or Left/Right) on a message step between them."""

from __future__ import annotations

from textual.widgets import Button, TextArea
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.tui.screens.dialogs import EditScreen
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.message_box import MessageBox

LONG = " ".join(f"word{i}" for i in range(300))


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    composer = pilot.app.screen.query_one(Composer)
    composer.text = text
    composer.focus()
    await pilot.press("enter")


def texts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.text for b in app.get_screen("chat").query_one(ChatLog).boxes]


def header(box: MessageBox) -> str:
    return str(box.query_one(".message-header").render())


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


async def test_regenerate_keeps_the_old_answer_and_brackets_step_between(make_app, session) -> None:
    app, engines = make_app(answers=["first answer", "second answer"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        assert texts(app) == ["Hi", "second answer"]
        answer = app.screen.query_one(ChatLog).boxes[-1]
        assert "branch 2/2" in header(answer)
        answer.focus()
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: texts(app) == ["Hi", "first answer"])
        shown = app.screen.focused
        assert isinstance(shown, MessageBox) and "branch 1/2" in header(shown)
        await pilot.press("left_square_bracket")  # no branch before the first
        await wait_for(pilot, lambda: any("first branch" in n for n in notices(app)))
        await pilot.press("right")
        await wait_for(pilot, lambda: texts(app) == ["Hi", "second answer"])
        await pilot.press("left")
        await wait_for(pilot, lambda: texts(app) == ["Hi", "first answer"])
        # The next turn goes on from the branch shown, and the model sees that branch.
        await send(pilot, "Go on")
        await wait_answered(pilot)
        sent = [m.content for m in engines[0].requests[-1].messages]
        assert sent == ["Hi", "first answer", "Go on"]
    [conv] = session.store.conversations()
    assert [m.content for m in session.store.messages(conv.id)] == [
        "Hi",
        "first answer",
        "Go on",
        "second answer",  # the scripted engine's last answer repeats
    ]
    assert len(session.store.all_messages(conv.id)) == 5
    assert conv.message_count == 4


async def test_editing_an_earlier_message_keeps_the_old_turns_as_a_branch(
    make_app, session
) -> None:
    app, engines = make_app(answers=["one", "two", "three"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "first question")
        await wait_answered(pilot)
        await send(pilot, "second question")
        await wait_answered(pilot)
        app.screen.query_one(ChatLog).boxes[0].focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, EditScreen))
        app.screen.query_one(TextArea).text = "edited question"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.get_screen("chat").runner is None)
        await wait_answered(pilot)
        assert texts(app) == ["edited question", "three"]
        assert isinstance(app.get_screen("chat").focused, Composer)  # not the chat list
        edited = app.get_screen("chat").query_one(ChatLog).boxes[0]
        assert "branch 2/2" in header(edited)
        edited.focus()
        await pilot.press("[")
        await wait_for(pilot, lambda: texts(app)[0] == "first question")
        assert texts(app) == ["first question", "one", "second question", "two"]
        # An old answer can be answered again too: r on it starts a branch there.
        old = app.screen.query_one(ChatLog).boxes[1]
        old.focus()
        await pilot.press("r")
        await wait_answered(pilot)
        assert texts(app) == ["first question", "three"]
        assert "branch 2/2" in header(app.screen.query_one(ChatLog).boxes[-1])
    [conv] = session.store.conversations()
    every = [m.content for m in session.store.all_messages(conv.id)]
    assert every == [
        "first question",
        "one",
        "second question",
        "two",
        "edited question",
        "three",
        "three",
    ]


async def test_switching_while_an_answer_streams_is_refused(make_app, session) -> None:
    app, engines = make_app(answers=["first answer", "second answer", LONG], token_delay=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        await send(pilot, "a long one please")
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: len(log.boxes[-1].text) > 10)
        log.boxes[1].focus()  # "second answer", branch 2/2
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: any("wait for it" in n for n in notices(app)))
        assert texts(app)[:3] == ["Hi", "second answer", "a long one please"]
        await pilot.press("escape")
        await wait_answered(pilot)
    [conv] = session.store.conversations()
    path = [m.content for m in session.store.messages(conv.id)]
    assert path[:3] == ["Hi", "second answer", "a long one please"]


async def test_a_failed_answer_answered_again_stays_as_a_branch(make_app, session) -> None:
    app, engines = make_app(answers=["a good answer"], fail_stream="the engine crashed")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hi")
        await wait_answered(pilot)
        assert "failed" in header(app.screen.query_one(ChatLog).boxes[-1])
        engines[0].fail_stream = ""
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        assert texts(app) == ["Hi", "a good answer"]
        answer = app.screen.query_one(ChatLog).boxes[-1]
        assert "branch 2/2" in header(answer)
        answer.focus()
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: any("this answer failed" in n for n in notices(app)))
        failed = app.screen.query_one(ChatLog).boxes[-1]
        assert "the engine crashed" in header(failed) and "branch 1/2" in header(failed)
        # The model never sees a failed answer: the next turn goes on without it.
        await send(pilot, "again")
        await wait_answered(pilot)
        assert [m.content for m in engines[0].requests[-1].messages] == ["Hi", "again"]
    [conv] = session.store.conversations()
    statuses = [m.status for m in session.store.all_messages(conv.id)]
    assert statuses == ["complete", "failed", "complete", "complete", "complete"]


async def test_a_branch_far_up_a_long_chat_stays_focused_after_the_step(make_app, session) -> None:
    store = session.store
    conv = store.create_conversation(model="scripted")
    first = store.add_message(conv.id, "user", "question 0")
    store.add_message(conv.id, "assistant", "answer 0")
    for n in range(1, 25):
        store.add_message(conv.id, "user", f"question {n}")
        store.add_message(conv.id, "assistant", f"answer {n}")
    store.continue_from(first.id)
    other = store.add_message(conv.id, "assistant", "another answer 0")
    store.switch_branch(other.id, -1)  # the long branch is shown
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.screen.open_conversation(conv.id)
        log = app.screen.query_one(ChatLog)
        assert log.boxes[-1].text == "answer 24"  # the newest are mounted
        for _ in range(200):  # "Show earlier messages" until the first one is mounted
            if log.boxes[0].text == "question 0":
                break
            for button in log.query("#show-earlier").results(Button):
                button.press()
            await pilot.pause(0.05)
        assert log.boxes[0].text == "question 0"
        log.boxes[1].focus()
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: texts(app) == ["question 0", "another answer 0"])
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: len(texts(app)) > 2)
        # Back on the long branch: its early answer was mounted again, and has the focus.
        focused = app.screen.focused
        assert isinstance(focused, MessageBox) and focused.text == "answer 0"
        assert "branch 1/2" in header(focused)


async def test_regenerate_answers_a_last_message_left_without_an_answer(make_app, session) -> None:
    conv = session.store.create_conversation(model="scripted")
    session.store.add_message(conv.id, "user", "first")
    session.store.add_message(conv.id, "assistant", "an old answer")
    session.store.add_message(conv.id, "user", "never answered")  # its model failed to start
    app, engines = make_app(answers=["answered now"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.screen.open_conversation(conv.id)
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        assert texts(app) == ["first", "an old answer", "never answered", "answered now"]
    assert [m.content for m in session.store.all_messages(conv.id)] == [
        "first",
        "an old answer",
        "never answered",
        "answered now",
    ]

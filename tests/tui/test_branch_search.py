"""Branches in the sidebar search and the command palette, under Pilot: a chat found only on
a branch it does not show is marked, and opens on that branch; the palette's Previous/Next
branch step the focused message's versions, or say why not."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Input, OptionList
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.message_box import MessageBox

LONG = " ".join(f"word{i}" for i in range(2000))  # streams for a minute: Esc ends it


def texts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.text for b in app.get_screen("chat").query_one(ChatLog).boxes]


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


def seed(store) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A chat whose first answer was answered again: "a pear" is on the branch not shown."""
    conv = store.create_conversation(title="Fruit talk", model="scripted")
    question = store.add_message(conv.id, "user", "pick a fruit")
    pear = store.add_message(conv.id, "assistant", "a pear")
    store.continue_from(question.id)
    store.add_message(conv.id, "assistant", "a plum")
    other = store.create_conversation(title="Soup", model="scripted")
    store.add_message(other.id, "user", "pear soup?")
    return conv.id, pear.id


def prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_a_hit_on_a_hidden_branch_is_marked_and_opens_that_branch(make_app, session) -> None:
    conv, pear = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"pear")
        options = app.screen.query_one("#conversations", OptionList)
        await wait_for(pilot, lambda: options.option_count == 2)
        assert prompts(options) == ["Soup", "Fruit talk\n  on another branch"]
        await pilot.press("enter", "down", "enter")  # to the list, the second hit, open it
        await wait_for(pilot, lambda: texts(app) == ["pick a fruit", "a pear"])
        focused = app.screen.focused
        assert isinstance(focused, MessageBox) and focused.message.id == pear
        assert any("Found on another branch" in n for n in notices(app))
        assert "branch 1/2" in str(focused.query_one(".message-header").render())
        # The branch found is the one shown from now on; searching again marks nothing.
        assert [m.content for m in session.store.messages(conv)] == ["pick a fruit", "a pear"]
        search = app.screen.query_one("#search", Input)
        search.value = "pear "
        await wait_for(pilot, lambda: prompts(options) == ["Soup", "Fruit talk"])
        # A chat whose title matches is not marked, whatever its branches say.
        search.value = "fruit"
        await wait_for(pilot, lambda: prompts(options) == ["Fruit talk"])


async def test_the_branch_mark_follows_a_branch_switch(make_app, session) -> None:
    """With a search typed, stepping to the branch that holds the words drops the chat's
    "on another branch" mark, and stepping back brings it back, with no new keystroke."""
    conv, _ = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.screen.open_conversation(conv)
        await wait_for(pilot, lambda: texts(app) == ["pick a fruit", "a plum"])
        app.screen.query_one("#search", Input).value = "pear"
        options = app.screen.query_one("#conversations", OptionList)
        await wait_for(
            pilot, lambda: prompts(options) == ["Soup", "Fruit talk\n  on another branch"]
        )
        app.screen.query_one(ChatLog).boxes[1].focus()
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: texts(app) == ["pick a fruit", "a pear"])
        await wait_for(pilot, lambda: prompts(options) == ["Soup", "Fruit talk"])
        app.screen.query_one(ChatLog).boxes[1].focus()
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: texts(app) == ["pick a fruit", "a plum"])
        await wait_for(
            pilot, lambda: prompts(options) == ["Soup", "Fruit talk\n  on another branch"]
        )


async def test_a_plain_search_hit_opens_the_chat_as_it_is(make_app, session) -> None:
    conv, _ = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"plum")
        options = app.screen.query_one("#conversations", OptionList)
        await wait_for(pilot, lambda: prompts(options) == ["Fruit talk"])
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: texts(app) == ["pick a fruit", "a plum"])
        assert not any("another branch" in n for n in notices(app))


async def palette(pilot, title: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*title)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))


async def test_palette_steps_branches_of_the_focused_message(make_app, session) -> None:
    app, _ = make_app(answers=["first answer", "second answer"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Previous branch" in titles and "Next branch" in titles
        # Nothing has another branch yet: refused, nothing changes.
        await pilot.press(*"Hi")
        await pilot.press("enter")
        await wait_answered(pilot)
        await palette(pilot, "Previous branch")
        await wait_for(pilot, lambda: any("No message here has" in n for n in notices(app)))
        app.screen.query_one(ChatLog).boxes[0].focus()
        await palette(pilot, "Previous branch")
        await wait_for(pilot, lambda: any("no other branch" in n for n in notices(app)))
        app.screen.query_one(Composer).focus()
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        assert texts(app) == ["Hi", "second answer"]
        # No message focused: the newest one with another branch steps.
        app.screen.query_one(Composer).focus()
        await palette(pilot, "Previous branch")
        await wait_for(pilot, lambda: texts(app) == ["Hi", "first answer"])
        focused = app.screen.focused
        assert isinstance(focused, MessageBox) and focused.text == "first answer"
        await palette(pilot, "Previous branch")  # the focused one is the first already
        await wait_for(pilot, lambda: any("first branch" in n for n in notices(app)))
        await palette(pilot, "Next branch")
        await wait_for(pilot, lambda: texts(app) == ["Hi", "second answer"])


async def test_palette_branch_step_is_refused_while_an_answer_streams(make_app, session) -> None:
    app, _ = make_app(answers=["first answer", "second answer", LONG], token_delay=0.03)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press(*"Hi")
        await pilot.press("enter")
        await wait_answered(pilot)
        await pilot.press("ctrl+r")
        await wait_answered(pilot)
        await pilot.press(*"more")
        await pilot.press("enter")
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: len(log.boxes[-1].text) > 10)
        log.boxes[1].focus()
        await palette(pilot, "Previous branch")
        await wait_for(pilot, lambda: any("wait for it" in n for n in notices(app)))
        assert texts(app)[:3] == ["Hi", "second answer", "more"]
        await pilot.press("escape")
        await wait_answered(pilot)

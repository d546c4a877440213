"""Each answer's figures (first token, tok/s, context fill) and the notice for earlier messages
left out of the prompt: measured, saved with the answer, shown under it, toggled by f9."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Static
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.compaction import SUMMARY
from mmchat.tui.turn_stats import DROPPED, PERF
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer


def line_text(box, name: str) -> str:  # type: ignore[no-untyped-def]
    """A box's dim line, "" where it has none (the lines are built only once they say something)."""
    found = box.query(f".{name}")
    return str(found.first(Static).render()) if found else ""


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    composer = pilot.app.screen.query_one(Composer)
    composer.text = text
    composer.focus()
    await pilot.press("enter")


def status_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#status-text", Static).render())


async def test_an_answer_keeps_its_figures_and_shows_them_until_f9_hides_them(
    make_app, session
) -> None:
    app, _ = make_app(answers=["one two three four five six"])
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "count for me please")
        await wait_answered(pilot)
        answer = app.screen.query_one(ChatLog).boxes[-1]
        [conv] = session.store.conversations()
        saved = session.store.messages(conv.id)[-1]
        perf = saved.meta[PERF]
        # The prompt is the question's four words (the scripted engine counts words).
        assert perf["prompt_tokens"] == 4 and perf["context_window"] == 2048
        assert perf["first_token_s"] > 0 and perf["tokens_per_s"] > 0
        assert "engine_rss" not in perf  # an in-process engine has no model process to measure
        assert "picture_s" not in perf  # no picture in this chat
        assert DROPPED not in saved.meta
        line = answer.query_one(".message-perf", Static)
        shown = str(line.render())
        assert "first token" in shown and "tok/s" in shown and "ctx 4/2k 0%" in shown
        assert line.display and not answer.query(".message-dropped")  # built only when needed
        assert "ctx 4/2k 0%" in status_text(app)

        await pilot.press("f9")
        await pilot.pause()
        assert app.screen.query_one(ChatLog).has_class("hide-perf"), "f9 not handled"
        assert not line.display
        await pilot.press("f9")
        await pilot.pause()
        assert line.display

        # Reopened, the answer shows the figures it was saved with.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "ctx" not in status_text(app)
        await app.screen.open_conversation(conv.id)
        await pilot.pause()
        reopened = app.screen.query_one(ChatLog).boxes[-1]
        assert str(reopened.query_one(".message-perf", Static).render()) == shown
        assert "ctx 4/2k 0%" in status_text(app)


async def test_messages_left_out_are_noted_under_each_answer_and_summed_up(
    make_app, session
) -> None:
    summary = "Ada asked about trams."
    app, engines = make_app(dropped=3, answers=["one", "two", summary, "three"])
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "first")
        await wait_answered(pilot)
        # One exchange: nothing to sum up yet, so nothing happens by itself.
        assert not app.screen.turns.compacting and len(engines[0].requests) == 1
        await send(pilot, "second")
        await wait_answered(pilot)
        log = app.screen.query_one(ChatLog)
        # The second answer left messages out: the first exchange is summed up by itself.
        await wait_for(pilot, lambda: any(b.role == "system" for b in log.boxes))
        await wait_for(pilot, lambda: not app.screen.turns.streaming)
        await wait_for(pilot, lambda: len(log.boxes) == 5)  # reopened a box at a time
        boxes = log.boxes
        assert [b.role for b in boxes] == ["user", "assistant", "user", "assistant", "system"]
        assert boxes[-1].text == summary
        notes = [line_text(b, "message-dropped") for b in boxes]
        # Once per answer, none on the person's messages.
        assert notes[0] == notes[2] == notes[4] == ""
        assert notes[1] == notes[3]
        assert notes[1].startswith("3 earlier messages no longer fit the model's window")
        [conv] = session.store.conversations()
        stored = session.store.messages(conv.id)
        assert [m.meta.get(DROPPED) for m in stored[:4]] == [None, 3, None, 3]
        assert stored[4].meta[SUMMARY]["through"] == stored[1].id
        noted = [n.message for n in app._notifications]
        assert any(n.startswith("3 earlier messages no longer fit") for n in noted)
        # The transcript says it: no toast from the turn on top of it.
        assert not any("oldest messages were left out" in n for n in noted)


async def test_auto_compact_false_leaves_compacting_to_the_key(make_app, session) -> None:
    session.settings = replace(session.settings, extra={"auto_compact": False})
    app, engines = make_app(dropped=3)
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        for text in ("first", "second", "third"):
            await send(pilot, text)
            await wait_answered(pilot)
        assert len(engines[0].requests) == 3  # the model was asked for answers only
        [conv] = session.store.conversations()
        assert "system" not in [m.role for m in session.store.messages(conv.id)]


def test_first_token_after_a_tool_counts_from_its_result() -> None:
    from mmchat.chat import ToolFinished
    from mmchat.engine.base import Delta
    from mmchat.tools.toolbox import ToolOutcome
    from mmchat.tui.turn_stats import TurnClock

    clock = TurnClock.start()
    clock.sent -= 300  # five minutes in the tool's confirm dialog, say
    clock.see(ToolFinished(ToolOutcome("calc.add", {"a": 1}, "1", "ok")))
    clock.see(Delta("It is 1."))
    figures = clock.figures(picture=False, context_window=None, engine_rss=None)
    assert figures["first_token_s"] < 300
    # Text shown before the call stays the first token.
    early = TurnClock.start()
    early.sent -= 300
    early.see(Delta("Let me add that."))
    early.see(ToolFinished(ToolOutcome("calc.add", {"a": 1}, "1", "ok")))
    assert (
        early.figures(picture=False, context_window=None, engine_rss=None)["first_token_s"] >= 300
    )

"""Compacting a long chat under Pilot: the model's summary is stored marked, shown, sent in
place of the messages it covers, and undone with `u` (scripted engine, real store)."""

from __future__ import annotations

from textual.widgets import Static
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.compaction import SUMMARY, SUMMARY_HEADING, UNDONE
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer

SUMMARY_TEXT = "The person planned a trip to Lisbon in May with two friends."


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    composer = pilot.app.screen.query_one(Composer)
    composer.text = text
    composer.focus()
    await pilot.press("enter")


def header(box) -> str:  # type: ignore[no-untyped-def]
    return str(box.query_one(".message-header", Static).render())


def system_prompt(engine) -> str:  # type: ignore[no-untyped-def]
    first = engine.requests[-1].messages[0]
    return first.content if first.role == "system" else ""


def sent_texts(engine) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.content for m in engine.requests[-1].messages if m.role != "system"]


async def test_compact_sums_up_sends_the_summary_and_u_undoes_it(make_app, session) -> None:
    answers = ["Lisbon is lovely.", "May is warm.", "Trains are easy.", SUMMARY_TEXT, "Sure."]
    app, engines = make_app(answers=answers)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        for question in ("Trip to Lisbon?", "In May?", "With two friends, by train?"):
            await send(pilot, question)
            await wait_answered(pilot)
        await pilot.press("ctrl+g")
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: any(b.role == "system" for b in log.boxes))
        await wait_for(pilot, lambda: not app.screen.turns.streaming)
        await wait_for(pilot, lambda: len(log.boxes) == 7)  # reopened a box at a time

        engine = engines[0]
        asked = engine.requests[-1].messages[-1].content
        # The model was shown the two earlier exchanges, not the last one.
        assert "Trip to Lisbon?" in asked and "May is warm." in asked
        assert "With two friends" not in asked
        [conv] = session.store.conversations()
        stored = session.store.messages(conv.id)
        summary = stored[-1]
        assert summary.role == "system" and summary.content == SUMMARY_TEXT
        assert summary.meta[SUMMARY] == {"through": stored[3].id, "count": 4}
        assert len(stored) == 7  # nothing was deleted

        boxes = log.boxes
        assert [b.role for b in boxes] == ["user", "assistant"] * 3 + ["system"]
        assert header(boxes[-1]).startswith("Summary of 4 earlier messages")
        assert boxes[-1].text == SUMMARY_TEXT
        assert all("summed up below" in header(b) for b in boxes[:4])
        assert not any("summed up below" in header(b) for b in boxes[4:])

        # The next turn sends the summary in place of the four messages it covers.
        await send(pilot, "What should we pack?")
        await wait_answered(pilot)
        assert SUMMARY_HEADING in system_prompt(engine) and SUMMARY_TEXT in system_prompt(engine)
        assert sent_texts(engine) == [
            "With two friends, by train?",
            "Trains are easy.",
            "What should we pack?",
        ]

        # u on the summary undoes it: kept in the store, no longer shown nor sent.
        summary_box = next(b for b in log.boxes if b.role == "system")
        summary_box.focus()
        await pilot.press("u")
        await wait_for(pilot, lambda: not any(b.role == "system" for b in log.boxes))
        assert session.store.message(summary.id).meta[UNDONE] is True
        assert not any("summed up below" in header(b) for b in log.boxes)
        await send(pilot, "And the weather?")
        await wait_answered(pilot)
        assert SUMMARY_TEXT not in system_prompt(engine)
        assert sent_texts(engine)[0] == "Trip to Lisbon?"


async def test_slash_compact_with_only_one_exchange_changes_nothing(make_app, session) -> None:
    app, engines = make_app()
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Hello")
        await wait_answered(pilot)
        await send(pilot, "/compact")

        def noted() -> bool:
            return any("Nothing to compact yet" in n.message for n in app._notifications)

        await wait_for(pilot, noted)
        assert app.screen.query_one(Composer).text == ""
        assert len(engines[0].requests) == 1  # the model was not asked
        [conv] = session.store.conversations()
        assert [m.role for m in session.store.messages(conv.id)] == ["user", "assistant"]


async def test_a_second_compaction_folds_in_the_first_summary(make_app, session) -> None:
    answers = ["A1.", "A2.", "Summary one.", "A3.", "A4.", "Summary two.", "A5."]
    app, engines = make_app(answers=answers)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_ready(pilot)
        log = app.screen.query_one(ChatLog)

        async def compact() -> None:
            count = sum(b.role == "system" for b in log.boxes)
            await send(pilot, "/compact")
            await wait_for(pilot, lambda: sum(b.role == "system" for b in log.boxes) > count)
            await wait_for(pilot, lambda: not app.screen.turns.streaming)

        for question in ("Q1?", "Q2?"):
            await send(pilot, question)
            await wait_answered(pilot)
        await compact()
        for question in ("Q3?", "Q4?"):
            await send(pilot, question)
            await wait_answered(pilot)
        await compact()
        asked = engines[0].requests[-1].messages[-1].content
        # The earlier summary and the messages after it, not the ones it already covers.
        assert "Summary one." in asked and "Q2?" in asked and "Q3?" in asked
        assert "Q1?" not in asked and "Q4?" not in asked
        # Both are shown and stored; the first is marked as summed up by the second.
        first, second = [b for b in log.boxes if b.role == "system"]
        assert first.text == "Summary one." and second.text == "Summary two."
        assert "summed up below" in header(first) and "u undoes" not in header(first)
        assert "u undoes" in header(second)
        [conv] = session.store.conversations()
        stored = session.store.messages(conv.id)
        assert [m.content for m in stored if m.role == "system"] == ["Summary one.", "Summary two."]
        await send(pilot, "Q5?")
        await wait_answered(pilot)
        assert "Summary two." in system_prompt(engines[0])
        assert "Summary one." not in system_prompt(engines[0])
        assert sent_texts(engines[0]) == ["Q4?", "A4.", "Q5?"]


async def test_a_second_ctrl_g_while_summing_up_is_refused(make_app, session) -> None:
    app, engines = make_app(answers=["A1.", "A2.", "Sum of it all, slowly written."])
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        for question in ("Q1?", "Q2?"):
            await send(pilot, question)
            await wait_answered(pilot)
        engines[0].token_delay = 0.05  # the summary takes a while: the second press lands in it
        await pilot.press("ctrl+g", "ctrl+g")
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: any(b.role == "system" for b in log.boxes))
        await wait_for(pilot, lambda: not app.screen.turns.streaming)
        assert len(engines[0].requests) == 3  # two answers, one summary
        [conv] = session.store.conversations()
        stored = session.store.messages(conv.id)
        assert [m.content for m in stored if m.role == "system"] == [
            "Sum of it all, slowly written."
        ]
        assert any("Wait for the answer" in n.message for n in app._notifications)


async def test_a_draft_that_would_outgrow_the_window_is_sent_after_a_summary(
    make_app, session
) -> None:
    # The scripted window is 2048 tokens and answers get 512 of them: two 800-word answers
    # make the next prompt too long to fit, so the chat is summed up before it is sent.
    long = " ".join(["word"] * 800)
    app, engines = make_app(answers=[long, long, "Q1 was answered at length.", "Short."])
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_ready(pilot)
        await send(pilot, "Q1?")
        await wait_answered(pilot)
        await send(pilot, "Q2?")
        await wait_answered(pilot)
        assert len(engines[0].requests) == 2  # the last prompt and answer still fitted
        await send(pilot, "Q3?")
        log = app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: len(engines[0].requests) == 4, timeout=20)
        await wait_answered(pilot)
        summary_request, answer_request = engines[0].requests[2:]
        assert "Q1?" in summary_request.messages[-1].content
        # The third question went out with the summary in place of the first exchange.
        assert [m.content for m in answer_request.messages if m.role != "system"] == [
            "Q2?",
            long,
            "Q3?",
        ]
        assert "Q1 was answered at length." in answer_request.messages[0].content
        roles = ["user", "assistant"] * 2 + ["system", "user", "assistant"]
        # Reopened: the newest boxes fill the view (long answers: the oldest may wait above).
        shown = [b.role for b in log.boxes]
        assert len(shown) >= 3 and shown == roles[-len(shown) :]
        assert log.boxes[-1].text == "Short."
        assert app.screen.query_one(Composer).text == ""

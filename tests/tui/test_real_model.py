"""End to end: the TUI streams a real answer from SmolLM2 through the engine process."""

from __future__ import annotations

from textual.widgets import Static
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.compaction import SUMMARY
from mmchat.config import engine_threads
from mmchat.session import make_engine, open_session
from mmchat.tui.app import MMChatApp
from mmchat.tui.turn_stats import PERF, context_fill
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer


async def test_real_smollm2_answer_streams_and_the_process_is_closed(session) -> None:
    engines = []

    def factory(name: str):  # type: ignore[no-untyped-def]
        engine = make_engine(name, quant="auto", threads=engine_threads(session.settings))
        engines.append(engine)
        return engine

    app = MMChatApp(session, model="smollm2", engine_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot, timeout=240)
        assert app.host.state == "ready", app.host.error
        composer = app.screen.query_one(Composer)
        composer.text = "Hello! What is the capital of France?"
        composer.focus()
        await pilot.press("enter")
        await wait_answered(pilot, timeout=240)
        answer = app.screen.query_one(ChatLog).boxes[-1]
        assert answer.message is not None and answer.message.status == "complete"
        assert answer.text.strip()
        proc = engines[0].proc
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None  # closed on quit: no orphan engine process
    [conv] = session.store.conversations()
    saved = session.store.messages(conv.id)[-1]
    assert saved.content == answer.text and saved.completion_tokens


async def test_real_model_figures_context_fill_and_compaction(monkeypatch) -> None:
    """Two real turns: each answer keeps its figures (the engine process's memory included) and
    the status shows the context fill; ctrl+g has SmolLM2 sum up the first exchange, and the
    next prompt carries that summary instead of it."""
    monkeypatch.setenv("MMCHAT_MAX_TOKENS", "40")  # short answers: the figures, not the prose
    session = open_session(plugins=False)
    engines = []

    def factory(name: str):  # type: ignore[no-untyped-def]
        engine = make_engine(name, quant="auto", threads=engine_threads(session.settings))
        engines.append(engine)
        return engine

    app = MMChatApp(session, model="smollm2", engine_factory=factory)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_ready(pilot, timeout=240)
            assert app.host.state == "ready", app.host.error
            for question in ("My name is Ada and I live in Lisbon.", "What is 2 + 2?"):
                composer = app.screen.query_one(Composer)
                composer.text = question
                composer.focus()
                await pilot.press("enter")
                await wait_answered(pilot, timeout=240)
            log = app.screen.query_one(ChatLog)
            answer = log.boxes[-1]
            assert answer.message is not None
            perf = answer.message.meta[PERF]
            # The engine process holds the model: far more than 50 MB resident.
            assert perf["engine_rss"] > 50 * 2**20 and perf["first_token_s"] > 0
            assert perf["context_window"] == app.host.info.context_window  # type: ignore[union-attr]
            assert perf["prompt_tokens"] == answer.message.prompt_tokens
            line = str(answer.query_one(".message-perf", Static).render())
            assert "MB" in line and "tok/s" in line and "ctx " in line
            status = str(app.screen.query_one("#status-text", Static).render())
            fill = context_fill(answer.message.prompt_tokens or 0, perf["context_window"])
            assert fill in status

            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: any(b.role == "system" for b in log.boxes), 240)
            await wait_for(pilot, lambda: not app.screen.turns.streaming, 240)
            summary = log.boxes[-1]
            assert summary.role == "system" and summary.text.strip()
            [conv] = session.store.conversations()
            stored = session.store.messages(conv.id)
            assert stored[-1].meta[SUMMARY]["through"] == stored[1].id
    finally:
        session.close()

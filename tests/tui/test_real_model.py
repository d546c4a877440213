"""End to end: the TUI streams a real answer from SmolLM2 through the engine process."""

from __future__ import annotations

from tui_helpers import wait_answered, wait_ready

from mmchat.config import engine_threads
from mmchat.session import make_engine
from mmchat.tui.app import MMChatApp
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

"""Visual pins of the main screens at fixed terminal sizes (pytest-textual-snapshot).

Update after an intended change with: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from scripted_engine import ScriptedEngine
from tui_helpers import wait_for, wait_ready

from mmchat.compaction import SUMMARY
from mmchat.session import Session
from mmchat.tui.app import MMChatApp
from mmchat.tui.turn_stats import DROPPED, PERF
from mmchat.tui.widgets.chat_log import ChatLog

ANSWER = """Here is a function:

```python
def add(a: int, b: int) -> int:
    return a + b
```

It **adds** two numbers."""


async def steady(pilot) -> None:  # type: ignore[no-untyped-def]
    """No blinking cursors: a blink mid-capture would make the picture flaky."""
    await wait_ready(pilot)
    for widget in pilot.app.screen.query("TextArea, Input"):
        widget.cursor_blink = False
    await pilot.pause()


def build(session: Session) -> MMChatApp:
    return MMChatApp(session, model="scripted", engine_factory=lambda n: ScriptedEngine(n))


def seed(session: Session) -> int:
    store = session.store
    old = store.create_conversation(title="Trip ideas for the summer", model="scripted")
    store.add_message(old.id, "user", "Where should I go?")
    conv = store.create_conversation(model="scripted")
    store.add_message(conv.id, "user", "Write an add function in Python")
    store.add_message(conv.id, "assistant", ANSWER)
    store.add_message(conv.id, "user", "And subtract?")
    stopped = store.add_message(conv.id, "assistant", "", status="streaming")
    store.finish(stopped.id, content="Sure, here is", status="stopped")
    return conv.id


def test_new_chat_80x24(snap_compare, session: Session) -> None:
    assert snap_compare(build(session), terminal_size=(80, 24), run_before=steady)


def test_conversation_120x32(snap_compare, session: Session) -> None:
    conv_id = seed(session)

    async def open_it(pilot) -> None:  # type: ignore[no-untyped-def]
        await steady(pilot)
        await pilot.app.screen.open_conversation(conv_id)
        log = pilot.app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: len(log.boxes) == 4)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.5)  # Markdown blocks finish rendering, even on a busy machine

    assert snap_compare(build(session), terminal_size=(120, 32), run_before=open_it)


def seed_long_chat(session: Session) -> int:
    """A compacted chat with fixed figures: the figures line, the left-out note, the summary."""
    store = session.store
    conv = store.create_conversation(title="Lisbon", model="scripted")
    store.add_message(conv.id, "user", "My name is Ada and I live in Lisbon.")
    first = store.add_message(conv.id, "assistant", "Lisbon is a lovely city, Ada.")
    perf = {"first_token_s": 0.42, "tokens_per_s": 31.5, "engine_rss": 1_236 * 2**20}
    store.finish(
        first.id,
        content=first.content,
        status="complete",
        meta={PERF: {**perf, "prompt_tokens": 45, "context_window": 2048}},
    )
    store.add_message(conv.id, "user", "What should I see there?")
    second = store.add_message(conv.id, "assistant", "The trams and the castle.")
    store.finish(
        second.id,
        content=second.content,
        status="complete",
        prompt_tokens=1_900,
        meta={PERF: {**perf, "prompt_tokens": 1_900, "context_window": 2048}, DROPPED: 2},
    )
    store.add_message(
        conv.id,
        "system",
        "Ada lives in Lisbon.",
        meta={SUMMARY: {"through": first.id, "count": 2}},
    )
    return conv.id


def test_long_chat_120x32(snap_compare, session: Session) -> None:
    conv_id = seed_long_chat(session)

    async def open_it(pilot) -> None:  # type: ignore[no-untyped-def]
        await steady(pilot)
        await pilot.app.screen.open_conversation(conv_id)
        log = pilot.app.screen.query_one(ChatLog)
        await wait_for(pilot, lambda: len(log.boxes) == 5)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.5)  # Markdown blocks finish rendering, even on a busy machine

    assert snap_compare(build(session), terminal_size=(120, 32), run_before=open_it)


def test_persona_picker_100x30(snap_compare, session: Session) -> None:
    async def pick(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_ready(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "PickerScreen")
        await steady(pilot)

    assert snap_compare(build(session), terminal_size=(100, 30), run_before=pick)


def test_chat_settings_100x32(snap_compare, session: Session) -> None:
    conv = session.store.create_conversation(title="Tuned", model="scripted", system="Be terse.")
    session.store.update_conversation(conv.id, temperature=0.7)

    async def settings(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_ready(pilot)
        await pilot.app.screen.open_conversation(conv.id)
        await pilot.press("f5")
        await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "ChatSettingsScreen")
        await steady(pilot)

    assert snap_compare(build(session), terminal_size=(100, 32), run_before=settings)

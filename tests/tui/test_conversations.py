"""Sidebar, personas, errors and untrusted text."""

from __future__ import annotations

from pathlib import Path

from scripted_engine import ScriptedEngine
from textual.widgets import Input, OptionList
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.config import config_dir
from mmchat.session import open_session
from mmchat.tui.app import MMChatApp
from mmchat.tui.screens.dialogs import ConfirmScreen, TextPrompt
from mmchat.tui.screens.picker import PickerScreen
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer
from mmchat.tui.widgets.sidebar import Sidebar
from mmchat.tui.widgets.status import StatusLine

HOSTILE = "[@click=app.quit]x[/] [b]bold[/b] \x1b]52;c;SGVsbG8=\x07 [link=http://x]y[/link]"


def seed(store) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    a = store.create_conversation(title="Alpha chat", model="scripted")
    store.add_message(a.id, "user", "alpha question")
    store.add_message(a.id, "assistant", "alpha answer")
    b = store.create_conversation(title="Beta chat", model="scripted")
    store.add_message(b.id, "user", "beta question")
    return a.id, b.id


async def test_switching_conversations_shows_their_messages(make_app, session) -> None:
    alpha, beta = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        options = app.screen.query_one("#conversations", OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(2)] == [
            "Beta chat",
            "Alpha chat",
        ]
        options.focus()
        options.highlighted = 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.conversation_id == alpha)
        texts = [b.text for b in app.screen.query_one(ChatLog).boxes]
        assert texts == ["alpha question", "alpha answer"]
        options.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.conversation_id == beta)
        assert [b.text for b in app.screen.query_one(ChatLog).boxes] == ["beta question"]


async def test_search_filters_the_sidebar(make_app, session) -> None:
    seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+f")
        await pilot.press(*"alpha")
        options = app.screen.query_one("#conversations", OptionList)
        await wait_for(pilot, lambda: options.option_count == 1)
        assert str(options.get_option_at_index(0).prompt) == "Alpha chat"
        await pilot.press("enter", "enter")  # to the list, then open the match
        await wait_for(pilot, lambda: app.screen.conversation_id is not None)
        assert [b.text for b in app.screen.query_one(ChatLog).boxes][0] == "alpha question"


async def test_rename_and_delete_with_confirm(make_app, session) -> None:
    alpha, beta = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(alpha)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        app.screen.query_one(Input).value = "Renamed chat"
        await pilot.press("enter")
        await wait_for(pilot, lambda: session.store.conversation(alpha).title == "Renamed chat")
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # cancel keeps it
        await pilot.pause()
        assert session.store.conversation(alpha)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(session.store.conversations()) == 1)
        assert app.screen.conversation_id is None
        assert [c.id for c in session.store.conversations()] == [beta]


async def test_list_keys_act_on_the_highlighted_chat_and_ctrl_n_starts_afresh(
    make_app, session
) -> None:
    alpha, beta = seed(session.store)
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(alpha)
        await pilot.pause()
        options = app.screen.query_one("#conversations", OptionList)
        assert options.highlighted == 1  # the open chat is marked in the list
        options.focus()
        options.highlighted = 0  # Beta, while Alpha is open
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPrompt))
        app.screen.query_one(Input).value = "Beta renamed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: session.store.conversation(beta).title == "Beta renamed")
        assert session.store.conversation(alpha).title == "Alpha chat"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.conversation_id is None)
        assert app.screen.query_one(ChatLog).boxes == []
        assert app.screen.query_one(Composer).has_focus
        sidebar = app.screen.query_one(Sidebar)
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display


async def test_f4_edits_the_last_message_and_ctrl_l_lists_models(make_app) -> None:
    app, _ = make_app(answers=["an answer"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        composer = app.screen.query_one(Composer)
        composer.text = "my question"
        await pilot.press("enter")
        await wait_answered(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "EditScreen")
        assert "my question" in app.screen.query_one("TextArea").text  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert "scripted" in [c.value for c in app.screen.choices]  # type: ignore[attr-defined]


async def test_persona_switch_shows_greeting_and_is_stored(session_with_persona) -> None:
    session = session_with_persona
    app = MMChatApp(session, model="scripted", engine_factory=lambda n: ScriptedEngine(n))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press(*"desk")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.get_screen("chat").persona.name == "helpdesk")
        chat = app.get_screen("chat")
        greeting = chat.query_one(ChatLog).query(".greeting").first()
        assert "Welcome to the help desk" in greeting.text
        assert "helpdesk" in str(chat.query_one("#status-text").render())
        composer = chat.query_one(Composer)
        composer.text = "my printer is broken"
        composer.focus()
        await pilot.press("enter")
        await wait_answered(pilot)
    [conv] = session.store.conversations()
    assert conv.persona == "helpdesk"
    assert session.store.messages(conv.id)[-1].persona == "helpdesk"


async def test_model_load_failure_is_a_notification(make_app) -> None:
    app, _ = make_app(fail_load="out of memory while loading [/] weights")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        assert app.host.state == "failed"
        messages = [n.message for n in app._notifications]
        assert any("out of memory while loading [/] weights" in m for m in messages)
        assert "not loaded" in str(
            app.screen.query_one(StatusLine).query_one("#status-text").render()
        )
        composer = app.screen.query_one(Composer)
        composer.text = "hello?"
        composer.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert composer.text == "hello?"  # the draft is kept


async def test_cancel_a_slow_load_keeps_the_ui_usable(make_app, session) -> None:
    import threading

    seed(session.store)
    gate = threading.Event()
    app, engines = make_app(load_gate=gate)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.host.state == "loading")
        await app.screen.open_conversation(session.store.conversations()[0].id)
        assert app.screen.query_one(ChatLog).boxes  # history browsable while loading
        await pilot.press("escape")
        await wait_for(pilot, lambda: engines and engines[0].closed)
        assert app.host.state == "failed"
    gate.set()


async def test_hostile_text_is_shown_as_text(make_app, session) -> None:
    conv = session.store.create_conversation(title=HOSTILE, model="scripted")
    session.store.add_message(conv.id, "user", HOSTILE)
    session.store.add_message(conv.id, "assistant", HOSTILE)
    app, _ = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await app.screen.open_conversation(conv.id)
        await pilot.pause()
        title = str(app.screen.query_one(Sidebar).options.get_option_at_index(0).prompt)
        assert "[@click=app.quit]" in title and "\x1b" not in title
        boxes = app.screen.query_one(ChatLog).boxes
        assert all("\x1b" not in b.text and "\x07" not in b.text for b in boxes)
        assert app.is_running


async def test_command_palette_lists_the_actions(make_app) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("New chat", "Attach image", "Switch persona", "Switch model", "Stop"):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


def _write_persona(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpdesk.toml").write_text(
        'name = "helpdesk"\n'
        'description = "IT help desk"\n'
        'system_prompt = "You are a help desk agent."\n'
        'greeting = "Welcome to the help desk! What broke?"\n',
        encoding="utf-8",
    )


import pytest  # noqa: E402


@pytest.fixture
def session_with_persona():  # type: ignore[no-untyped-def]
    _write_persona(config_dir() / "personas")
    session = open_session(plugins=False)
    yield session
    session.close()


async def test_long_conversations_open_with_the_newest_page(make_app, session) -> None:
    from textual.widgets import Button

    from mmchat.tui.widgets.chat_log import PAGE

    conv = session.store.create_conversation(title="long", model="scripted")
    for i in range(PAGE + 5):
        session.store.add_message(conv.id, "user", f"message {i}")
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await app.screen.open_conversation(conv.id)
        log = app.screen.query_one(ChatLog)
        assert [b.text for b in log.boxes][-1] == f"message {PAGE + 4}"
        assert len(log.boxes) < PAGE + 5
        log.query_one("#show-earlier", Button).press()  # scrolled out of view: press it
        await wait_for(
            pilot, lambda: log.boxes[0].text == "message 0" and not log.query("#show-earlier")
        )
        shown = [b.text for b in log.boxes]  # a run ending at the newest, none left out
        assert shown == [f"message {i}" for i in range(len(shown))]


CITATIONS = [
    {"n": 1, "source": "/docs/router.md", "title": "Router manual", "location": "Resetting"},
    {"n": 2, "source": "/docs/[b]x[/b].md", "title": HOSTILE, "location": ""},
]


def sources_text(box) -> str:  # type: ignore[no-untyped-def]
    from textual.widgets import Static

    found = box.query(".message-sources")  # built only for an answer that cites
    return str(found.first(Static).render()) if found and found.first().display else ""


async def test_an_answer_shows_the_sources_it_cites(make_app, session) -> None:
    conv = session.store.create_conversation(title="Cited", model="scripted")
    session.store.add_message(conv.id, "user", "how do I reset it?")
    session.store.add_message(
        conv.id, "assistant", "Hold RESET for 12 s [1].", meta={"citations": CITATIONS}
    )
    session.store.add_message(conv.id, "user", "thanks")
    session.store.add_message(conv.id, "assistant", "You are welcome.")
    app, _ = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        options = app.screen.query_one("#conversations", OptionList)
        options.focus()
        options.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.conversation_id == conv.id)
        await pilot.pause()
        boxes = app.screen.query_one(ChatLog).boxes
        cited = sources_text(boxes[1])
        assert cited.splitlines()[:2] == [
            "Sources",
            "[1] Router manual, Resetting (/docs/router.md)",
        ]
        assert "[b]x[/b].md" in cited and "[@click=app.quit]" in cited  # text, not markup
        assert sources_text(boxes[0]) == "" and sources_text(boxes[3]) == ""


async def test_a_streamed_answer_gets_its_sources_when_it_is_saved(make_app, session) -> None:
    app, _ = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press(*"hello", "enter")
        await wait_answered(pilot)
        box = app.screen.query_one(ChatLog).boxes[-1]
        assert sources_text(box) == ""
        saved = session.store.add_message(
            app.screen.conversation_id, "assistant", box.text, meta={"citations": CITATIONS[:1]}
        )
        await box.finish(saved)
        await pilot.pause()
        assert "[1] Router manual, Resetting (/docs/router.md)" in sources_text(box)

"""Per-chat settings: the dialog, what a turn is asked with, and what reopening a chat restores."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripted_engine import ScriptedEngine
from textual.widgets import Input, Static, TextArea
from tui_helpers import wait_answered, wait_for, wait_ready

from mmchat.config import config_dir
from mmchat.session import open_session
from mmchat.tui.app import MMChatApp
from mmchat.tui.screens.chat_settings import ChatSettingsScreen
from mmchat.tui.widgets.composer import Composer


async def send(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    composer = pilot.app.get_screen("chat").query_one(Composer)
    composer.text = text
    composer.focus()
    await pilot.press("enter")
    await wait_answered(pilot)


def system_prompt(engine: ScriptedEngine) -> str:
    first = engine.requests[-1].messages[0]
    return first.content if first.role == "system" else ""


async def fill(pilot, **fields: str) -> None:  # type: ignore[no-untyped-def]
    dialog = pilot.app.screen
    for name, value in fields.items():
        if name == "system":
            dialog.query_one("#settings-system", TextArea).text = value
        else:
            dialog.query_one(f"#settings-{name}", Input).value = value
    await pilot.press("ctrl+s")


async def test_settings_dialog_sets_what_the_model_is_asked_with(make_app, session) -> None:
    app, engines = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatSettingsScreen))
        model_field = app.screen.query_one("#settings-model", Input)
        assert model_field.value == "scripted"  # the model the chat answers with
        # Out of range: a one-line error, the dialog stays open with what was typed.
        await fill(pilot, system="Answer in French.", temperature="7", max_tokens="64")
        error = app.screen.query_one("#settings-error", Static)
        assert "Temperature must be between" in str(error.render())
        assert app.screen.query_one("#settings-max_tokens", Input).value == "64"
        await fill(pilot, temperature="0.7", top_p="0.9")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChatSettingsScreen))
        await send(pilot, "Bonjour")
    request = engines[0].requests[-1]
    assert (request.temperature, request.top_p, request.max_new_tokens) == (0.7, 0.9, 64)
    assert system_prompt(engines[0]).endswith("Answer in French.")
    [conv] = session.store.conversations()  # a new chat keeps them when it is stored
    assert (conv.system, conv.temperature, conv.top_p, conv.max_tokens) == (
        "Answer in French.",
        0.7,
        0.9,
        64,
    )


async def test_reopening_a_chat_restores_its_model_and_settings(make_app, session) -> None:
    store = session.store
    plain = store.create_conversation(title="Plain", model="scripted")
    store.add_message(plain.id, "user", "hi")
    tuned = store.create_conversation(title="Tuned", model="other-model", system="Be terse.")
    store.update_conversation(tuned.id, temperature=1.2, top_p=0.5, max_tokens=32)
    store.add_message(tuned.id, "user", "hello")
    app, engines = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.screen.open_conversation(tuned.id)
        await wait_for(pilot, lambda: app.host.name == "other-model" and app.host.ready)
        await send(pilot, "and again")
        await app.screen.open_conversation(plain.id)
        await wait_for(pilot, lambda: app.host.name == "scripted" and app.host.ready)
        await send(pilot, "plain again")
    by_name = {e.name: e for e in engines}
    tuned_request = by_name["other-model"].requests[-1]
    assert (tuned_request.temperature, tuned_request.top_p) == (1.2, 0.5)
    assert tuned_request.max_new_tokens == 32
    assert system_prompt(by_name["other-model"]).endswith("Be terse.")
    plain_request = engines[-1].requests[-1]
    assert plain_request.temperature == session.settings.temperature
    assert plain_request.max_new_tokens == session.settings.max_tokens
    assert "Be terse." not in system_prompt(engines[-1])


async def test_model_chosen_for_a_chat_is_saved_with_it(make_app, session) -> None:
    conv = session.store.create_conversation(title="Chat", model="scripted")
    session.store.add_message(conv.id, "user", "hi")
    app, _ = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.screen.open_conversation(conv.id)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatSettingsScreen))
        await fill(pilot, model="another-model")
        await wait_for(pilot, lambda: app.host.name == "another-model" and app.host.ready)
    assert session.store.conversation(conv.id).model == "another-model"


def _write_persona(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "poet.toml").write_text(
        'name = "poet"\n'
        'system_prompt = "You answer in verse."\n'
        'model = "poet-model"\n'
        "temperature = 0.9\n"
        "top_p = 0.8\n"
        "max_tokens = 40\n",
        encoding="utf-8",
    )


@pytest.fixture
def poet_session():  # type: ignore[no-untyped-def]
    _write_persona(config_dir() / "personas")
    session = open_session(plugins=False)
    yield session
    session.close()


async def test_a_personas_model_and_sampling_apply(poet_session) -> None:
    engines: list[ScriptedEngine] = []

    def factory(name: str) -> ScriptedEngine:
        engines.append(ScriptedEngine(name))
        return engines[-1]

    app = MMChatApp(poet_session, model="scripted", engine_factory=factory)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        await app.get_screen("chat").chat.set_persona("poet")
        await wait_for(pilot, lambda: app.host.name == "poet-model" and app.host.ready)
        await send(pilot, "the sea")
    request = engines[-1].requests[-1]
    assert engines[-1].name == "poet-model"
    assert (request.temperature, request.top_p, request.max_new_tokens) == (0.9, 0.8, 40)
    [conv] = poet_session.store.conversations()
    assert (conv.persona, conv.model) == ("poet", "poet-model")


async def test_palette_offers_the_chat_settings(make_app) -> None:
    app, _ = make_app()
    async with app.run_test(size=(100, 30)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Chat settings" in titles

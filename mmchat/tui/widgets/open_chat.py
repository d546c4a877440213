"""The open chat: which conversation is shown, in whose voice, with which model and settings;
switching to another.

It holds the chat's state and the turn flow (log and draft) that works on it, and posts
`Switched` so the screen can mark the conversation in the list and refresh the status line.
Opening a chat restores its persona, settings and model (loading it when another is loaded);
a persona that names a model loads it too. A long chat's messages are read off the UI thread and
shown in steps (ChatLog.show_in_steps); every opening has a number, and a load whose number is
no longer the latest stops before it mounts anything, so switching chats quickly shows the last
one picked only.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from mmchat.personas import Persona
from mmchat.store import Message as StoredMessage
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tui.app_services import AppServices, services
from mmchat.tui.chat_settings import ChatSettings, defaults_for
from mmchat.tui.chat_state import ChatState
from mmchat.tui.code_lexers import languages_in, warm
from mmchat.tui.notify import fail, warn
from mmchat.tui.persona_choice import model_picker, persona_picker, switched_note
from mmchat.tui.screens.chat_settings import ChatSettingsScreen
from mmchat.tui.widgets.chat_log import AT_ONCE, PAGE, ChatLog
from mmchat.tui.widgets.turn_flow import TurnFlow

BUSY = "An answer is streaming: press Esc to stop it first"


class OpenChat(Vertical):
    class Switched(Message):
        """Another conversation (or persona) is shown."""

    def __init__(self, persona: Persona) -> None:
        super().__init__(id="chat")
        self.state = ChatState(persona, persona)
        self.turns = TurnFlow(self.state, reopen=self.open)
        self._opening = 0  # bumped by every opening: an older one still loading stops

    def compose(self) -> ComposeResult:
        yield self.turns

    @property
    def mm(self) -> AppServices:
        return services(self)

    def busy(self) -> bool:
        """True (and says so) while an answer streams: switching waits for it."""
        if self.turns.streaming:
            self.notify(BUSY, severity="warning")
        return self.turns.streaming

    async def show_new(self, *, keep_settings: bool = False) -> None:
        if not keep_settings:  # as `mmchat ask` starts a chat: with the configured system prompt
            self.state.chat = ChatSettings(system=self.mm.settings.system or None)
        self._opening += 1
        opening = self._opening
        self.state.conversation_id = None
        self.turns.prompt_tokens, self.turns.summed_up = None, False
        persona = self.state.persona
        greeting = persona.render_greeting()
        await self.query_one(ChatLog).show(
            [],
            self.mm.store.blob,
            label=self.state.label,
            greeting=greeting,
            greeter=persona.name,
            empty_hint="" if greeting else "New chat. Type a message below and press Enter.",
            current=lambda: opening == self._opening,
        )
        self.post_message(self.Switched())

    async def new_chat(self) -> None:
        """A new chat, with the default persona unless this one is new as well."""
        if self.busy():
            return
        if self.state.conversation_id is not None:
            self.state.persona = self.state.default_persona
        await self.show_new()
        self.use_model(self.state.persona.model, f"persona {self.state.persona.name}'s model")

    def select(self, conv_id: int) -> None:
        """Open the chat picked in the list, in a worker: the list is free at once, and picking
        another one meanwhile stops this one (by its number: never cancelled halfway through
        changing the log)."""
        self.run_worker(self.open(conv_id), group="open-chat")

    async def open(self, conv_id: int) -> None:
        """Show the conversation (done when its newest page is shown, or when another opening
        took over). Its persona, settings and model are the open chat's at once, so a message
        typed while a long one loads goes to it."""
        if self.busy():
            return
        self._opening += 1
        opening = self._opening
        store = self.mm.store
        try:
            conv = store.conversation(conv_id)
            # A short chat is a few rows: read and shown in one step, as it always was.
            messages = store.messages(conv_id) if conv.message_count <= AT_ONCE else None
        except Exception as exc:
            fail(self, exc)
            return
        self.state.conversation_id = conv_id
        self.state.persona = self._persona_named(conv.persona)
        self.state.chat = ChatSettings.of(conv)
        self.turns.prompt_tokens, self.turns.summed_up = None, False
        log = self.query_one(ChatLog)
        if messages is not None:
            self.turns.prompt_tokens = _last_prompt(messages)
            await log.show(
                messages,
                store.blob,
                label=self.state.label,
                current=lambda: opening == self._opening,
            )
            self.post_message(self.Switched())
            self.use_model(conv.model, "this chat's model")
            return
        placeholder = await log.show_placeholder(conv.message_count)
        self.post_message(self.Switched())
        self.use_model(conv.model, "this chat's model")
        try:
            messages = await asyncio.to_thread(_read_messages, store.path, conv_id)
        except Exception as exc:
            if opening == self._opening:
                fail(self, exc)
                await log.show([], store.blob, label=self.state.label)  # not the placeholder
            return
        if opening != self._opening:
            return
        self.turns.prompt_tokens = _last_prompt(messages)
        self.post_message(self.Switched())  # the status line's context fill
        await log.show_in_steps(
            placeholder,
            messages,
            store.blob,
            label=self.state.label,
            current=lambda: opening == self._opening,
        )

    def use_model(self, name: str | None, why: str) -> None:
        """Load `name` unless it is the model loaded (or loading) already."""
        if not name or name == self.mm.host.name:
            return
        if self.turns.streaming:  # the answer needs the engine it started on
            warn(self, f"{why} is {name}: switch with ctrl+l when the answer is done")
            return
        self.notify(f"Loading {one_line(name, 60)} ({one_line(why, 60)})", markup=False)
        self.mm.load_model(name)

    def _persona_named(self, name: str | None) -> Persona:
        try:
            return self.mm.personas.get(name)
        except Exception:
            default = self.state.default_persona.name
            warn(self, f"persona {one_line(name or '', 40)!r} is not installed; using {default}")
            return self.state.default_persona

    async def set_persona(self, name: str) -> None:
        try:
            persona = self.mm.personas.get(name)
            if self.state.conversation_id is not None:
                self.mm.store.update_conversation(self.state.conversation_id, persona=persona.name)
        except Exception as exc:
            fail(self, exc)
            return
        self.state.persona = persona
        if self.state.conversation_id is None:
            self.state.default_persona = persona
            await self.show_new(keep_settings=True)
        else:
            self.post_message(self.Switched())
        self.notify(switched_note(persona), markup=False)
        self.set_model(persona.model, f"persona {persona.name}'s model")

    def set_model(self, name: str | None, why: str) -> None:
        """This chat answers with `name` from now on: saved with it, loaded if need be."""
        if not name:
            return
        conv_id = self.state.conversation_id
        try:
            if conv_id is not None:
                self.mm.store.update_conversation(conv_id, model=name)
        except Exception as exc:
            fail(self, exc)
            return
        self.state.chat = replace(self.state.chat, model=name)
        self.use_model(name, why)

    @work(group="dialogs")
    async def edit_settings(self) -> None:
        """The chat settings dialog; saved with the chat (a new one keeps them until stored)."""
        mm, state = self.mm, self.state
        current = replace(state.chat, model=state.chat.model or mm.host.name)
        defaults = defaults_for(mm.settings, state.persona)
        models = [c.value for c in mm.model_choices()]
        dialog = ChatSettingsScreen(current, defaults=defaults, models=models)
        chosen = await self.app.push_screen_wait(dialog)
        if chosen is None:
            return
        try:
            if state.conversation_id is not None:
                mm.store.update_conversation(state.conversation_id, **chosen.columns())
        except Exception as exc:
            fail(self, exc)
            return
        state.chat = replace(chosen, model=state.chat.model)
        self.notify("Chat settings saved")
        if chosen.model != current.model:
            self.set_model(chosen.model, "chosen in the chat settings")

    @work(group="dialogs")
    async def pick_persona(self) -> None:
        picker = persona_picker(self.mm.personas, self.state.persona.name)
        if (name := await self.app.push_screen_wait(picker)) is not None:
            await self.set_persona(name)

    @work(group="dialogs")
    async def pick_model(self) -> None:
        if self.busy():
            return
        picker = model_picker(self.mm.model_choices(), self.mm.host.name)
        if name := await self.app.push_screen_wait(picker):
            self.set_model(name, "chosen")
            if name == self.mm.host.name and self.mm.host.state != "ready":
                self.mm.load_model(name)  # picking the same one again retries a failed load


def _read_messages(path: Path, conv_id: int) -> list[StoredMessage]:
    """Run in a thread: the store's connection belongs to the UI thread, so this reads through
    one of its own, read-only."""
    with Store(path, readonly=True) as store:
        messages = store.messages(conv_id)
    # The code blocks of what is shown first are highlighted with their lexers ready.
    warm(languages_in(m.content for m in messages[-2 * PAGE :]))
    return messages


def _last_prompt(messages: list[StoredMessage]) -> int | None:
    """The last answer's prompt size: the context fill the status line shows."""
    return next((m.prompt_tokens for m in reversed(messages) if m.prompt_tokens), None)

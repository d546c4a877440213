"""The open chat: which conversation is shown and in whose voice; switching to another.

It holds the chat's state and the turn flow (log and draft) that works on it, and posts
`Switched` so the screen can mark the conversation in the list and refresh the status line.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from mmchat.personas import Persona
from mmchat.text import one_line
from mmchat.tui.app_services import AppServices, services
from mmchat.tui.chat_state import ChatState
from mmchat.tui.notify import fail, warn
from mmchat.tui.persona_choice import model_picker, persona_picker, switched_note
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.turn_flow import TurnFlow

BUSY = "An answer is streaming: press Esc to stop it first"


class OpenChat(Vertical):
    class Switched(Message):
        """Another conversation (or persona) is shown."""

    def __init__(self, persona: Persona) -> None:
        super().__init__(id="chat")
        self.state = ChatState(persona, persona)
        self.turns = TurnFlow(self.state, reopen=self.open)

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

    async def show_new(self) -> None:
        self.state.conversation_id = None
        persona = self.state.persona
        greeting = persona.render_greeting()
        await self.query_one(ChatLog).show(
            [],
            self.mm.store.blob,
            label=self.state.label,
            greeting=greeting,
            greeter=persona.name,
            empty_hint="" if greeting else "New chat. Type a message below and press Enter.",
        )
        self.post_message(self.Switched())

    async def new_chat(self) -> None:
        """A new chat, with the default persona unless this one is new as well."""
        if self.busy():
            return
        if self.state.conversation_id is not None:
            self.state.persona = self.state.default_persona
        await self.show_new()

    async def open(self, conv_id: int) -> None:
        if self.busy():
            return
        store = self.mm.store
        try:
            conv = store.conversation(conv_id)
            messages = store.messages(conv_id)
        except Exception as exc:
            fail(self, exc)
            return
        self.state.conversation_id = conv_id
        self.state.persona = self._persona_named(conv.persona)
        await self.query_one(ChatLog).show(messages, store.blob, label=self.state.label)
        self.post_message(self.Switched())

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
            await self.show_new()
        else:
            self.post_message(self.Switched())
        self.notify(switched_note(persona, self.mm.host.name), markup=False)

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
            self.mm.load_model(name)

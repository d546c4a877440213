"""The open chat: which conversation and whose voice; shared by the screen and its widgets."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmchat.images import CheckedImage
from mmchat.personas import Persona
from mmchat.store import Message as StoredMessage
from mmchat.store import Store
from mmchat.text import one_line
from mmchat.tui.chat_settings import ChatSettings


@dataclass
class ChatState:
    persona: Persona
    default_persona: Persona  # a new chat starts with it
    conversation_id: int | None = None  # None: a new chat, stored when the first message is sent
    chat: ChatSettings = field(default_factory=ChatSettings)  # this chat's own settings

    def label(self, message: StoredMessage) -> str:
        """The name shown over a stored message: who answered it, else the current persona."""
        return message.persona or self.persona.name

    def ensure_stored(
        self, store: Store, model: str, text: str, images: list[CheckedImage]
    ) -> bool:
        """Store a new chat before its first message; True when one was created."""
        if self.conversation_id is not None:
            return False
        # Titled now (as the store would title it) so the sidebar lists it at once.
        title = one_line(text, 60) or (images[0].name if images else "")
        conv = store.create_conversation(title=title, model=model, persona=self.persona.name)
        if any(v is not None for v in self.chat.columns().values()):
            store.update_conversation(conv.id, **self.chat.columns())
        self.conversation_id = conv.id
        return True

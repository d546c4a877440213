"""A plugin's redaction of the person's words holds for every later turn of the conversation.

The example plugin replaces e-mail addresses for the "pirate" persona. History is sent again on
each turn, so the redacted text, not the typed one, must be what later prompts carry, whichever
engine (a plugin's included: it gets the same request) and whichever persona answers them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from recording_engine import RecordingEngine

from mmchat.chat import Turn, TurnDone
from mmchat.personas import Persona
from mmchat.plugin_manager import load_plugins
from mmchat.store import Store

pytestmark = pytest.mark.reliability

ADDRESS = "jo.doe@example.com"


def test_redaction_holds_in_later_turns(tmp_path: Path) -> None:
    pytest.importorskip("mmchat_example_plugin")
    plugins = load_plugins(allow=["example"])
    engine = RecordingEngine()
    pirate = Persona(name="pirate", system_prompt="Arr.")
    plain = Persona(name="plain")
    with Store(tmp_path / "chat.db") as store:
        conv = store.create_conversation(persona="pirate")
        events = list(Turn(store, engine, plugins, pirate).send(conv.id, f"Mail {ADDRESS} now"))
        assert isinstance(events[-1], TurnDone)
        list(Turn(store, engine, plugins, pirate).send(conv.id, "Did you get it?"))
        # Another persona, without the redacting rule, answers the same conversation later.
        list(Turn(store, engine, plugins, plain).send(conv.id, "And now?"))
        first = store.messages(conv.id)[0]
        assert first.content == f"Mail {ADDRESS} now"  # the person's own record keeps it

        assert engine.requests[0].messages[-1].content == "Mail [email] now"
        for request in engine.requests:
            sent = [m.content for m in request.messages]
            assert not any(ADDRESS in text for text in sent), sent
        assert [m.content for m in engine.requests[2].messages] == [
            "Mail [email] now",
            "Noted.",
            "Did you get it?",
            "Noted.",
            "And now?",
        ]

        # Edited, the message is sent as edited: the old rewrite belonged to the old words.
        store.edit_message(first.id, "Call me instead")
        store.delete_messages_from(first.id + 1)
        list(Turn(store, engine, plugins, plain).answer(conv.id))
        assert engine.requests[-1].messages[-1].content == "Call me instead"

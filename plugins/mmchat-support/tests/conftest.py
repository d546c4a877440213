"""mmchat-support's tests run with this plugin alone, in a home of their own.

The converted model cache is shared with mmchat's own tests (converting takes ~25 s).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from mmchat_support.delivery import COURIER
from mmchat_support.personas import SUPPORT

from mmchat.hooks import Persona, PromptContext, Tickets
from mmchat.store import Store

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def support_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("MMCHAT_HOME", str(home))
    cache = REPO / ".mmchat-test" / "cache" if (REPO / "mmchat").is_dir() else home / "cache"
    monkeypatch.setenv("MMCHAT_CACHE_DIR", os.environ.get("MMCHAT_TEST_CACHE", str(cache)))
    monkeypatch.setenv("MMCHAT_PLUGINS", "support")  # whatever else is installed
    for name in (
        "MMCHAT_DATA_DIR",
        "MMCHAT_CONFIG_DIR",
        "MMCHAT_DB",
        "MMCHAT_MODEL",
        "MMCHAT_NO_PLUGINS",
        "MMCHAT_PERSONA",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def no_delivery_left_running() -> object:
    """A test's background delivery finishes inside that test."""
    yield
    COURIER.wait(timeout=30)


Conversation = Callable[..., PromptContext]


@pytest.fixture
def conversation(support_home: Path) -> Conversation:
    """A real conversation in the test's database, ready for the customer's next message.

    conversation("text", history=[(role, text), ...], persona=..., conv=id) stores the history
    and the message, and returns the PromptContext a turn would build.
    """
    path = support_home / "data" / "mmchat.db"

    def make(
        text: str,
        history: list[tuple[str, str]] | None = None,
        persona: Persona = SUPPORT,
        conv: int | None = None,
    ) -> PromptContext:
        history = history or []
        with Store(path) as store:
            if conv is None:
                conv = store.create_conversation(persona=persona.name).id
            earlier = [(m.role, m.content) for m in store.messages(conv)]
            for role, said in history:
                store.add_message(conv, role, said)
            store.add_message(conv, "user", text)
        return PromptContext(
            conversation_id=conv,
            persona=persona,
            user_text=text,
            history=earlier + history,
            tickets=Tickets(path),
        )

    return make

"""`mmchat_retrieve`: plugins offer passages for the persona's knowledge bases on each turn.

Prompt shape with a recording engine in-process (it keeps what the model was sent); end to end
through the real CLI with the example plugin's FAQ and deterministic engine, whose answer
quotes the first passage it was given, so the passage is seen to reach the model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plugins_api_helpers import mmchat
from recording_engine import RecordingEngine

from mmchat.chat import PASSAGES_RULE, Notice, Turn, TurnOptions, format_passages
from mmchat.hooks import FinishedTurn, Passage, Persona, hookimpl
from mmchat.plugin_manager import PluginManager, load_plugins
from mmchat.store import Store

HELPDESK = Persona(name="helpdesk", system_prompt="Help.", knowledge_bases=("example-faq",))
QUESTION = "How long do refunds take?"
FAQ = Passage(
    "Refunds take 5 working days to reach your account.",
    "https://example.com/faq",
    title="Example FAQ",
    location="Refunds",
    score=1.0,
    knowledge_base="example-faq",
)


class HookRetrieve:
    """An mmchat_retrieve plugin that also returns the FAQ passage (to be left out once)."""

    passages: tuple[Passage, ...] = ()

    @hookimpl
    def mmchat_retrieve(self, query: str) -> list[Passage]:
        return [Passage("From the hook.", "/kb/hook.md"), FAQ]

    @hookimpl
    def mmchat_turn_finished(self, turn: FinishedTurn) -> None:
        HookRetrieve.passages = turn.passages


class Broken:
    calls = 0

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    @hookimpl
    def mmchat_retrieve(self, query: str) -> Any:
        Broken.calls += 1
        if self.behaviour == "raises":
            raise RuntimeError("index is gone")
        if self.behaviour == "hangs":
            threading.Event().wait(5)
        return "not passages"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "chat.db") as store:
        yield store


def run_turn(
    store: Store,
    plugins: PluginManager,
    persona: Persona = HELPDESK,
    text: str = QUESTION,
    use_plugins_context: bool = True,
) -> tuple[RecordingEngine, list[Any]]:
    engine = RecordingEngine()
    conv = store.create_conversation(persona=persona.name)
    options = TurnOptions(model="recording", use_plugins_context=use_plugins_context)
    events = list(Turn(store, engine, plugins, persona, options).send(conv.id, text))
    return engine, events


def test_passages_of_two_plugins_are_quoted_once_and_cited(store: Store) -> None:
    plugins = load_plugins(allow=["example"])
    plugins.register(HookRetrieve(), "hook")
    engine, events = run_turn(store, plugins)
    hook_passage = Passage("From the hook.", "/kb/hook.md")
    system, question = engine.requests[0].messages
    assert system.content == "Help.\n\n" + PASSAGES_RULE
    # the FAQ passage came from both: quoted once, where the first plugin put it
    passages = format_passages([hook_passage, FAQ])
    assert question.content == f"{passages}\n\n{QUESTION}"
    assert events[-1].message.meta["citations"] == [
        {"n": 1, "source": "/kb/hook.md", "title": "", "location": "", "text": "From the hook."},
        {
            "n": 2,
            "source": FAQ.source,
            "title": "Example FAQ",
            "location": "Refunds",
            "text": FAQ.text,
        },
    ]
    assert HookRetrieve.passages == (hook_passage, FAQ)


def test_passages_carry_their_knowledge_base(store: Store) -> None:
    plugins = load_plugins(allow=["example"])
    plugins.register(HookRetrieve(), "hook")
    run_turn(
        store,
        plugins,
        persona=Persona(name="other", knowledge_bases=("example-faq",)),
        text="Can I reset my password?",
    )
    [passage] = [p for p in HookRetrieve.passages if p.source == FAQ.source and p != FAQ]
    assert passage.location == "Passwords" and passage.knowledge_base == "example-faq"


def test_only_for_personas_naming_the_knowledge_base_and_not_with_no_kb(store: Store) -> None:
    plugins = load_plugins(allow=["example"])
    engine, events = run_turn(store, plugins, persona=Persona(name="plain"))
    assert [m.role for m in engine.requests[0].messages] == ["user"]  # no knowledge bases
    engine, events = run_turn(store, plugins, use_plugins_context=False)
    assert engine.requests[0].messages[0].content == "Help."  # --no-kb
    assert "citations" not in events[-1].message.meta


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("raises", "RuntimeError: index is gone"),
        ("wrong", "returned str, not a list of Passage"),
        ("hangs", "HookTimeout: did not return within 0.3 s"),
    ],
)
def test_failing_retrieve_hook_is_disabled_once_and_the_turn_completes(
    store: Store, behaviour: str, error: str
) -> None:
    plugins = load_plugins(allow=["example"])
    plugins.hook_timeout = 0.3
    plugins.register(Broken(behaviour), "broken")
    persona = Persona(name="both", knowledge_bases=("broken", "example-faq"))
    Broken.calls = 0
    started = time.monotonic()
    engine, events = run_turn(store, plugins, persona)
    assert time.monotonic() - started < 3
    assert events[-1].message.status == "complete" and events[-1].message.content == "Noted."
    assert [e.text for e in events if isinstance(e, Notice)] == [
        f"plugin broken disabled (mmchat_retrieve): {error}"
    ]
    assert "Refunds take 5 working days" in engine.requests[0].messages[-1].content  # the others
    _, again = run_turn(store, plugins, persona)
    assert not [e for e in again if isinstance(e, Notice)] and Broken.calls == 1


# -- end to end ----------------------------------------------------------------------------------

PERSONA_TOML = """
name = "helpdesk"
system_prompt = "You answer questions about Example Co."
model = "example:echo"
knowledge_bases = ["example-faq"]
"""
RAISING_RETRIEVE = """
from mmchat.hooks import hookimpl


@hookimpl
def mmchat_retrieve(query, persona):
    if "gone" in persona.knowledge_bases:
        raise OSError("index file is gone")
"""


@pytest.fixture
def helpdesk(isolated_home: Path) -> Path:
    folder = isolated_home / "config" / "personas"
    folder.mkdir(parents=True)
    (folder / "helpdesk.toml").write_text(PERSONA_TOML)
    return folder / "helpdesk.toml"


def test_ask_cites_the_plugin_passage_and_the_model_sees_it(helpdesk: Path) -> None:
    result = mmchat("ask", "--persona", "helpdesk", "--json", QUESTION, plugins="example")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "example:echo" and data["status"] == "complete"
    assert data["citations"] == [
        {
            "n": 1,
            "source": FAQ.source,
            "title": "Example FAQ",
            "location": "Refunds",
            "text": FAQ.text,
        }
    ]
    # the example engine quotes the first passage of its prompt, in the engine process
    assert data["content"] == f"Echo: {QUESTION} From [1]: {FAQ.text}"
    plain = mmchat("ask", "--persona", "helpdesk", QUESTION, plugins="example")
    assert plain.stdout.splitlines()[-1] == "[1] Example FAQ, Refunds (https://example.com/faq)"
    off = mmchat("ask", "--persona", "helpdesk", "--no-kb", "--json", QUESTION, plugins="example")
    data = json.loads(off.stdout)
    assert data["citations"] == [] and data["content"] == f"Echo: {QUESTION}"


def test_ask_with_a_raising_retrieve_hook_is_one_line_and_answers(
    helpdesk: Path, local_plugins: Path
) -> None:
    (local_plugins / "gone.py").write_text(RAISING_RETRIEVE)
    helpdesk.write_text(PERSONA_TOML.replace('["example-faq"]', '["gone", "example-faq"]'))
    result = mmchat("ask", "--persona", "helpdesk", "--json", QUESTION, plugins="example,gone")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "mmchat: plugin local:gone disabled (mmchat_retrieve): OSError: index file is gone\n"
    )
    data = json.loads(result.stdout)
    assert data["status"] == "complete" and [c["location"] for c in data["citations"]] == [
        "Refunds"
    ]

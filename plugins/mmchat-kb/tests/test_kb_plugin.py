"""The plugin through mmchat's own plugin manager: cheap to load, passages for personas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import add_paths
from mmchat_kb.store import KnowledgeBase

from mmchat.hooks import Passage, Persona
from mmchat.plugin_manager import load_plugins

PERSONA = Persona(name="helper", system_prompt="Help.", knowledge_bases=("manuals", "missing"))


def retrieve(query: str, persona: Persona = PERSONA) -> list[Passage]:
    manager = load_plugins(allow=["kb"])
    results = manager.call_each("mmchat_retrieve", query=query, persona=persona)
    assert not manager.problems
    return [p for _, passages in results for p in passages]


def ingest(folder: Path) -> None:
    with KnowledgeBase.create("manuals", "all-MiniLM-L6-v2") as kb:
        add_paths(kb, get_embedder(), [folder])


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys; from mmchat.plugin_manager import load_plugins; import typer\n"
        "m = load_plugins(allow=['kb']); app = typer.Typer()\n"
        "m.call_each('register_commands', cli=app)\n"
        "heavy = {'numpy', 'torch', 'sentence_transformers', 'pypdf', 'docx'} & set(sys.modules)\n"
        "print(sorted(heavy), [g.name for g in app.registered_groups])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['kb']"


def test_persona_gets_cited_passages_and_others_get_none(docs: Path) -> None:
    ingest(docs)
    passages = retrieve("Where do visitors park?")
    assert passages and passages[0].source == str(docs / "office.txt")
    assert passages[0].citation == "office.txt, lines 1-3"
    assert passages[0].knowledge_base == "manuals"
    assert "level B2" in passages[0].text
    assert retrieve("Where do visitors park?", Persona(name="plain")) == []
    # Nothing in the documents is about this: no passage clears the relevance floor.
    assert retrieve("Who painted the Mona Lisa?") == []


def test_knowledge_base_removed_and_recreated_between_turns(docs: Path) -> None:
    ingest(docs)
    assert retrieve("How long is the Zorblax warranty?")
    KnowledgeBase.open("manuals").delete()
    assert retrieve("How long is the Zorblax warranty?") == []  # no crash, plugin not disabled
    (docs / "office.txt").unlink()
    (docs / "returns.html").unlink()
    (docs / "zorblax.md").write_text("# Zorblax\n\nThe warranty is now ten years.\n", "utf-8")
    ingest(docs)
    passages = retrieve("How long is the Zorblax warranty?")
    assert [p.text for p in passages] == ["The warranty is now ten years."]


def test_kb_commands_are_added_to_the_cli() -> None:
    app = typer.Typer()
    load_plugins(allow=["kb"]).call_each("register_commands", cli=app)
    group = app.registered_groups[0]
    assert group.name == "kb"
    names = {c.name for c in group.typer_instance.registered_commands}
    assert names == {"create", "add", "list", "search", "remove"}


def test_search_is_a_tool_for_personas_that_name_it(docs: Path) -> None:
    ingest(docs)
    manager = load_plugins(allow=["kb"])
    plugin, tool = manager.plugin_tools()["kb.search"]
    assert (
        plugin == "kb"
        and tool.safe
        and tool.parameters["required"]
        == [
            "knowledge_base",
            "query",
        ]
    )
    found = tool.run({"knowledge_base": "manuals", "query": "Where do visitors park?"})
    assert found.startswith(f"[1] office.txt, lines 1-3 ({docs / 'office.txt'})\n")
    assert "level B2" in found
    assert tool.run({"knowledge_base": "manuals", "query": "Who painted the Mona Lisa?"}) == (
        "No passage matches."
    )
    try:
        tool.run({"knowledge_base": "nope", "query": "parking"})
    except ValueError as exc:
        assert "(knowledge bases: manuals)" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("an unknown knowledge base must be an error for the model")

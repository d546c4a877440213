"""A turn's knowledge-base search runs in a process of its own (search_process.py)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from mmchat_kb import search_process
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import add_paths
from mmchat_kb.store import KnowledgeBase

from mmchat.hooks import Passage, Persona
from mmchat.plugin_manager import load_plugins

PERSONA = Persona(name="helper", system_prompt="Help.", knowledge_bases=("manuals", "missing"))
QUESTIONS = ("How long is the Zorblax warranty?", "Where do visitors park?", "refund to my card")


def retrieve(query: str) -> list[Passage]:
    manager = load_plugins(allow=["kb"])
    results = manager.call_each("mmchat_retrieve", query=query, persona=PERSONA)
    assert not manager.problems
    return [p for _, passages in results for p in passages]


@pytest.fixture
def manuals(docs: Path) -> None:
    with KnowledgeBase.create("manuals", "all-MiniLM-L6-v2") as kb:
        add_paths(kb, get_embedder(), [docs])


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")


@pytest.mark.usefixtures("manuals")
def test_passages_from_the_search_process_are_those_of_an_in_process_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MMCHAT_KB_SEARCH_PROCESS", "0")
    here = {q: retrieve(q) for q in QUESTIONS}
    monkeypatch.delenv("MMCHAT_KB_SEARCH_PROCESS")
    there = {q: retrieve(q) for q in QUESTIONS}
    assert there == here and all(here.values())
    pid = search_process.shared().pid
    assert pid is not None and pid != os.getpid()
    if Path("/proc/self/maps").exists():  # the process embedded with onnxruntime, no torch
        maps = loaded_libraries(pid)
        assert "onnxruntime" in maps and "libtorch" not in maps


@pytest.mark.usefixtures("manuals")
def test_the_process_is_kept_across_turns_and_replaced_when_it_died() -> None:
    assert retrieve(QUESTIONS[0])
    first = search_process.shared().pid
    assert retrieve(QUESTIONS[1]) and search_process.shared().pid == first
    assert first is not None
    os.kill(first, signal.SIGKILL)
    os.waitpid(first, 0)
    passages = retrieve(QUESTIONS[0])  # no plugin disabled: a fresh process answered
    assert passages and "seven years" in passages[0].text
    assert search_process.shared().pid not in (None, first)


def test_another_home_gets_its_own_process(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Knowledge bases live under MMCHAT_HOME: a process started for one never answers for
    another."""
    assert retrieve(QUESTIONS[0]) == []  # no knowledge base here yet
    first = search_process.shared().pid
    monkeypatch.setenv("MMCHAT_HOME", str(tmp_path / "other-home"))
    with KnowledgeBase.create("manuals", "all-MiniLM-L6-v2") as kb:
        add_paths(kb, get_embedder(), [docs])
    assert retrieve(QUESTIONS[0])
    assert search_process.shared().pid != first

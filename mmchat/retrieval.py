"""Knowledge sources from plugins: `register_retrievers(register)` -> register(name, retriever).

On each turn, the retrievers that the persona's `knowledge_bases` name are searched with the
person's message; their passages join those of the `mmchat_retrieve` hook and are quoted into
the prompt the same way. A retriever runs like a per-turn hook: in a helper thread, under the
hook timeout; one that raises, hangs or returns the wrong type disables its plugin, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mmchat.hooks import (
    Passage,
    PluginManager,
    Retriever,
    _call_with_deadline,
    _kind,
    is_passages,
)
from mmchat.personas import Persona

HOOK = "register_retrievers"
TOP_K = 3  # passages asked of each retriever: a small model reads a few well, many poorly


def _retriever_problem(name: str, retriever: Any) -> str | None:
    if not callable(getattr(retriever, "search", None)):
        return f"{type(retriever).__name__} has no search(query, k) method"
    return None


def plugin_retrievers(manager: PluginManager) -> dict[str, tuple[str, Retriever]]:
    """{name: (plugin, retriever)}, registered once a session; the first name wins."""
    return manager.registered(HOOK, _retriever_problem)


def search_retrievers(
    manager: PluginManager, persona: Persona, query: str, known: Sequence[Passage] = ()
) -> list[Passage]:
    """Passages from the retrievers the persona names, in its order, leaving out any already
    `known` (the same text from the same place)."""
    if not query.strip() or not persona.knowledge_bases:
        return []
    registry = plugin_retrievers(manager)
    seen = {(p.text, p.source, p.location) for p in known}
    found: list[Passage] = []
    for name in persona.knowledge_bases:
        if name not in registry:
            continue  # not a retriever: a knowledge base mmchat_retrieve plugins serve, say
        plugin, retriever = registry[name]
        for passage in _search(manager, plugin, name, retriever, query):
            key = (passage.text, passage.source, passage.location)
            if key not in seen:
                seen.add(key)
                found.append(replace(passage, knowledge_base=passage.knowledge_base or name))
    return found


def _search(
    manager: PluginManager, plugin: str, name: str, retriever: Retriever, query: str
) -> list[Passage]:
    if plugin in manager.disabled:  # an earlier retriever of the same plugin failed
        return []
    where = f"retriever {name}"
    try:
        args = {"query": query, "k": TOP_K}
        result = _call_with_deadline(retriever.search, args, manager.hook_timeout)
    except (Exception, SystemExit) as exc:
        manager.disable(plugin, where, exc)
        return []
    if not is_passages(result):
        manager.disable(plugin, where, f"returned {_kind(result)}, not a list of Passage")
        return []
    return list(result[:TOP_K])

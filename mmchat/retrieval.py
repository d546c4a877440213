"""Passages for one turn: what every plugin's `mmchat_retrieve(query, persona)` returns.

Each plugin decides from the persona (its `knowledge_bases`) whether it has anything to offer.
Passages keep hook order; one with the same text, source and location as an earlier one is
left out, so a document two plugins serve is quoted once. The hooks run under the manager's
rules: one that raises, hangs or returns anything but a list of Passage is disabled, once.
"""

from __future__ import annotations

from mmchat.hooks import Passage, Persona
from mmchat.plugin_manager import PluginManager, is_passages


def retrieve(manager: PluginManager, persona: Persona, query: str) -> list[Passage]:
    """The passages plugins offer for the person's message, without repeats."""
    found: list[Passage] = []
    seen: set[tuple[str, str, str]] = set()
    results = manager.call_each("mmchat_retrieve", expect=is_passages, query=query, persona=persona)
    for _, passages in results:
        for passage in passages:
            key = (passage.text, passage.source, passage.location)
            if key not in seen:
                seen.add(key)
                found.append(passage)
    return found

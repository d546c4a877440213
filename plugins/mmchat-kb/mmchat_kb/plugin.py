"""The mmchat plugin: the `kb` commands, and passages for personas with knowledge bases."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mmchat.hooks import Passage, Persona, PluginTool, hookimpl

if TYPE_CHECKING:  # the search modules load on the first question, not with the plugin
    from mmchat_kb.search import Hit

DEFAULT_TOP_K = 3  # a 135M model reads a few passages well, many poorly
# Below this cosine a passage is noise for MiniLM (unrelated text scores -0.1..0.15): leaving it
# out keeps a small model from answering "hello" from the manual. The top keyword hit is kept
# regardless, for codes and names embeddings do not know.
DEFAULT_MIN_SIMILARITY = 0.3
_open: dict[str, Any] = {}  # name -> KnowledgeBase, kept open across turns
_lock = threading.Lock()


@hookimpl
def register_commands(cli: Any) -> None:
    from mmchat_kb.cli import app

    cli.add_typer(app, name="kb")


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _top_k() -> int:
    return max(1, int(_env_number("MMCHAT_KB_TOP_K", DEFAULT_TOP_K)))


def _relevant(hit: Hit) -> bool:
    floor = _env_number("MMCHAT_KB_MIN_SIMILARITY", DEFAULT_MIN_SIMILARITY)
    return hit.similarity >= floor or hit.text_rank == 1


def _knowledge_base(name: str) -> Any:
    """An open knowledge base, reopened when it was removed or recreated meanwhile."""
    from mmchat_kb.paths import db_path
    from mmchat_kb.store import KnowledgeBase

    key = str(db_path(name))
    kb = _open.get(key)
    if kb is not None and not kb.alive():
        del _open[key]
        kb.close()
        kb = None
    if kb is None:
        kb = _open[key] = KnowledgeBase.open(name)
    return kb


def search_here(name: str, query: str, k: int) -> list[Hit]:
    """Search knowledge base `name` in this process (the search process runs this)."""
    from mmchat_kb.embed import get_embedder
    from mmchat_kb.search import search

    with _lock:  # one sqlite connection per knowledge base, shared across threads
        kb = _knowledge_base(name)
        return search(kb, get_embedder(kb.model), query, k=k)


def _search(name: str, query: str, k: int) -> list[Hit]:
    """A turn's search: in the search process (search_process.py), unless turned off."""
    from mmchat_kb import search_process

    if search_process.enabled():
        return search_process.shared().search(name, query, k)
    return search_here(name, query, k)


@hookimpl
def mmchat_retrieve(query: str, persona: Persona) -> list[Passage] | None:
    """Search the persona's knowledge bases with the person's message."""
    if not persona.knowledge_bases or not query.strip():
        return None
    from mmchat_kb.paths import KBError

    found: list[Passage] = []
    for name in persona.knowledge_bases:
        try:
            hits = _search(name, query, _top_k())
        except KBError:
            continue  # a missing or removed knowledge base gives no passages, not a crash
        found.extend(
            Passage(
                text=h.text,
                source=h.path,
                title=h.title,
                location=h.location,
                score=h.score,
                knowledge_base=name,
            )
            for h in hits
            if _relevant(h)
        )
    found.sort(key=lambda p: -p.score)
    return found[: _top_k()]


SEARCH_TOOL = PluginTool(
    name="search",
    description=(
        "Search one of the person's knowledge bases (their own documents) and return the "
        "passages that match, numbered, with their sources."
    ),
    run=lambda arguments: search_tool(arguments),
    parameters={
        "type": "object",
        "properties": {
            "knowledge_base": {"type": "string", "description": "the knowledge base's name"},
            "query": {"type": "string", "description": "what to look for"},
        },
        "required": ["knowledge_base", "query"],
    },
    safe=True,  # it only reads the person's own index
)


@hookimpl
def register_tools(register: Callable[[PluginTool], None]) -> None:
    """`kb.search` for personas that name it in their tools."""
    register(SEARCH_TOOL)


def search_tool(arguments: dict[str, Any]) -> str:
    """The passages for a query, as text for the model; ValueError for what it got wrong."""
    from mmchat_kb.paths import KBError
    from mmchat_kb.store import KnowledgeBase

    name, query = str(arguments["knowledge_base"]), str(arguments["query"])
    if not query.strip():
        raise ValueError("the query is empty")
    try:
        hits = [h for h in _search(name, query, _top_k()) if _relevant(h)]
    except KBError as exc:
        known = ", ".join(KnowledgeBase.names()) or "none"
        raise ValueError(f"{exc} (knowledge bases: {known})") from None
    if not hits:
        return "No passage matches."
    blocks = []
    for number, hit in enumerate(hits, 1):
        where = f", {hit.location}" if hit.location else ""
        blocks.append(f"[{number}] {hit.title}{where} ({hit.path})\n{hit.text}")
    return "\n\n".join(blocks)

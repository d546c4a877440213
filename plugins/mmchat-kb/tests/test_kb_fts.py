"""Full-text ranking stays bounded: BM25 ranks at most MATCH_BUDGET matched rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmchat_kb import search as kb_search
from mmchat_kb.embed import get_embedder
from mmchat_kb.ingest import add_paths
from mmchat_kb.search import fts_query, text_ranks
from mmchat_kb.store import KnowledgeBase


@pytest.fixture
def kettles(tmp_path: Path) -> KnowledgeBase:
    """Ten notes that mention kettles; the last one, added last, mentions them most."""
    for n in range(10):
        mentions = "kettle " * (6 if n == 9 else 1)
        (tmp_path / f"note{n:02d}.md").write_text(f"# Note {n}\n\nA note on {mentions}care.\n")
    kb = KnowledgeBase.create("kettles", "all-MiniLM-L6-v2")
    add_paths(kb, get_embedder(kb.model), [tmp_path])
    return kb


def matched_ids(kb: KnowledgeBase, word: str) -> list[int]:
    rows = kb.conn.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid", (fts_query([word]),)
    ).fetchall()
    return [r[0] for r in rows]


def test_within_the_budget_bm25_ranks_every_match(kettles: KnowledgeBase) -> None:
    with kettles as kb:
        ranked = text_ranks(kb, "kettle")
        assert sorted(ranked) == matched_ids(kb, "kettle")
        best = kb.chunks([ranked[0]])[ranked[0]]
        assert best.text.count("kettle") == 6  # the note that says it most ranks first


def test_over_the_budget_only_the_first_matches_are_ranked(
    kettles: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb_search, "MATCH_BUDGET", 4)
    with kettles as kb:
        ranked = text_ranks(kb, "kettle")
        assert sorted(ranked) == matched_ids(kb, "kettle")[:4]

"""Hybrid search: vector nearest neighbours plus FTS5 BM25, fused by reciprocal rank.

Below ann.min_chunks() chunks vector search is exact: one float16 matrix-vector product over
every chunk (see store.vectors and bench/kb.py); it cannot miss a neighbour. From there on the
approximate index (ann.py: sign codes, then float16 rescoring) answers several times faster
than the exact product (bench/kb.py). The similarities a hit reports are always exact, from
the stored float32 vectors. The question is embedded and searched by meaning on a worker
thread while SQLite ranks its words on the caller's: both release the GIL for most of their
work, and at 1M chunks full-text ranking is about half of a search (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmchat_kb.embed import Embedder
from mmchat_kb.store import KnowledgeBase

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

RRF_K = 60  # the constant from Cormack et al.; dampens the weight of the very top ranks
CANDIDATES = 50
MATCH_BUDGET = 5000  # rows the FTS query may rank; see _rare_words
_WORD = re.compile(r"\w+", re.UNICODE)
_VECTOR_SIDE = ThreadPoolExecutor(1, thread_name_prefix="kb-query")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it of on or the to was what "
    "when where which who why with you your".split()
)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float
    text: str
    heading: str
    location: str
    path: str
    title: str
    similarity: float  # cosine between the query and the chunk, -1..1
    vector_rank: int | None  # 1-based, None when not among the vector candidates
    text_rank: int | None


def query_words(query: str) -> list[str]:
    lowered = query.lower()
    words = [w for w in _WORD.findall(lowered) if w not in _STOP] or _WORD.findall(lowered)
    return list(dict.fromkeys(words))


def fts_query(words: list[str]) -> str:
    """Words as quoted FTS5 terms joined by OR: no user text is parsed as FTS5 syntax."""
    return " OR ".join('"' + w.replace('"', "") + '"' for w in words)


def _rare_words(kb: KnowledgeBase, words: list[str]) -> list[str]:
    """The query's rarest words, as many as keep the matched rows under MATCH_BUDGET.

    Ranking every row that matches any word costs time in proportion to the rows: at 100k
    chunks a question with "return" or "string" matched 40k rows and took 100+ ms. Counting
    each word's rows (capped) is cheap, and the common words add little to BM25 anyway.
    """
    counted = []
    for word in words:
        (rows,) = kb.conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
            (fts_query([word]), MATCH_BUDGET + 1),
        ).fetchone()
        if rows:
            counted.append((rows, word))
    counted.sort()
    chosen: list[str] = []
    total = 0
    for rows, word in counted:
        if chosen and total + rows > MATCH_BUDGET:
            break
        chosen.append(word)
        total += rows
    return chosen


def text_ranks(kb: KnowledgeBase, query: str, limit: int = CANDIDATES) -> list[int]:
    words = _rare_words(kb, query_words(query))
    if not words:
        return []
    # BM25 ranks at most MATCH_BUDGET matches. _rare_words keeps the total under it unless even
    # the rarest word is more common; then the first MATCH_BUDGET matches (insertion order) are
    # ranked and the vector side carries the meaning. Ranking every match of a common word
    # at 1M chunks took several times a search's budget (docs/PERFORMANCE.md).
    rows = kb.conn.execute(
        "SELECT rowid FROM (SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)"
        " ORDER BY rank LIMIT ?",
        (fts_query(words), MATCH_BUDGET, limit),
    ).fetchall()
    return [r[0] for r in rows]


Ranked = tuple[list[int], dict[int, float]]  # ids best first, and the cosine of each by id


def vector_searcher(kb: KnowledgeBase) -> Callable[[np.ndarray, int], Ranked]:
    """Vector search over `kb` as it is now: the index or matrix is made ready here (SQLite
    work), and the search it returns touches no SQLite, so it may run on another thread."""
    index = kb.ann_index()
    if index is None:
        ids, matrix = kb.vectors()
        return lambda query_vector, limit: exact_nearest(ids, matrix, query_vector, limit)

    def approximate(query_vector: np.ndarray, limit: int) -> Ranked:
        best, values = index.search(query_vector, limit)
        return best, dict(zip(best, values, strict=True))

    return approximate


def vector_ranks(kb: KnowledgeBase, query_vector: np.ndarray, limit: int = CANDIDATES) -> Ranked:
    """The nearest chunk ids, best first, and the cosine of each of them (by id)."""
    return vector_searcher(kb)(query_vector, limit)


def exact_ranks(kb: KnowledgeBase, query_vector: np.ndarray, limit: int = CANDIDATES) -> Ranked:
    return exact_nearest(*kb.vectors(), query_vector, limit)


def exact_nearest(
    ids: np.ndarray, matrix: np.ndarray, query_vector: np.ndarray, limit: int
) -> Ranked:
    import numpy as np

    if len(ids) == 0:
        return [], {}
    scores = matrix @ np.asarray(query_vector, dtype=np.float32)
    top = min(limit, len(ids))
    rows = np.argpartition(-scores, top - 1)[:top]
    rows = rows[np.argsort(-scores[rows], kind="stable")]
    best = [int(ids[r]) for r in rows]
    return best, dict(zip(best, scores[rows].tolist(), strict=True))


def _similarities(kb: KnowledgeBase, query_vector: np.ndarray, ids: list[int]) -> dict[int, float]:
    """Exact cosines of a few chunks, from their stored float32 vectors."""
    return {c: float(v @ query_vector) for c, v in kb.chunk_vectors(ids).items()}


def fuse(*rankings: list[int]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, 1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return scores


def search(kb: KnowledgeBase, embedder: Embedder, query: str, k: int = 5) -> list[Hit]:
    kb.check_alive()
    nearest = vector_searcher(kb)

    def by_meaning() -> tuple[np.ndarray, Ranked]:
        query_vector = embedder.encode_query(query)
        return query_vector, nearest(query_vector, CANDIDATES)

    pending = _VECTOR_SIDE.submit(by_meaning)
    by_text = text_ranks(kb, query)  # SQLite, on this thread, while the other one embeds
    query_vector, (by_vector, similarity) = pending.result()
    scores = fuse(by_vector, by_text)
    best = sorted(scores, key=lambda c: -scores[c])[:k]
    similarity.update(_similarities(kb, query_vector, best))
    rows = kb.chunks(best)
    vrank = {c: i for i, c in enumerate(by_vector, 1)}
    trank = {c: i for i, c in enumerate(by_text, 1)}
    return [
        Hit(
            c,
            scores[c],
            rows[c].text,
            rows[c].heading,
            rows[c].location,
            rows[c].path,
            rows[c].title,
            similarity[c],
            vrank.get(c),
            trank.get(c),
        )  # fmt: skip
        for c in best
        if c in rows
    ]

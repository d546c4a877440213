"""Keeping a knowledge base's ANN index (ann.py) in step with its SQLite store.

The index file is trusted only after a spot check: 16 chunks picked at random must have the
same vector in the file as in SQLite (a file from another knowledge base, or damaged in a way
that still reads, fails it). A file behind SQLite is brought into step by chunk id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mmchat_kb import ann

if TYPE_CHECKING:
    import numpy as np


class KnowledgeBase(Protocol):
    """What this module reads of mmchat_kb.store.KnowledgeBase (which calls it, so it cannot
    import that module back)."""

    path: Path  # the SQLite file; the index files lie beside it
    conn: sqlite3.Connection

    def chunk_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...


def load_checked(kb: KnowledgeBase, dim: int) -> ann.AnnIndex | None:
    """The newest index file, if it reads and its vectors agree with SQLite's."""
    import numpy as np

    files = ann.index_files(kb.path.parent)
    index = ann.AnnIndex.load(files[0], dim) if files else None
    if index is None or len(index) == 0:
        return None
    lo, hi = kb.conn.execute("SELECT min(id), max(id) FROM chunks").fetchone()
    probes = np.random.default_rng().integers(lo, hi + 1, 16)
    for probe in probes.tolist():
        row = kb.conn.execute(
            "SELECT id, vector FROM chunks WHERE id >= ? ORDER BY id LIMIT 1", (probe,)
        ).fetchone()
        kept = None if row is None else index.vector(row[0])
        if kept is None:
            continue  # added after the file was saved: brought into step later
        stored = np.frombuffer(row[1], dtype="<f4")
        if float(kept.astype(np.float32) @ stored) < 0.99:
            return None  # not this knowledge base's vectors
    return index


def catch_up(kb: KnowledgeBase, index: ann.AnnIndex, generation: int) -> None:
    """Remove the ids SQLite no longer has, add the ones the index lacks (never reused)."""
    import numpy as np

    if index.generation != generation:
        rows = kb.conn.execute("SELECT id FROM chunks ORDER BY id").fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.uint64)
        keys = index.keys().copy()  # remove() moves rows under a view
        index.remove(np.setdiff1d(keys, ids, assume_unique=True))
        new = np.setdiff1d(ids, keys, assume_unique=True)
        if len(new):
            found = kb.chunk_vectors(new.tolist())
            index.add(new, np.stack([found[int(i)] for i in new]))
        index.generation = generation
        index.dirty = True


def save(kb: KnowledgeBase, index: ann.AnnIndex, force: bool = False) -> None:
    """Write the index unless a file of its generation or a later one is there already."""
    files = ann.index_files(kb.path.parent)
    if not force and files and ann.file_generation(files[0]) >= index.generation:
        index.dirty = False  # another process saved this generation or a later one
        return
    try:
        index.save(kb.path.parent)
    except OSError:
        pass  # a full or read-only disk: searches go on from memory, the next run catches up

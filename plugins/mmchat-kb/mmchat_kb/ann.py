"""Approximate nearest neighbours for large knowledge bases: a usearch HNSW index on disk.

SQLite stays the source of truth; the index is derived data in a file beside it, named after
the SQLite generation and chunk count it holds (`ann-g12-n1000000.usearch`), written to a
temporary name and renamed, so a name always describes its content. An index whose generation
is behind SQLite's (a crash between commit and save, another process's writes) is brought into
step by difference: chunk ids are never reused (store.KnowledgeBase allocates them), so ids
missing from the index are added and ids gone from SQLite removed. A file that cannot be read,
has the wrong shape or holds vectors unlike SQLite's is rebuilt from SQLite.

usearch over hnswlib: a maintained wheel (hnswlib 0.8.0 is source-only here and compiles), f16
storage, removal by key, save/load to a path; measured in bench/kb.py and the README.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from usearch.index import Index

MIN_CHUNKS = 50_000  # below this, exact float16 search is as fast; see bench/kb.py
CONNECTIVITY = 16  # HNSW M
EXPANSION_ADD = 64  # ef_construction: 128 built 3x slower for the same recall (bench/kb.py)
EXPANSION_SEARCH = 128  # query ef (1M synthetic: 64 -> 0.70, 128 -> 0.79 recall@10, +0.6 ms)
DTYPE = "f16"
REBUILD_REMOVED = 0.25  # rebuild once this share of the graph's nodes were removed
_NAME = re.compile(r"^ann-g(\d+)-n(\d+)\.usearch$")


def min_chunks() -> int:
    """The size from which a knowledge base searches by ANN (MMCHAT_KB_ANN_MIN_CHUNKS)."""
    try:
        return int(os.environ.get("MMCHAT_KB_ANN_MIN_CHUNKS", MIN_CHUNKS))
    except ValueError:
        return MIN_CHUNKS


def new_index(dim: int) -> Index:
    from usearch.index import Index  # imported where used: most knowledge bases are small

    return Index(
        ndim=dim,
        metric="cos",
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


@dataclass
class AnnIndex:
    index: Index
    generation: int  # the SQLite generation whose chunks it holds
    removed: int = 0  # nodes removed since the build (HNSW keeps their slots)
    dirty: bool = False  # changed since it was last saved

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, generation: int) -> AnnIndex:
        index = new_index(dim)
        if len(ids):
            index.add(ids, vectors, threads=os.cpu_count() or 1)
        return cls(index, generation, dirty=True)

    def __len__(self) -> int:
        return len(self.index)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add(ids, vectors, threads=1)
            self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.removed += int(self.index.remove(ids))
            self.dirty = True

    def worn(self) -> bool:
        return self.removed > REBUILD_REMOVED * max(1, len(self) + self.removed)

    def search(self, vector: np.ndarray, limit: int) -> tuple[list[int], list[float]]:
        """Nearest ids, best first, and their cosines (from the stored f16 vectors)."""
        found = self.index.search(vector, min(limit, len(self)), threads=1)
        return found.keys.tolist(), (1.0 - found.distances).tolist()

    def save(self, folder: Path) -> Path:
        """Write atomically under the name of its generation, then drop older files."""
        path = folder / f"ann-g{self.generation}-n{len(self)}.usearch"
        tmp = folder / f".ann-{os.getpid()}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))  # private
            self.index.save(str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        for old in index_files(folder):
            if old != path:
                old.unlink(missing_ok=True)
        self.dirty = False
        return path

    @classmethod
    def load(cls, path: Path, dim: int) -> AnnIndex | None:
        """The index in `path`, or None when it cannot be read or has the wrong shape."""
        from usearch.index import Index

        match = _NAME.match(path.name)
        if match is None:
            return None
        try:
            index = Index.restore(str(path))
        except Exception:  # usearch raises RuntimeError/ValueError on truncated or foreign files
            return None
        if index is None or index.ndim != dim or len(index) != int(match[2]):
            return None
        index.expansion_search = EXPANSION_SEARCH
        return cls(index, int(match[1]))


def index_files(folder: Path) -> list[Path]:
    """Index files in `folder`, newest generation first."""
    found = [(int(m[1]), p) for p in folder.glob("ann-g*.usearch") if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def file_generation(path: Path) -> int:
    match = _NAME.match(path.name)
    return int(match[1]) if match else -1


def remove_files(folder: Path) -> None:
    for path in index_files(folder):
        path.unlink(missing_ok=True)

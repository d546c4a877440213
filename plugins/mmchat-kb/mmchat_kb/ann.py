"""Approximate nearest neighbours for large knowledge bases: sign codes scanned, then rescored.

Every vector keeps, beside its float16 values, a code of one bit per dimension: the sign of
its difference from the mean vector (48 bytes for 384 dimensions). A query counts the bits in
which each code differs from its own (Hamming distance, numpy's popcount over 64-bit words,
in cache-sized blocks on every core), keeps the `shortlist` closest rows and ranks those by
their float16 cosine. This is binary quantization with rescoring; it reads 1/8 of the bytes
exact float16 search reads and needs no graph, so building is a pass over the vectors.

It replaced usearch's HNSW graph, which recalled far fewer true neighbours at 1M vectors and
took minutes to build where this takes seconds (bench/kb.py; docs/PERFORMANCE.md). Written
with numpy rather than faiss's IndexBinaryFlat: faiss scanned the codes no faster, and the
rescoring and bookkeeping are numpy anyway.

SQLite stays the source of truth; the index is derived data in a file beside it, named after
the SQLite generation and chunk count it holds (`ann-g12-n1000000.npz`), written to a temporary
name and renamed, so a name always describes its content. An index whose generation is behind
SQLite's (a crash between commit and save, another process's writes) is brought into step by
difference: chunk ids are never reused (store.KnowledgeBase allocates them), so ids missing
from the index are added and ids gone from SQLite removed. A file that cannot be read, has the
wrong shape or holds vectors unlike SQLite's is rebuilt from SQLite.
"""

from __future__ import annotations

import os
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

T = TypeVar("T")

MIN_CHUNKS = 50_000  # below this, exact float16 search is as fast; see bench/kb.py
SHORTLIST_MIN = 4000  # rows rescored per query at least (all of them in a smaller index)
SHORTLIST_SHARE = 50  # and at least 1/50 of the rows: 1M -> 20k, recall@10 0.97-0.99 (bench)
BLOCK = 32_768  # rows per scan step: the step's temporaries stay in cache
ROWS_PER_THREAD = 250_000  # smaller scans stay on the calling thread
# Up to this many rows a shortlist is rescored by numpy (~3 ms for 4,000 rows here); torch is
# faster on more (1M chunks' 20k: ~10 ms against ~17) but costs its import, ~0.9 s, which a
# one-shot `mmchat kb search` of a 100k-chunk base (a 4,000-row shortlist) would pay.
NUMPY_ROWS = 5000
_NAME = re.compile(r"^ann-g(\d+)-n(\d+)\.(npz|usearch)$")  # .usearch: an older kind, replaced
_POOL: ThreadPoolExecutor | None = None


def min_chunks() -> int:
    """The size from which a knowledge base searches by ANN (MMCHAT_KB_ANN_MIN_CHUNKS)."""
    try:
        return int(os.environ.get("MMCHAT_KB_ANN_MIN_CHUNKS", MIN_CHUNKS))
    except ValueError:
        return MIN_CHUNKS


def shortlist(rows: int) -> int:
    return max(SHORTLIST_MIN, rows // SHORTLIST_SHARE)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix="kb-scan")
    return _POOL


def sign_codes(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """One bit per dimension, packed into 64-bit words: shape (words, rows), word-major so a
    scan reads each word of every row as one contiguous run."""
    import numpy as np

    words = -(-vectors.shape[1] // 64)
    codes = np.empty((words, len(vectors)), dtype=np.uint64)
    for start in range(0, len(vectors), BLOCK):
        part = vectors[start : start + BLOCK].astype(np.float32) > mean
        packed = np.packbits(part, axis=1)
        padded = np.zeros((len(packed), words * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        codes[:, start : start + len(part)] = padded.view(np.uint64).T
    return codes


@dataclass
class AnnIndex:
    mean: np.ndarray  # float32 (dim,): the centre the sign codes are taken around
    ids: np.ndarray  # uint64 (capacity,); rows [0, size) are live
    vectors: np.ndarray  # float16 (capacity, dim), unit length
    codes: np.ndarray  # uint64 (words, capacity)
    size: int
    generation: int  # the SQLite generation whose chunks it holds
    dirty: bool = False  # changed since it was last saved

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, generation: int) -> AnnIndex:
        import numpy as np

        mean = vectors.mean(0).astype(np.float32) if len(vectors) else np.zeros(dim, np.float32)
        index = cls._of(mean, ids.astype(np.uint64), vectors.astype(np.float16), generation)
        index.dirty = True
        return index

    @classmethod
    def _of(
        cls, mean: np.ndarray, ids: np.ndarray, vectors: np.ndarray, generation: int
    ) -> AnnIndex:
        return cls(mean, ids, vectors, sign_codes(vectors, mean), len(ids), generation)

    def __len__(self) -> int:
        return self.size

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def keys(self) -> np.ndarray:
        return self.ids[: self.size]

    def vector(self, chunk_id: int) -> np.ndarray | None:
        """The stored (float16) vector of one chunk, or None when the index lacks it. A scan
        of the ids: only spot checks and tests ask."""
        import numpy as np

        rows = np.flatnonzero(self.keys() == chunk_id)
        return self.vectors[rows[0]] if len(rows) else None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        import numpy as np

        if not len(ids):
            return
        end = self.size + len(ids)
        if end > len(self.ids):  # grow by doubling: adding a file is not a copy of everything
            capacity = max(end, 2 * len(self.ids), 1024)
            self.ids = np.resize(self.ids, capacity)
            self.vectors = np.resize(self.vectors, (capacity, self.dim))
            codes = np.zeros((len(self.codes), capacity), dtype=np.uint64)
            codes[:, : self.size] = self.codes[:, : self.size]
            self.codes = codes
        self.ids[self.size : end] = ids
        self.vectors[self.size : end] = vectors
        self.codes[:, self.size : end] = sign_codes(self.vectors[self.size : end], self.mean)
        self.size, self.dirty = end, True

    def remove(self, ids: np.ndarray) -> int:
        """Drop these ids (unknown ones are ignored); the last rows move into the holes."""
        import numpy as np

        if not len(ids):
            return 0
        rows = np.flatnonzero(np.isin(self.keys(), ids))
        if not len(rows):
            return 0
        last = self.size - len(rows)
        holes = rows[rows < last]
        movers = np.setdiff1d(np.arange(last, self.size), rows, assume_unique=True)
        self.ids[holes] = self.ids[movers]
        self.vectors[holes] = self.vectors[movers]
        self.codes[:, holes] = self.codes[:, movers]
        self.size, self.dirty = last, True
        return len(rows)

    def search(
        self, vector: np.ndarray, limit: int, wanted: int | None = None
    ) -> tuple[list[int], list[float]]:
        """Nearest ids, best first, and their cosines (from the stored float16 vectors),
        rescoring a shortlist of `wanted` rows (default: shortlist(len(self)))."""
        import numpy as np

        from mmchat_kb.threads import one_thread

        if self.size == 0:
            return [], []
        query = np.asarray(vector, dtype=np.float32)
        wanted = max(limit, wanted or shortlist(self.size))
        by_torch = min(wanted, self.size) > NUMPY_ROWS
        if by_torch:
            import torch  # noqa: F401  _best rescores with it; imported before one_thread sets it
        spans = self._spans()
        with one_thread():  # each span's torch work on its own core, not two cores each
            if wanted >= self.size:
                best = self._best(np.arange(self.size), query, limit, by_torch)
            else:
                code = sign_codes(query[None, :], self.mean)[:, 0]
                distances, counts = self._scan(code, spans)
                bound = int(np.searchsorted(np.cumsum(counts), wanted))

                def best_in(start: int, stop: int) -> np.ndarray:
                    rows = start + np.flatnonzero(distances[start:stop] <= bound)
                    return self._best(rows, query, limit, by_torch)

                best = np.concatenate(self._each(best_in, spans))
        scores = self.vectors[best].astype(np.float32) @ query  # float32 sums for the few
        order = np.argsort(-scores, kind="stable")[:limit]
        return self.ids[best[order]].tolist(), scores[order].tolist()

    def _best(self, rows: np.ndarray, query: np.ndarray, limit: int, by_torch: bool) -> np.ndarray:
        """The `limit` rows of `rows` with the best cosines. For a shortlist past NUMPY_ROWS
        rows torch rather than numpy: numpy gathers and widens float16 rows several times
        slower (docs/PERFORMANCE.md), so a knowledge base whose shortlist is that long imports
        torch (not sentence-transformers) on its first search."""
        import numpy as np

        if len(rows) <= limit:
            return rows
        if not by_torch:
            scores = self.vectors[rows].astype(np.float32) @ query
            return rows[np.argpartition(-scores, limit - 1)[:limit]]
        import torch

        matrix = torch.from_numpy(self.vectors).index_select(0, torch.from_numpy(rows))
        scores = matrix @ torch.from_numpy(query).to(torch.float16)
        return rows[torch.topk(scores.float(), limit).indices.numpy()]

    def hamming(self, code: np.ndarray) -> np.ndarray:
        """The number of bits in which each live row's code differs from `code`."""
        return self._scan(code, self._spans())[0]

    def _spans(self) -> list[tuple[int, int]]:
        """Row ranges searched in parallel: one per core, from ROWS_PER_THREAD rows on."""
        import numpy as np

        parts = min(os.cpu_count() or 1, 1 + self.size // ROWS_PER_THREAD)
        edges = np.linspace(0, self.size, parts + 1, dtype=np.int64).tolist()
        return list(zip(edges[:-1], edges[1:], strict=True))

    @staticmethod
    def _each(work: Callable[[int, int], T], spans: list[tuple[int, int]]) -> list[T]:
        if len(spans) == 1:
            return [work(*spans[0])]
        # numpy and torch drop the GIL inside each operation: the spans run on every core
        return list(_pool().map(lambda span: work(*span), spans))

    def _scan(
        self, code: np.ndarray, spans: list[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(Hamming distance of every live row, how many rows have each distance)."""
        import numpy as np

        distances = np.empty(self.size, dtype=np.uint16)

        def span(start: int, stop: int) -> np.ndarray:
            self._hamming(code, distances, start, stop)
            return np.bincount(distances[start:stop], minlength=len(code) * 64 + 1)

        return distances, np.sum(self._each(span, spans), axis=0)

    def _hamming(self, code: np.ndarray, out: np.ndarray, start: int, stop: int) -> None:
        import numpy as np

        xor = np.empty(BLOCK, dtype=np.uint64)
        bits = np.empty(BLOCK, dtype=np.uint8)
        for lo in range(start, stop, BLOCK):
            hi = min(lo + BLOCK, stop)
            x, b, total = xor[: hi - lo], bits[: hi - lo], out[lo:hi]
            for word in range(len(code)):
                np.bitwise_xor(self.codes[word, lo:hi], code[word], out=x)
                np.bitwise_count(x, out=b, casting="unsafe")
                if word == 0:
                    np.copyto(total, b)
                else:
                    np.add(total, b, out=total)

    def save(self, folder: Path) -> Path:
        """Write atomically under the name of its generation, then drop older files."""
        import numpy as np

        path = folder / f"ann-g{self.generation}-n{len(self)}.npz"
        tmp = folder / f".ann-{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # private
            with open(fd, "wb") as out:
                np.savez(out, mean=self.mean, ids=self.keys(), vectors=self.vectors[: self.size])
                out.flush()
                os.fsync(out.fileno())
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
        import numpy as np

        match = _NAME.match(path.name)
        if match is None or match[3] != "npz":
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                mean, ids, vectors = saved["mean"], saved["ids"], saved["vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # missing, truncated, not an npz, or without our arrays
        if (
            mean.shape != (dim,)
            or vectors.shape != (int(match[2]), dim)
            or ids.shape != (len(vectors),)
            or vectors.dtype != np.float16
            or ids.dtype != np.uint64
        ):
            return None
        return cls._of(mean.astype(np.float32), ids, vectors, int(match[1]))


def index_files(folder: Path) -> list[Path]:
    """Index files in `folder`, newest generation first."""
    found = [(int(m[1]), p) for p in folder.glob("ann-g*") if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def file_generation(path: Path) -> int:
    match = _NAME.match(path.name)
    return int(match[1]) if match else -1


def remove_files(folder: Path) -> None:
    for path in index_files(folder):
        path.unlink(missing_ok=True)

"""One knowledge base: a SQLite file with documents, chunks, vectors and an FTS5 index.

Every write is one `BEGIN IMMEDIATE` transaction per file, so a crash, a kill or a bad file
never leaves half a document in the index. A knowledge base removed while in use is noticed
(its file is gone or replaced) before anything is committed to the unlinked file.

From ann.min_chunks() chunks on, vector search uses an approximate index (ann.py) derived from
SQLite: updated in memory after each commit, saved by sync_ann() and close(), and brought into
step (or rebuilt) from SQLite whenever its generation is behind. Chunk ids are never reused
(meta.last_chunk_id), so the index can be brought into step by id alone.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat.hooks import ensure_private_dir
from mmchat_kb import ann, annsync, schema
from mmchat_kb.chunking import Chunk
from mmchat_kb.paths import KBError, db_path, kb_dir, kb_root, valid_text

if TYPE_CHECKING:
    import numpy as np

BUSY_TIMEOUT_S = 10


class KBNotFound(KBError):
    pass


class KBGone(KBError):
    """The knowledge base was removed (by another command) while this one used it."""


@dataclass(frozen=True)
class Document:
    id: int
    path: str
    sha256: str
    size: int
    title: str
    added_at: float
    chunks: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    text: str
    heading: str
    location: str
    path: str
    title: str


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread off: the TUI retrieves from worker threads; callers serialise use.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class KnowledgeBase:
    def __init__(self, name: str, conn: sqlite3.Connection, path: Path) -> None:
        self.name = name
        self.path = path
        self.conn = conn
        self._inode = path.stat().st_ino
        self._vectors: tuple[int, np.ndarray, np.ndarray] | None = None  # generation, ids, M
        self.ann_min_chunks = ann.min_chunks()
        self._ann: ann.AnnIndex | None = None
        self._exact_at: int | None = None  # generation last found too small for the ANN index

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, model: str) -> KnowledgeBase:
        folder = kb_dir(name)
        if (folder / "index.sqlite").exists():
            raise KBError(f"knowledge base '{name}' already exists")
        ensure_private_dir(kb_root())
        ensure_private_dir(folder)
        path = db_path(name)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # -wal/-shm copy this mode
        conn = _connect(path)
        try:
            schema.create(conn, model)
        except BaseException:
            conn.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(name, conn, path)

    @classmethod
    def open(cls, name: str) -> KnowledgeBase:
        path = db_path(name)
        if not path.is_file():
            raise KBNotFound(f"no knowledge base '{name}'; create it with: mmchat kb create {name}")
        try:
            conn = _connect(path)
            conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise KBError(f"knowledge base '{name}' cannot be read ({exc}): {path}") from None
        return cls(name, conn, path)

    @staticmethod
    def names() -> list[str]:
        root = kb_root()
        if not root.is_dir():
            return []
        return sorted(p.parent.name for p in root.glob("*/index.sqlite"))

    def close(self) -> None:
        if self._ann is not None and self._ann.dirty and self.alive():
            annsync.save(self, self._ann)
        self._ann = None
        self.conn.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def alive(self) -> bool:
        try:
            return self.path.stat().st_ino == self._inode
        except FileNotFoundError:
            return False

    def check_alive(self) -> None:
        if not self.alive():
            raise KBGone(f"knowledge base '{self.name}' was removed while in use")

    def delete(self) -> None:
        """Remove the whole knowledge base; waits for a writer's current file to finish."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._ann = None
            shutil.rmtree(self.path.parent)
        finally:
            self.conn.execute("ROLLBACK")
            self.close()

    # -- reading -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @property
    def model(self) -> str:
        return self.meta("model") or ""

    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def documents(self) -> list[Document]:
        rows = self.conn.execute(
            "SELECT d.id, d.path, d.sha256, d.size, d.title, d.added_at,"
            " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)"
            " FROM documents d ORDER BY d.path"
        ).fetchall()
        return [Document(*row) for row in rows]

    def document_hash(self, path: str) -> str | None:
        row = self.conn.execute("SELECT sha256 FROM documents WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def counts(self) -> tuple[int, int]:
        docs = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return docs, chunks

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.iterdir() if p.is_file())

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT c.id, c.text, c.heading, c.location, d.path, d.title"
            f" FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            list(ids),
        ).fetchall()
        return {row[0]: ChunkRow(*row) for row in rows}

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, unit vectors as float32 rows), loaded once per change of the index.

        numpy rather than torch's float16 (which reads half the bytes): below the ANN
        threshold numpy's float32 product takes about as long (bench/kb.py), and a search
        then never imports torch, which takes seconds in a fresh process.
        """
        generation = self.generation()
        if self._vectors is None or self._vectors[0] != generation:
            ids, matrix = self.all_vectors()
            self._vectors = (generation, ids, matrix)
        return self._vectors[1], self._vectors[2]

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(every chunk id in order, their stored float32 vectors as rows)."""
        import numpy as np

        rows = self.conn.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        dim = int(self.meta("dim") or 0) or 1
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4")
        return ids, matrix.reshape(len(rows), dim)

    def chunk_vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored float32 vectors of some chunks, by id."""
        import numpy as np

        found: dict[int, np.ndarray] = {}
        for start in range(0, len(ids), 500):
            part = [int(i) for i in ids[start : start + 500]]
            rows = self.conn.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update((r[0], np.frombuffer(r[1], dtype="<f4")) for r in rows)
        return found

    # -- approximate index -------------------------------------------------------------------

    def ann_index(self) -> ann.AnnIndex | None:
        """The ANN index in step with SQLite, or None while exact search is the better one."""
        generation = self.generation()
        if self._ann is not None and self._ann.generation == generation:
            return self._ann
        if self._exact_at == generation:
            return None
        return self._sync_ann()

    def sync_ann(self) -> None:
        """Bring the ANN index into step (building it past the threshold) and save it."""
        index = self.ann_index()
        if index is not None and index.dirty:
            annsync.save(self, index)

    def _sync_ann(self) -> ann.AnnIndex | None:
        self.conn.execute("BEGIN")  # one snapshot: generation, count, ids and vectors agree
        try:
            generation = self.generation()
            chunks = self.counts()[1]
            if chunks < self.ann_min_chunks:
                self._ann, self._exact_at = None, generation
                ann.remove_files(self.path.parent)
                return None
            dim = int(self.meta("dim") or 0)
            index = self._ann or annsync.load_checked(self, dim)
            if index is None:
                ids, vectors = self.all_vectors()
                index = ann.AnnIndex.build(dim, ids, vectors, generation)
                rebuilt = True
            else:
                annsync.catch_up(self, index, generation)
                rebuilt = False
        finally:
            self.conn.execute("COMMIT")
        self._ann, self._vectors = index, None  # the float16 matrix is not needed any more
        if rebuilt:
            annsync.save(self, index, force=True)  # reading it back beats rebuilding from SQLite
        return index

    def _after_commit(
        self, before: int, gone: Sequence[int], new: Sequence[int], vectors: np.ndarray | None
    ) -> None:
        """Apply a committed change to the in-memory ANN index, if it was in step before it."""
        import numpy as np

        index = self._ann
        if index is None or index.generation != before:
            return  # not loaded, or behind: the next ann_index() brings it into step
        index.remove(np.array(gone, dtype=np.uint64))
        if vectors is not None and len(new):
            index.add(np.array(new, dtype=np.uint64), vectors.astype(np.float32))
        index.generation = before + 1

    # -- writing -----------------------------------------------------------------------------

    def write_document(
        self,
        path: str,
        sha256: str,
        size: int,
        title: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
    ) -> None:
        """Replace one document and all its chunks, or change nothing."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.check_alive()
            self._check_dim(vectors.shape[1])
            before = self.generation()
            gone = self._delete_path(path)
            cur = self.conn.execute(
                "INSERT INTO documents(path, sha256, size, title, added_at) VALUES (?,?,?,?,?)",
                (path, sha256, size, valid_text(title), time.time()),
            )
            doc_id = cur.lastrowid
            first = self._next_chunk_id()
            new = list(range(first, first + len(chunks)))
            self.conn.executemany(
                "INSERT INTO chunks(id, document_id, ord, heading, location, text, vector)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        first + i,
                        doc_id,
                        i,
                        valid_text(c.heading),
                        valid_text(c.location),
                        valid_text(c.text),
                        vectors[i].astype("<f4").tobytes(),
                    )  # fmt: skip
                    for i, c in enumerate(chunks)
                ],
            )
            self._set_meta("last_chunk_id", str(first + len(chunks) - 1))
            self._bump()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._after_commit(before, gone, new, vectors)

    def remove_paths(self, prefix: str) -> int:
        """Remove the document at `prefix`, or every document under that folder."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.check_alive()
            folder = prefix.rstrip(os.sep) + os.sep
            paths = [
                r[0]
                for r in self.conn.execute(
                    "SELECT path FROM documents WHERE path = ? OR substr(path, 1, ?) = ?",
                    (prefix, len(folder), folder),
                )
            ]
            before = self.generation()
            gone = [i for path in paths for i in self._delete_path(path)]
            if paths:
                self._bump()
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        if paths:
            self._after_commit(before, gone, [], None)
        return len(paths)

    def _check_dim(self, dim: int) -> None:
        stored = self.meta("dim")
        if stored is None:
            self.conn.execute("INSERT INTO meta(key, value) VALUES ('dim', ?)", (str(dim),))
        elif int(stored) != dim:
            raise KBError(f"vectors have {dim} values but this knowledge base uses {stored}")

    def _delete_path(self, path: str) -> list[int]:
        """Delete one document; the ids of its chunks."""
        # Chunks first and explicitly, so the FTS delete trigger sees every row.
        gone = self.conn.execute(
            "DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE path = ?)"
            " RETURNING id",
            (path,),
        ).fetchall()
        self.conn.execute("DELETE FROM documents WHERE path = ?", (path,))
        return [r[0] for r in gone]

    def _next_chunk_id(self) -> int:
        """Ids only grow, even after the newest chunks were deleted: the ANN index relies on it."""
        (highest,) = self.conn.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()
        return max(highest, int(self.meta("last_chunk_id") or 0)) + 1

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _bump(self) -> None:
        self.conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )
